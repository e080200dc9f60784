package origin

import (
	"context"
	"hash/fnv"
	"sync"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

// TokenService is the origin's shared.TokenService over its store.
type TokenService struct {
	store storage.Store
	opts  ServiceOptions
	// creating serializes this process's creations per user, so that they
	// do not conflict in the store's transaction, where an optimistic
	// driver (Redis) would run them again and again; the quota itself
	// holds in the transaction.
	creating [16]sync.Mutex
}

var _ shared.TokenService = (*TokenService)(nil)

// NewTokenService returns the API token service over store.
func NewTokenService(store storage.Store, opts ServiceOptions) *TokenService {
	return &TokenService{store: store, opts: opts}
}

// List implements shared.TokenService.
func (s *TokenService) List(ctx context.Context, o shared.ListOptions) (shared.Page[*shared.Token], error) {
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return shared.Page[*shared.Token]{}, err
	}
	return shared.SelectList(storage.ListWhere(ctx, s.store, func(t *shared.Token) bool { return t.UserID == a.User.ID }))(o, shared.SelectTokens)
}

// CheckToken checks the name and expiry of a new API token at now.
func CheckToken(name string, expires, now time.Time) error {
	if name == "" {
		return invalid("name is required")
	}
	if err := shared.CheckText("name", name, 255); err != nil {
		return err
	}
	if !expires.IsZero() && !expires.After(now) {
		return invalid("expires_at %s is not in the future", expires.Format(time.RFC3339))
	}
	return nil
}

// Create implements shared.TokenService: the count of the actor's tokens
// and the write are one transaction (storage.CreateToken).
func (s *TokenService) Create(ctx context.Context, name string, expires time.Time) (*shared.Token, string, error) {
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return nil, "", err
	}
	now := s.opts.now()
	if err := CheckToken(name, expires, now); err != nil {
		return nil, "", err
	}
	h := fnv.New32a()
	h.Write([]byte(a.User.ID))
	m := &s.creating[h.Sum32()%uint32(len(s.creating))]
	m.Lock()
	defer m.Unlock()
	secret := crypt.NewToken()
	t := &shared.Token{
		Meta:   shared.Meta{ID: crypt.HashToken(secret), CreatedAt: now, UpdatedAt: now},
		UserID: a.User.ID, Name: name, ExpiresAt: expires.UTC(),
	}
	if expires.IsZero() {
		t.ExpiresAt = time.Time{}
	}
	if err := storage.CreateToken(writeContext(ctx), s.store, t, shared.MaxTokensPerUser); err != nil {
		return nil, "", err
	}
	s.opts.record(ctx, "Token Create", "API token "+quote(t.Name)+" created", map[string]string{"token_id": t.ID})
	return t, secret, nil
}

// Delete implements shared.TokenService: another's token is reported as
// not found.
func (s *TokenService) Delete(ctx context.Context, id string) (*shared.Token, error) {
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return nil, err
	}
	ctx = writeContext(ctx)
	var out *shared.Token
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		t, err := storage.Get[shared.Token](ctx, tx, id)
		if isCode(err, shared.ENOTFOUND) || (err == nil && t.UserID != a.User.ID) {
			return shared.Errorf(shared.ENOTFOUND, "token %s not found", quote(id))
		}
		if err != nil {
			return err
		}
		out = t
		return tx.Delete(ctx, shared.KindToken, id)
	})
	if err != nil {
		return nil, err
	}
	s.opts.record(ctx, "Token Delete", "API token "+quote(out.Name)+" deleted", map[string]string{"token_id": out.ID})
	return out, nil
}
