package web

import "net/http"

// handleOutdatedAgents serves GET /api/agents/outdated: the spaces whose
// connected agent runs another version than the server it links to (on an
// origin, the leaves' agents too, as they report them). A user with Manage
// Spaces sees every space; anyone else their own. The agents' states are
// in memory, so this costs one pass over the cached space list.
func (s *Server) handleOutdatedAgents(w http.ResponseWriter, r *http.Request, p *principal) error {
	out, err := s.access.OutdatedAgents(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
