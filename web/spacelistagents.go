package web

import (
	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// agentOf describes the agent of sp, nil when this server does not hold
// its link.
func (s *Server) agentOf(sp *shared.Space) *api.SpaceAgent { return s.access.AgentOf(sp) }

// listBody returns the space list response of v (leaf.SpaceView.Body): on
// a server with an agent endpoint every space of its location carries its
// agent's state, on an origin every space of a leaf whose agent that leaf
// reported, on a leaf every space of another location whose agent the
// origin passed on, and on an origin or a leaf every space of a location
// it cannot reach now says so (leaf.SpaceService.Reachability).
func (s *Server) listBody(v *leaf.SpaceView) []byte {
	var agentOf func(*shared.Space) *api.SpaceAgent
	if s.agents != nil || s.hub != nil || s.leaf != nil {
		agentOf = s.agentOf
	}
	return v.Body(agentOf, s.spaces.Reachability())
}
