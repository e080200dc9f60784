package client

import (
	"context"
	"net/http"

	"github.com/knot-dev/knot/shared/api"
)

// Roles calls /api/roles and /api/permissions.
type Roles struct{ c *Client }

// Roles returns the calls on roles.
func (c *Client) Roles() *Roles { return &Roles{c} }

// List lists every role (GET /api/roles).
func (r *Roles) List(ctx context.Context) ([]api.Role, error) {
	var out api.RoleList
	if err := r.c.Do(ctx, http.MethodGet, "/api/roles", nil, &out); err != nil {
		return nil, err
	}
	return out.Roles, nil
}

// Get returns one role (GET /api/roles/{role_id}).
func (r *Roles) Get(ctx context.Context, id string) (*api.Role, error) {
	var out api.Role
	return &out, r.c.Do(ctx, http.MethodGet, "/api/roles/"+esc(id), nil, &out)
}

// Create creates a role and returns its id (POST /api/roles).
func (r *Roles) Create(ctx context.Context, req api.RoleRequest) (string, error) {
	var out api.RoleCreated
	err := r.c.Do(ctx, http.MethodPost, "/api/roles", req, &out)
	return out.RoleID, err
}

// Update changes the fields of req that are not nil (PUT
// /api/roles/{role_id}).
func (r *Roles) Update(ctx context.Context, id string, req api.RoleRequest) error {
	return r.c.Do(ctx, http.MethodPut, "/api/roles/"+esc(id), req, nil)
}

// Delete deletes a role (DELETE /api/roles/{role_id}).
func (r *Roles) Delete(ctx context.Context, id string) error {
	return r.c.Do(ctx, http.MethodDelete, "/api/roles/"+esc(id), nil, nil)
}

// Permissions lists the permissions a role can hold (GET /api/permissions).
func (r *Roles) Permissions(ctx context.Context) ([]api.Permission, error) {
	var out api.PermissionList
	if err := r.c.Do(ctx, http.MethodGet, "/api/permissions", nil, &out); err != nil {
		return nil, err
	}
	return out.Permissions, nil
}
