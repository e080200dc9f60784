package origin

import (
	"github.com/knot-dev/knot/shared/wire"
)

// The agents of the leaves' spaces (protocol 5 on). A leaf reports the
// state of its agents (wire.AgentStates); the hub keeps the last one it
// heard for each space, per location, in memory, so that the origin shows
// every location's agents (AgentState). A leaf speaks for its own location
// only: what it sends is kept under the location of its link, and read
// only for spaces of that location. A reset frame replaces what the hub
// held of the location; a space reported with no version and never seen is
// forgotten. At most maxAgentsPerLocation spaces are kept per location: a
// report of more is logged and the rest dropped. When the leaf's link ends,
// what it last said stays, and the space says its location is unreachable.

// maxAgentsPerLocation bounds the agents the hub keeps for one location.
const maxAgentsPerLocation = 100_000

// agentTable is the hub's view of the leaves' agents.
type agentTable struct {
	byLocation map[string]*locationAgents
}

// locationAgents is what the leaf of one location reported.
type locationAgents struct {
	server string // the version of the leaf that reported them
	spaces map[string]wire.AgentState
}

// agentStates keeps a leaf's agent states.
func (l *link) agentStates(f *wire.AgentStates) {
	h := l.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.agents.byLocation == nil {
		h.agents.byLocation = map[string]*locationAgents{}
	}
	la := h.agents.byLocation[l.location]
	if la == nil || f.Reset {
		la = &locationAgents{spaces: map[string]wire.AgentState{}}
		h.agents.byLocation[l.location] = la
	}
	la.server = l.version
	dropped := 0
	for _, a := range f.Agents {
		if !a.Connected && a.Version == "" && a.LastSeen.IsZero() {
			delete(la.spaces, a.SpaceID)
			continue
		}
		if _, ok := la.spaces[a.SpaceID]; !ok && len(la.spaces) >= maxAgentsPerLocation {
			dropped++
			continue
		}
		la.spaces[a.SpaceID] = a
	}
	if dropped > 0 {
		h.log.Warn("origin: a leaf reports more agents than the origin keeps", "location", l.location, "node", l.node, "dropped", dropped, "limit", maxAgentsPerLocation)
	}
}

// AgentState returns what the leaf of location last reported of the agent
// of the space spaceID, with the version of that leaf; false when it
// reported nothing of it.
func (h *Hub) AgentState(location, spaceID string) (st wire.AgentState, server string, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	la := h.agents.byLocation[location]
	if la == nil {
		return st, "", false
	}
	st, ok = la.spaces[spaceID]
	return st, la.server, ok
}
