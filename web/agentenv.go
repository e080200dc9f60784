package web

import (
	"io"
	"maps"
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"
	"github.com/knot-dev/knot/shared/api"
)

// handleAgentToken serves POST /api/spaces/{space_id}/agent-token: a new
// agent credential for a manual space, shown once (openapi.yaml).
func (s *Server) handleAgentToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	sp, token, env, err := s.access.MintAgentToken(r.Context(), callerOf(r), chi.URLParam(r, "space_id"), false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.AgentToken{SpaceID: sp.ID, Token: token, Env: env})
	return nil
}

// handleAgentEnv serves GET /api/spaces/{space_id}/agent-env: the
// environment of a manual space's agent as KEY=value lines, for
//
//	env $(curl -H "Authorization: Bearer $TOKEN" .../agent-env) knot agent
//
// Every call makes a new agent token, as POST .../agent-token does. A GET
// that changes state is deliberate here, for curl; to keep it safe from
// cross-site requests it answers bearer credentials only, never the
// session cookie.
func (s *Server) handleAgentEnv(w http.ResponseWriter, r *http.Request, p *principal) error {
	if p.viaCookie {
		return forbidden("the agent environment is given to bearer credentials only (\"Authorization: Bearer <token>\"), not to a browser session: each call makes a new agent token")
	}
	_, _, env, err := s.access.MintAgentToken(r.Context(), callerOf(r), chi.URLParam(r, "space_id"), true)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	for _, k := range slices.Sorted(maps.Keys(env)) {
		io.WriteString(w, k+"="+env[k]+"\n")
	}
	return nil
}
