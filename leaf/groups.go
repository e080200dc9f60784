package leaf

import (
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
	"github.com/knot-dev/knot/storage"
)

// GroupService is a leaf's shared.GroupService (see services.go).
type GroupService struct{ opts ServiceOptions }

var _ shared.GroupService = (*GroupService)(nil)

// NewGroupService returns the group service of a leaf.
func NewGroupService(opts ServiceOptions) *GroupService { return &GroupService{opts: opts} }

// List implements shared.GroupService from the replica.
func (s *GroupService) List(ctx context.Context, o shared.ListOptions) (shared.Page[*shared.Group], error) {
	if _, err := shared.ActorRequired(ctx); err != nil {
		return shared.Page[*shared.Group]{}, err
	}
	return shared.SelectList(storage.List[shared.Group](ctx, s.opts.Store))(o, shared.SelectGroups)
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
	req := api.GroupRequest{Name: &g.Name, MaxSpaces: &g.MaxSpaces, ComputeUnits: &g.ComputeUnits,
		StorageUnits: &g.StorageUnits, MaxTunnels: &g.MaxTunnels}
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.Group, error) {
		id, err := c.Groups().Create(ctx, req)
		if err != nil {
			return nil, err
		}
		return c.Groups().Get(ctx, id)
	})
	if err != nil {
		return err
	}
	*g = *groupOf(got)
	return nil
}

// Update implements shared.GroupService at the origin.
func (s *GroupService) Update(ctx context.Context, id string, upd shared.GroupUpdate) (*shared.Group, error) {
	req := api.GroupRequest{Name: upd.Name, MaxSpaces: upd.MaxSpaces, ComputeUnits: upd.ComputeUnits,
		StorageUnits: upd.StorageUnits, MaxTunnels: upd.MaxTunnels}
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.Group, error) {
		if err := c.Groups().Update(ctx, id, req); err != nil {
			return nil, err
		}
		return c.Groups().Get(ctx, id)
	})
	if err != nil {
		return nil, err
	}
	return groupOf(got), nil
}

// Delete implements shared.GroupService at the origin.
func (s *GroupService) Delete(ctx context.Context, id string) (*shared.Group, error) {
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.Group, error) {
		g, err := c.Groups().Get(ctx, id)
		if err != nil {
			return nil, err
		}
		return g, c.Groups().Delete(ctx, id)
	})
	if err != nil {
		return nil, err
	}
	return groupOf(got), nil
}

func groupOf(g *api.Group) *shared.Group {
	return &shared.Group{Meta: shared.Meta{ID: g.ID, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}, Name: g.Name,
		MaxSpaces: g.MaxSpaces, ComputeUnits: g.ComputeUnits, StorageUnits: g.StorageUnits, MaxTunnels: g.MaxTunnels}
}
