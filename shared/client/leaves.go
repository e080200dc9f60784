package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/knot-dev/knot/shared/api"
)

// Leaves calls the fleet's routes: /api/leaves, /api/leaf-tokens and
// /api/leaf/*.
type Leaves struct{ c *Client }

// Leaves returns the calls on the fleet of leaves.
func (c *Client) Leaves() *Leaves { return &Leaves{c} }

// List lists the leaf nodes the origin knows (GET /api/leaves).
func (l *Leaves) List(ctx context.Context) ([]api.Leaf, error) {
	var out api.LeafList
	if err := l.c.Do(ctx, http.MethodGet, "/api/leaves", nil, &out); err != nil {
		return nil, err
	}
	return out.Leaves, nil
}

// Status returns a leaf's view of its origin (GET /api/leaf/status).
func (l *Leaves) Status(ctx context.Context) (*api.LeafStatus, error) {
	var out api.LeafStatus
	return &out, l.c.Do(ctx, http.MethodGet, "/api/leaf/status", nil, &out)
}

// Usage asks the origin what the spaces of userID at every location other
// than location use (GET /api/leaf/usage); the client's token is the
// leaf's credential.
func (l *Leaves) Usage(ctx context.Context, userID, location string) (*api.LeafUsage, error) {
	q := url.Values{"user_id": {userID}, "location": {location}}
	var out api.LeafUsage
	return &out, l.c.Do(ctx, http.MethodGet, "/api/leaf/usage?"+q.Encode(), nil, &out)
}

// Tokens lists the leaf tokens (GET /api/leaf-tokens).
func (l *Leaves) Tokens(ctx context.Context) ([]api.LeafToken, error) {
	var out api.LeafTokenList
	if err := l.c.Do(ctx, http.MethodGet, "/api/leaf-tokens", nil, &out); err != nil {
		return nil, err
	}
	return out.Tokens, nil
}

// CreateToken creates a leaf token; its secret is in the answer only (POST
// /api/leaf-tokens).
func (l *Leaves) CreateToken(ctx context.Context, req api.LeafTokenRequest) (*api.LeafTokenCreated, error) {
	var out api.LeafTokenCreated
	return &out, l.c.Do(ctx, http.MethodPost, "/api/leaf-tokens", req, &out)
}

// DeleteToken deletes a leaf token (DELETE /api/leaf-tokens/{leaf_token_id}).
func (l *Leaves) DeleteToken(ctx context.Context, id string) error {
	return l.c.Do(ctx, http.MethodDelete, "/api/leaf-tokens/"+esc(id), nil, nil)
}

// RotateToken replaces a leaf token with a new one; the old one keeps
// working for the overlap (POST /api/leaf-tokens/{leaf_token_id}/rotate).
func (l *Leaves) RotateToken(ctx context.Context, id string, req api.LeafTokenRotateRequest) (*api.LeafTokenCreated, error) {
	var out api.LeafTokenCreated
	return &out, l.c.Do(ctx, http.MethodPost, "/api/leaf-tokens/"+esc(id)+"/rotate", req, &out)
}
