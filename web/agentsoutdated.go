package web

import (
	"net/http"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// handleOutdatedAgents serves GET /api/agents/outdated: the spaces of this
// server's location whose connected agent runs another version than the
// server (agents of other locations link to their own server, which
// answers for them). A user with Manage Spaces sees every space; anyone
// else their own. The registry of linked agents is in memory, so this
// costs one pass over the cached space list.
func (s *Server) handleOutdatedAgents(w http.ResponseWriter, r *http.Request, p *principal) error {
	l, err := s.spaces.List(r.Context(), shared.SpaceFilter{Visible: true})
	if err != nil {
		return err
	}
	out := api.OutdatedAgents{Agents: []api.OutdatedAgent{}}
	for _, sp := range l.Spaces {
		a := s.agentOf(sp)
		if a == nil || !a.Outdated {
			continue
		}
		o := api.OutdatedAgent{SpaceID: sp.ID, Name: sp.Name, UserID: sp.UserID, Location: sp.Location,
			AgentVersion: a.Version, ServerVersion: s.version}
		if u := l.Users[sp.UserID]; u != nil {
			o.Username = u.Username
		}
		out.Agents = append(out.Agents, o)
	}
	out.Count = len(out.Agents)
	writeJSON(w, http.StatusOK, out)
	return nil
}
