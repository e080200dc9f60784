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

// replicaWait bounds how long Create waits for the replica to hold the
// token it made at the origin.
const replicaWait = 5 * time.Second

// Create implements shared.TokenService at the origin. It answers once
// the replica holds the new token, so that the token works here at once
// (a client checks it with a read here), or after replicaWait, when the
// token works at the origin and here as soon as the replica has it.
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
	s.awaitReplica(ctx, got.TokenID)
	a := shared.ActorFrom(ctx)
	return &shared.Token{Meta: shared.Meta{ID: got.TokenID}, UserID: a.User.ID, Name: name, ExpiresAt: expires.UTC()}, got.Token, nil
}

// awaitReplica waits until the replica holds the token id, for at most
// replicaWait or until ctx ends.
func (s *TokenService) awaitReplica(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(ctx, replicaWait)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := s.opts.Store.Get(ctx, shared.KindToken, id); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Ready returns nil when Create can be made now for the caller of ctx,
// so that the page that approves knot connect says so rather than the CLI
// later: the origin is reachable and takes the credential the caller
// presented here (a read there as them checks it). Otherwise it returns
// the error Create would fail with: EUNAVAILABLE at once while the origin
// is down, ECONFLICT saying to log in again when the origin does not know,
// or ended, the session the leaf keeps there for the caller's session
// here (it was down at their login, the leaf restarted since). It changes
// nothing, and its answer is the leaf's, not the origin's.
func (s *TokenService) Ready(ctx context.Context) error {
	if c, ok := shared.CredentialFrom(ctx); ok {
		c.Answered = nil
		ctx = shared.NewContextWithCredential(ctx, c)
	}
	_, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (struct{}, error) {
		_, err := c.Users().WhoAmI(ctx)
		return struct{}{}, err
	})
	if shared.ErrorCode(err) == shared.ECONFLICT {
		return shared.Wrap(shared.ECONFLICT, err, "the API token of knot connect is made at the origin %s, where this leaf has no session of yours now: log out, log in again here, and approve again",
			s.opts.Origin.URL())
	}
	return err
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
