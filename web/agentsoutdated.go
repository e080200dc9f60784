package web

import "net/http"

// handleOutdatedAgents serves GET /api/agents/outdated: the spaces of this
// server's location whose connected agent runs another version than the
// server (agents of other locations link to their own server, which
// answers for them). A user with Manage Spaces sees every space; anyone
// else their own. The registry of linked agents is in memory, so this
// costs one pass over the cached space list.
func (s *Server) handleOutdatedAgents(w http.ResponseWriter, r *http.Request, p *principal) error {
	out, err := s.access.OutdatedAgents(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
