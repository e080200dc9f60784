package web

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared/api"
)

// handleListTokens serves GET /api/tokens: the caller's own API tokens.
func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request, p *principal) error {
	tokens, err := listPage(r, s.tokens.List)
	if err != nil {
		return err
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(tokens.Total))
	writeTaggedJSON(w, r, api.NewTokens(tokens, s.now()))
	return nil
}

// handleCreateToken serves POST /api/tokens. The secret is returned once;
// the store keeps only its hash, which is the token's id.
func (s *Server) handleCreateToken(r *http.Request, _ *principal, req *api.TokenCreateRequest) (api.TokenCreated, error) {
	expires, err := req.Expiry()
	if err != nil {
		return api.TokenCreated{}, err
	}
	t, secret, err := s.tokens.Create(r.Context(), req.Name, expires)
	if err != nil {
		return api.TokenCreated{}, err
	}
	return api.TokenCreated{Status: true, TokenID: t.ID, Token: secret}, nil
}

// handleDeleteToken serves DELETE /api/tokens/{token_id}: own tokens only;
// others' are reported as not found.
func (s *Server) handleDeleteToken(r *http.Request, _ *principal) (api.OK, error) {
	_, err := s.tokens.Delete(r.Context(), chi.URLParam(r, "token_id"))
	return okResp, err
}
