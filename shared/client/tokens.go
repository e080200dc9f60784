package client

import (
	"context"
	"net/http"

	"github.com/knot-dev/knot/shared/api"
)

// Tokens calls /api/tokens: the caller's own API tokens.
type Tokens struct{ c *Client }

// Tokens returns the calls on the caller's API tokens.
func (c *Client) Tokens() *Tokens { return &Tokens{c} }

// List lists the caller's API tokens (GET /api/tokens).
func (t *Tokens) List(ctx context.Context) ([]api.Token, error) {
	var out []api.Token
	return out, t.c.Do(ctx, http.MethodGet, "/api/tokens", nil, &out)
}

// Create creates an API token; its secret is in the answer only (POST
// /api/tokens).
func (t *Tokens) Create(ctx context.Context, req api.TokenCreateRequest) (*api.TokenCreated, error) {
	var out api.TokenCreated
	return &out, t.c.Do(ctx, http.MethodPost, "/api/tokens", req, &out)
}

// Delete deletes one of the caller's API tokens (DELETE
// /api/tokens/{token_id}).
func (t *Tokens) Delete(ctx context.Context, id string) error {
	return t.c.Do(ctx, http.MethodDelete, "/api/tokens/"+esc(id), nil, nil)
}
