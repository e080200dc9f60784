package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// handleListTokens serves GET /api/tokens: the caller's own API tokens.
func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request, p *principal) error {
	tokens, err := listPage(r, s.tokens.List)
	if err != nil {
		return err
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(tokens.Total))
	out := make([]api.Token, 0, len(tokens.Items))
	for _, t := range tokens.Items {
		out = append(out, api.Token{ID: t.ID, Name: t.Name, ExpiresAt: timePtr(t.ExpiresAt), CreatedAt: t.CreatedAt,
			Expired: t.Expired(s.now())})
	}
	writeTaggedJSON(w, r, out)
	return nil
}

// handleCreateToken serves POST /api/tokens. The secret is returned once;
// the store keeps only its hash, which is the token's id.
func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.TokenCreateRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	expires, err := tokenExpiry(req.ExpiresAt)
	if err != nil {
		return err
	}
	t, secret, err := s.tokens.Create(r.Context(), req.Name, expires)
	if err != nil {
		return err
	}
	s.auditWrite(r, p, "Token Create", "API token "+quote(t.Name)+" created", map[string]string{"token_id": t.ID})
	writeJSON(w, http.StatusCreated, api.TokenCreated{Status: true, TokenID: t.ID, Token: secret})
	return nil
}

// handleDeleteToken serves DELETE /api/tokens/{token_id}: own tokens only;
// others' are reported as not found.
func (s *Server) handleDeleteToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	t, err := s.tokens.Delete(r.Context(), chi.URLParam(r, "token_id"))
	if err != nil {
		return err
	}
	s.auditWrite(r, p, "Token Delete", "API token "+quote(t.Name)+" deleted", map[string]string{"token_id": t.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// tokenExpiry decodes the expires_at of a new token: "" for none, else an
// RFC 3339 time (the service checks that it is in the future).
func tokenExpiry(v string) (time.Time, error) {
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
	return t.UTC(), nil
}

// checkTokenExpiry fails with EUNAUTHORIZED when tok has expired.
func (s *Server) checkTokenExpiry(tok *shared.Token) error {
	if tok.Expired(s.now()) {
		return shared.Errorf(shared.EUNAUTHORIZED, "API token %s expired at %s: create a new one", quote(tok.Name), tok.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}
