package client

import (
	"context"
	"net/http"

	"github.com/knot-dev/knot/shared/api"
)

// Groups calls /api/groups.
type Groups struct{ c *Client }

// Groups returns the calls on groups.
func (c *Client) Groups() *Groups { return &Groups{c} }

// List lists every group (GET /api/groups).
func (g *Groups) List(ctx context.Context) ([]api.Group, error) {
	var out api.GroupList
	if err := g.c.Do(ctx, http.MethodGet, "/api/groups", nil, &out); err != nil {
		return nil, err
	}
	return out.Groups, nil
}

// Get returns one group (GET /api/groups/{group_id}).
func (g *Groups) Get(ctx context.Context, id string) (*api.Group, error) {
	var out api.Group
	return &out, g.c.Do(ctx, http.MethodGet, "/api/groups/"+esc(id), nil, &out)
}

// Create creates a group and returns its id (POST /api/groups).
func (g *Groups) Create(ctx context.Context, req api.GroupRequest) (string, error) {
	var out api.GroupCreated
	err := g.c.Do(ctx, http.MethodPost, "/api/groups", req, &out)
	return out.GroupID, err
}

// Update changes the fields of req that are not nil (PUT
// /api/groups/{group_id}).
func (g *Groups) Update(ctx context.Context, id string, req api.GroupRequest) error {
	return g.c.Do(ctx, http.MethodPut, "/api/groups/"+esc(id), req, nil)
}

// Delete deletes a group (DELETE /api/groups/{group_id}).
func (g *Groups) Delete(ctx context.Context, id string) error {
	return g.c.Do(ctx, http.MethodDelete, "/api/groups/"+esc(id), nil, nil)
}
