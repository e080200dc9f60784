package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/knot-dev/knot/shared/api"
)

// Users calls /api/users.
type Users struct{ c *Client }

// Users returns the calls on users.
func (c *Client) Users() *Users { return &Users{c} }

// WhoAmI returns the caller, with its permissions (GET /api/users/whoami).
func (u *Users) WhoAmI(ctx context.Context) (*api.User, error) {
	var out api.User
	return &out, u.c.Do(ctx, http.MethodGet, "/api/users/whoami", nil, &out)
}

// List lists the users in state "all", "active" or "inactive" ("": all)
// (GET /api/users).
func (u *Users) List(ctx context.Context, state string) ([]api.UserListItem, error) {
	path := "/api/users"
	if state != "" {
		path += "?" + url.Values{"state": {state}}.Encode()
	}
	var out api.UserList
	if err := u.c.Do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return out.Users, nil
}

// Get returns one user (GET /api/users/{user_id}).
func (u *Users) Get(ctx context.Context, id string) (*api.User, error) {
	var out api.User
	return &out, u.c.Do(ctx, http.MethodGet, "/api/users/"+esc(id), nil, &out)
}

// Create creates a user and returns its id (POST /api/users). While no
// user exists, it needs no token and creates the admin.
func (u *Users) Create(ctx context.Context, req api.UserCreateRequest) (string, error) {
	var out api.UserCreated
	err := u.c.Do(ctx, http.MethodPost, "/api/users", req, &out)
	return out.UserID, err
}

// Update changes the fields of req that are not nil (PUT
// /api/users/{user_id}).
func (u *Users) Update(ctx context.Context, id string, req api.UserUpdateRequest) error {
	return u.c.Do(ctx, http.MethodPut, "/api/users/"+esc(id), req, nil)
}

// Delete deletes a user with its tokens, sessions and spaces (DELETE
// /api/users/{user_id}).
func (u *Users) Delete(ctx context.Context, id string) error {
	return u.c.Do(ctx, http.MethodDelete, "/api/users/"+esc(id), nil, nil)
}

// Quota returns a user's limits and use (GET /api/users/{user_id}/quota).
func (u *Users) Quota(ctx context.Context, id string) (*api.Quota, error) {
	var out api.Quota
	return &out, u.c.Do(ctx, http.MethodGet, "/api/users/"+esc(id)+"/quota", nil, &out)
}
