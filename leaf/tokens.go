package leaf

import (
	"context"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
	"github.com/knot-dev/knot/storage"
)

// TokenService is a leaf's shared.TokenService (see services.go).
type TokenService struct{ opts ServiceOptions }

var _ shared.TokenService = (*TokenService)(nil)

// NewTokenService returns the API token service of a leaf.
func NewTokenService(opts ServiceOptions) *TokenService { return &TokenService{opts: opts} }

// List implements shared.TokenService from the replica.
func (s *TokenService) List(ctx context.Context, o shared.ListOptions) (shared.Page[*shared.Token], error) {
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return shared.Page[*shared.Token]{}, err
	}
	return shared.SelectList(storage.ListWhere(ctx, s.opts.Store, func(t *shared.Token) bool { return t.UserID == a.User.ID }))(o, shared.SelectTokens)
}

// Create implements shared.TokenService at the origin.
func (s *TokenService) Create(ctx context.Context, name string, expires time.Time) (*shared.Token, string, error) {
	req := api.TokenCreateRequest{Name: name}
	if !expires.IsZero() {
		req.ExpiresAt = expires.UTC().Format(time.RFC3339Nano)
	}
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.TokenCreated, error) {
		return c.Tokens().Create(ctx, req)
	})
	if err != nil {
		return nil, "", err
	}
	a := shared.ActorFrom(ctx)
	return &shared.Token{Meta: shared.Meta{ID: got.TokenID}, UserID: a.User.ID, Name: name, ExpiresAt: expires.UTC()}, got.Token, nil
}

// Delete implements shared.TokenService at the origin.
func (s *TokenService) Delete(ctx context.Context, id string) (*shared.Token, error) {
	_, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (struct{}, error) {
		return struct{}{}, c.Tokens().Delete(ctx, id)
	})
	if err != nil {
		return nil, err
	}
	t, err := storage.Get[shared.Token](ctx, s.opts.Store, id)
	if err != nil || t.UserID != shared.ActorFrom(ctx).User.ID {
		t = &shared.Token{Meta: shared.Meta{ID: id}, UserID: shared.ActorFrom(ctx).User.ID}
	}
	return t, nil
}
