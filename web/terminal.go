package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared/agentwire"
)

// handleTerminal serves GET /api/spaces/{space_id}/terminal: the terminal
// sessions the space's agent keeps, or, as a websocket, a terminal relayed
// to the agent (leaf.RelayTerminal), for a space of another location
// through the origin to that location's leaf (leaf.AgentStreams; 503 at
// once naming the location while the way there is down).
func (s *Server) handleTerminal(w http.ResponseWriter, r *http.Request, p *principal) error {
	sp, err := s.access.Enter(r.Context(), callerOf(r), chi.URLParam(r, "space_id"), leaf.Way{Kind: "terminal"})
	if err != nil {
		return err
	}
	if !isWebsocket(r) {
		list, err := s.access.Sessions(r.Context(), callerOf(r), sp)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, list)
		return nil
	}
	req, err := leaf.ParseTerminal(r.URL.Query())
	if err != nil {
		return err
	}
	return pump(s, w, r, agentwire.MaxFrame+1, func() (*leaf.TerminalStream, *leaf.Visit, error) {
		return s.access.OpenTerminal(r.Context(), callerOf(r), sp, req)
	}, leaf.RelayTerminal)
}
