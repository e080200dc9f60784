package web

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/api"
)

// Terminals: GET /api/spaces/{space_id}/terminal.
//
// Without an upgrade it answers {"sessions": [...]}, the terminal sessions
// the space's agent keeps. As a websocket it opens a terminal in the space,
// relayed by this server to the agent over the agent link, or, for a space
// of another location, through the origin to the leaf of that location
// (leaf.AgentStreams; 503 at once naming the location while the way there
// is down):
//
//   - query: attach=ID reattaches to a kept session; cols and rows size a
//     new one; cmd (repeated) runs that program in place of a login shell,
//     and pty=0 runs it, or the shell reading commands from its input,
//     without a terminal (for scripts).
//   - server → client: first a text message {"type":"session","id":ID},
//     then binary messages of terminal output (a reattach starts with the
//     session's replay), and at the end {"type":"exit","code":N,"reason":R}
//     and a normal close.
//   - client → server: binary messages are input; text messages are
//     {"type":"resize","cols":C,"rows":R} or {"type":"eof"}. A message
//     over 64 KiB or one that is not this closes the websocket with the
//     reason.
//
// Only the space's owner, or a user with Manage Spaces, opens a terminal;
// others get 404 as for the space itself, and the refusal is audited.
// Every open and close is audited with who, from where, how long it lasted
// and why it ended.

// handleAgentToken serves POST /api/spaces/{space_id}/agent-token: a new
// agent credential for a manual space, whose owner runs the agent, shown
// once. The space keeps only its hash, and an agent linked with the one
// before is cut at its next heartbeat. Container and Nomad spaces get
// theirs from knot at every start.
func (s *Server) handleAgentToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	sp, token, env, err := s.access.MintAgentToken(r.Context(), callerOf(r), chi.URLParam(r, "space_id"), false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.AgentToken{SpaceID: sp.ID, Token: token, Env: env})
	return nil
}

// handleTerminal serves GET /api/spaces/{space_id}/terminal.
func (s *Server) handleTerminal(w http.ResponseWriter, r *http.Request, p *principal) error {
	sp, err := s.access.Enter(r.Context(), callerOf(r), chi.URLParam(r, "space_id"), leaf.Way{Kind: "terminal"})
	if err != nil {
		return err
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		list, err := s.access.Sessions(r.Context(), callerOf(r), sp)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, list)
		return nil
	}
	return s.serveTerminal(w, r, sp)
}

// serveTerminal opens a terminal of sp over the websocket r asks for,
// and relays it until it ends.
func (s *Server) serveTerminal(w http.ResponseWriter, r *http.Request, sp *shared.Space) error {
	req, err := leaf.ParseTerminal(r.URL.Query())
	if err != nil {
		return err
	}
	return pump(s, w, r, agentwire.MaxFrame+1, func() (*leaf.TerminalStream, *leaf.Visit, error) {
		return s.access.OpenTerminal(r.Context(), callerOf(r), sp, req)
	}, leaf.RelayTerminal)
}
