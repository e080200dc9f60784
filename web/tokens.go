package web

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

// maxTokensPerUser bounds the API tokens one user may hold.
const maxTokensPerUser = 100

func (s *Server) ownTokens(ctx context.Context, userID string) ([]*shared.Token, error) {
	return storage.ListWhere(ctx, s.store, func(t *shared.Token) bool { return t.UserID == userID })
}

// handleListTokens serves GET /api/tokens: the caller's own API tokens.
func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request, p *principal) error {
	tokens, err := s.ownTokens(r.Context(), p.user.ID)
	if err != nil {
		return err
	}
	out := make([]api.Token, 0, len(tokens))
	for _, t := range tokens {
		out = append(out, api.Token{ID: t.ID, Name: t.Name, ExpiresAt: timePtr(t.ExpiresAt), CreatedAt: t.CreatedAt,
			Expired: s.checkTokenExpiry(t) != nil})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleCreateToken serves POST /api/tokens. The secret is returned once;
// the store keeps only its hash, which is the token's id.
func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.TokenCreateRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	if req.Name == "" {
		return invalid("name is required")
	}
	if err := checkText("name", req.Name, 255); err != nil {
		return err
	}
	expires, err := s.tokenExpiry(req.ExpiresAt)
	if err != nil {
		return err
	}
	ctx := context.WithoutCancel(r.Context())
	// The limit holds in the store's transaction (quota.go); the lock keeps
	// this server's creations for one user from conflicting there.
	unlock := s.ownerLocks.lock("tokens/" + p.user.ID)
	defer unlock()
	secret := crypt.NewToken()
	now := s.now().UTC()
	t := &shared.Token{
		Meta:      shared.Meta{ID: crypt.HashToken(secret), CreatedAt: now, UpdatedAt: now},
		UserID:    p.user.ID,
		Name:      req.Name,
		ExpiresAt: expires,
	}
	if err := storage.CreateToken(ctx, s.store, t, maxTokensPerUser); err != nil {
		return err
	}
	s.audit(r, p, "Token Create", "API token "+quote(t.Name)+" created", map[string]string{"token_id": t.ID})
	writeJSON(w, http.StatusCreated, api.TokenCreated{Status: true, TokenID: t.ID, Token: secret})
	return nil
}

// handleDeleteToken serves DELETE /api/tokens/{token_id}: own tokens only;
// others' are reported as not found.
func (s *Server) handleDeleteToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := context.WithoutCancel(r.Context())
	id := chi.URLParam(r, "token_id")
	t, err := storage.Get[shared.Token](ctx, s.store, id)
	if isCode(err, shared.ENOTFOUND) || (err == nil && t.UserID != p.user.ID) {
		return notFound("token %s not found", quote(id))
	}
	if err != nil {
		return err
	}
	if _, err := s.store.Delete(ctx, shared.KindToken, id); err != nil {
		return err
	}
	s.audit(r, p, "Token Delete", "API token "+quote(t.Name)+" deleted", map[string]string{"token_id": t.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// tokenExpiry parses the expires_at of a new token: "" for none, else an
// RFC 3339 time in the future.
func (s *Server) tokenExpiry(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		if len(v) > 64 {
			v = v[:64]
		}
		return time.Time{}, invalid("expires_at must be an RFC 3339 time such as 2030-01-02T15:04:05Z, not %s", quote(v))
	}
	if !t.After(s.now()) {
		return time.Time{}, invalid("expires_at %s is not in the future", v)
	}
	return t.UTC(), nil
}

// checkTokenExpiry fails with EUNAUTHORIZED when tok has expired.
func (s *Server) checkTokenExpiry(tok *shared.Token) error {
	if !tok.ExpiresAt.IsZero() && !s.now().Before(tok.ExpiresAt) {
		return shared.Errorf(shared.EUNAUTHORIZED, "API token %s expired at %s: create a new one", quote(tok.Name), tok.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}
