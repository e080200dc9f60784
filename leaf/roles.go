package leaf

import (
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
	"github.com/knot-dev/knot/storage"
)

// RoleService is a leaf's shared.RoleService (see services.go).
type RoleService struct{ opts ServiceOptions }

var _ shared.RoleService = (*RoleService)(nil)

// NewRoleService returns the role service of a leaf.
func NewRoleService(opts ServiceOptions) *RoleService { return &RoleService{opts: opts} }

// List implements shared.RoleService from the replica.
func (s *RoleService) List(ctx context.Context, o shared.ListOptions) (shared.Page[*shared.Role], error) {
	if _, err := shared.ActorRequired(ctx); err != nil {
		return shared.Page[*shared.Role]{}, err
	}
	stored, err := storage.List[shared.Role](ctx, s.opts.Store)
	return shared.SelectList(append(shared.BuiltinRoles(), stored...), err)(o, shared.SelectRoles)
}

// Get implements shared.RoleService from the replica.
func (s *RoleService) Get(ctx context.Context, id string) (*shared.Role, error) {
	if err := needs(ctx, shared.PermManageRoles); err != nil {
		return nil, err
	}
	for _, b := range shared.BuiltinRoles() {
		if b.ID == id {
			return b, nil
		}
	}
	return get[shared.Role](ctx, s.opts.Store, id)
}

// Create implements shared.RoleService at the origin.
func (s *RoleService) Create(ctx context.Context, r *shared.Role) error {
	req := api.RoleRequest{Name: &r.Name, Permissions: &r.Permissions}
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.Role, error) {
		id, err := c.Roles().Create(ctx, req)
		if err != nil {
			return nil, err
		}
		return c.Roles().Get(ctx, id)
	})
	if err != nil {
		return err
	}
	*r = *roleOf(got)
	return nil
}

// Update implements shared.RoleService at the origin.
func (s *RoleService) Update(ctx context.Context, id string, upd shared.RoleUpdate) (*shared.Role, error) {
	req := api.RoleRequest{Name: upd.Name, Permissions: upd.Permissions}
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.Role, error) {
		if err := c.Roles().Update(ctx, id, req); err != nil {
			return nil, err
		}
		return c.Roles().Get(ctx, id)
	})
	if err != nil {
		return nil, err
	}
	return roleOf(got), nil
}

// Delete implements shared.RoleService at the origin.
func (s *RoleService) Delete(ctx context.Context, id string) (*shared.Role, error) {
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.Role, error) {
		r, err := c.Roles().Get(ctx, id)
		if err != nil {
			return nil, err
		}
		return r, c.Roles().Delete(ctx, id)
	})
	if err != nil {
		return nil, err
	}
	return roleOf(got), nil
}

// Permissions implements shared.RoleService.
func (s *RoleService) Permissions(ctx context.Context) ([]shared.Permission, error) {
	if _, err := shared.ActorRequired(ctx); err != nil {
		return nil, err
	}
	return shared.AllPermissions(), nil
}

func roleOf(r *api.Role) *shared.Role {
	return &shared.Role{Meta: shared.Meta{ID: r.ID, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, Name: r.Name,
		Permissions: r.Permissions}
}
