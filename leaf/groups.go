package leaf

import (
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/storage"
)

// GroupService is a leaf's shared.GroupService (see services.go).
type GroupService struct{ opts ServiceOptions }

var _ shared.GroupService = (*GroupService)(nil)

// NewGroupService returns the group service of a leaf.
func NewGroupService(opts ServiceOptions) *GroupService { return &GroupService{opts: opts} }

// List implements shared.GroupService from the replica.
func (s *GroupService) List(ctx context.Context) ([]*shared.Group, error) {
	if _, err := shared.ActorRequired(ctx); err != nil {
		return nil, err
	}
	return storage.List[shared.Group](ctx, s.opts.Store)
}

// Get implements shared.GroupService from the replica.
func (s *GroupService) Get(ctx context.Context, id string) (*shared.Group, error) {
	if err := needs(ctx, shared.PermManageGroups); err != nil {
		return nil, err
	}
	return get[shared.Group](ctx, s.opts.Store, id)
}

// Create implements shared.GroupService at the origin.
func (s *GroupService) Create(ctx context.Context, g *shared.Group) error {
	c, err := s.opts.origin(ctx)
	if err != nil {
		return err
	}
	id, err := c.Groups().Create(ctx, api.GroupRequest{Name: &g.Name, MaxSpaces: &g.MaxSpaces,
		ComputeUnits: &g.ComputeUnits, StorageUnits: &g.StorageUnits, MaxTunnels: &g.MaxTunnels})
	if err != nil {
		return err
	}
	got, err := c.Groups().Get(ctx, id)
	if err != nil {
		return err
	}
	*g = *groupOf(got)
	return nil
}

// Update implements shared.GroupService at the origin.
func (s *GroupService) Update(ctx context.Context, id string, upd shared.GroupUpdate) (*shared.Group, error) {
	c, err := s.opts.origin(ctx)
	if err != nil {
		return nil, err
	}
	req := api.GroupRequest{Name: upd.Name, MaxSpaces: upd.MaxSpaces, ComputeUnits: upd.ComputeUnits,
		StorageUnits: upd.StorageUnits, MaxTunnels: upd.MaxTunnels}
	if err := c.Groups().Update(ctx, id, req); err != nil {
		return nil, err
	}
	got, err := c.Groups().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return groupOf(got), nil
}

// Delete implements shared.GroupService at the origin.
func (s *GroupService) Delete(ctx context.Context, id string) (*shared.Group, error) {
	c, err := s.opts.origin(ctx)
	if err != nil {
		return nil, err
	}
	got, err := c.Groups().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := c.Groups().Delete(ctx, id); err != nil {
		return nil, err
	}
	return groupOf(got), nil
}

func groupOf(g *api.Group) *shared.Group {
	return &shared.Group{Meta: shared.Meta{ID: g.ID, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}, Name: g.Name,
		MaxSpaces: g.MaxSpaces, ComputeUnits: g.ComputeUnits, StorageUnits: g.StorageUnits, MaxTunnels: g.MaxTunnels}
}
