package web

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/go-chi/chi/v5"
)

// handleAgentEnv serves GET /api/spaces/{space_id}/agent-env: the
// environment of a manual space's agent as KEY=value lines (text/plain),
// so that
//
//	env $(curl -H "Authorization: Bearer $TOKEN" .../agent-env) knot agent
//
// links the space. knot keeps only the hash of an agent token, so every
// call makes a new one, as POST .../agent-token does, and the agent linked
// with the one before is cut at its next heartbeat. A GET that changes
// state is deliberate here, for curl; to keep it safe from cross-site
// requests it answers bearer credentials (API tokens, sessions sent as a
// bearer) only, never the session cookie. Only the space's owner gets it,
// not even a user with Manage Spaces: for anyone else the space does not
// exist (404). Container and Nomad spaces get their token from knot at
// every start (400).
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
	fmt.Fprint(w, envLines(env))
	return nil
}

// envLines is env as sorted KEY=value lines.
func envLines(env map[string]string) string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + env[k] + "\n")
	}
	return b.String()
}
