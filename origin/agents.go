package origin

import (
	"context"
	"maps"
	"slices"

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
//
// The origin's own location (SetHome) has agents too, which the origin's
// agent endpoint holds: HomeAgent keeps their states in the same table.
//
// Down to the leaves (protocol 6 on), the hub tells every trusted leaf
// what it holds of the other locations' agents: each link sends every
// location that has agents at its start, and then what changed. The hub
// numbers each change it keeps (a space's agent, or a whole location: a
// reset, a leaf linked or gone) and holds the last maxAgentChanges of
// them; a link remembers the number it sent up to, and one that fell
// further behind sends every location again. The table holds only
// locations with agents, and a location without agents whose leaf links
// or goes is no change: what a leaf shows of it (no agents) stays true,
// and leaves joining by the thousand cost no frame each to every other
// leaf (which they did, N² frames for N leaves, when every linked location
// was sent). A leaf so never hears that such a location's leaf is gone;
// it learns it from the first agent there, whose state comes unlinked. Run wakes the links at most every
// wire.AgentReportDelay, so that what changes in between goes out in one
// frame per location. A restricted leaf gets none: its view holds only its
// owner's spaces, and this table does not know owners.

// maxAgentsPerLocation bounds the agents the hub keeps for one location.
const maxAgentsPerLocation = 100_000

// maxAgentChanges is how many changes the hub keeps for the links that
// have not sent them yet.
const maxAgentChanges = 1 << 13

// agentTable is the hub's view of the leaves' agents.
type agentTable struct {
	byLocation map[string]*locationAgents
	seq        int64         // the number of the last change
	changes    []agentChange // the last changes, in order, at most maxAgentChanges
	woken      int64         // seq when Run last woke the links
}

// agentChange is one change of the table: the agent of a space, or a
// whole location when spaceID is "".
type agentChange struct {
	seq               int64
	location, spaceID string
}

// note records a change, under the hub's mu.
func (t *agentTable) note(location, spaceID string) {
	if len(t.changes) >= maxAgentChanges {
		t.changes = slices.Delete(t.changes, 0, maxAgentChanges/2)
	}
	t.seq++
	t.changes = append(t.changes, agentChange{seq: t.seq, location: location, spaceID: spaceID})
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
	if f.Reset {
		if la != nil || len(f.Agents) > 0 {
			h.agents.note(l.location, "")
		}
		la = nil
	}
	if la == nil {
		la = &locationAgents{spaces: map[string]wire.AgentState{}}
		h.agents.byLocation[l.location] = la
	}
	la.server = l.version
	if dropped := h.agents.keep(l.location, la, f.Agents, !f.Reset); dropped > 0 {
		h.log.Warn("origin: a leaf reports more agents than the origin keeps", "location", l.location, "node", l.node, "dropped", dropped, "limit", maxAgentsPerLocation)
	}
}

// keep stores the states of agents in la, the table of location, noting
// each change when note is set (a space forgotten that was not held is
// none); it returns how many it dropped for the bound. A location left
// without agents leaves the table.
func (t *agentTable) keep(location string, la *locationAgents, agents []wire.AgentState, note bool) (dropped int) {
	for _, a := range agents {
		_, held := la.spaces[a.SpaceID]
		if !a.Connected && a.Version == "" && a.LastSeen.IsZero() {
			if held && note {
				t.note(location, a.SpaceID)
			}
			delete(la.spaces, a.SpaceID)
			continue
		}
		if !held && len(la.spaces) >= maxAgentsPerLocation {
			dropped++
			continue
		}
		if note {
			t.note(location, a.SpaceID)
		}
		la.spaces[a.SpaceID] = a
	}
	if len(la.spaces) == 0 {
		delete(t.byLocation, location)
	}
	return dropped
}

// HomeAgent keeps the state of an agent of the origin's own location
// (SetHome), which the leaves hear of as they hear of every other
// location's: its agent endpoint calls it whenever an agent links, goes
// away or changes its version, and when the space is deleted (st holding
// the space id alone). It does nothing before SetHome.
func (h *Hub) HomeAgent(st wire.AgentState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.home == "" {
		return
	}
	if h.agents.byLocation == nil {
		h.agents.byLocation = map[string]*locationAgents{}
	}
	la := h.agents.byLocation[h.home]
	if la == nil {
		la = &locationAgents{spaces: map[string]wire.AgentState{}}
		h.agents.byLocation[h.home] = la
	}
	la.server = h.version
	if dropped := h.agents.keep(h.home, la, []wire.AgentState{st}, true); dropped > 0 {
		h.log.Warn("origin: more agents at this location than the origin keeps", "limit", maxAgentsPerLocation)
	}
}

// agentsLinked notes, under mu, that the leaf of location linked or went
// away: the leaves hear whether its agents' states are fresh. A location
// without agents is no change.
func (h *Hub) agentsLinked(location string) {
	if h.agents.byLocation[location] != nil {
		h.agents.note(location, "")
	}
}

// wakeAgents wakes the links of protocol 6 and later when the table
// changed since the last call. Run calls it every wire.AgentReportDelay.
func (h *Hub) wakeAgents() {
	h.mu.Lock()
	if h.agents.seq == h.agents.woken {
		h.mu.Unlock()
		return
	}
	h.agents.woken = h.agents.seq
	links := make([]*link, 0, len(h.links))
	for _, l := range h.links {
		if l.proto >= 6 && !l.cred.Restricted() {
			links = append(links, l)
		}
	}
	h.mu.Unlock()
	for _, l := range links {
		l.kick(workAgents)
	}
}

// sendAgents sends the link's leaf what changed in the table since it last
// sent (every location, the first time or when it fell behind the changes
// the hub keeps), leaving out the leaf's own location. It sends nothing to
// a leaf on protocol 5 or older, or to a restricted one.
func (l *link) sendAgents(ctx context.Context) error {
	if l.proto < 6 || l.cred.Restricted() {
		return nil
	}
	frames := l.hub.agentFrames(l.location, &l.agentSeq, &l.agentsTold)
	for _, f := range frames {
		if err := l.send(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// agentFrames returns the frames that take a leaf of location from what
// the table held at change *since to what it holds now, and moves *since
// there. *told holds the locations the leaf was sent agents of (nil before
// the first frames): every location the first time, and when the link fell
// behind the changes the hub keeps, each one the leaf holds or the table
// does, so that a location emptied meanwhile is reset at the leaf too.
func (h *Hub) agentFrames(location string, since *int64, told *map[string]bool) []*wire.AgentStates {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := &h.agents
	whole := map[string]bool{}    // locations sent whole
	some := map[string][]string{} // else the spaces of a location sent
	full := *told == nil || (len(t.changes) > 0 && t.changes[0].seq > *since+1) || (len(t.changes) == 0 && t.seq > *since)
	if *told == nil {
		*told = map[string]bool{}
	}
	if full {
		for loc := range t.byLocation {
			whole[loc] = true
		}
		for loc := range *told {
			whole[loc] = true
		}
	} else {
		i, _ := slices.BinarySearchFunc(t.changes, *since+1, func(c agentChange, seq int64) int { return int(c.seq - seq) })
		for _, c := range t.changes[i:] {
			switch {
			case c.spaceID == "":
				whole[c.location] = true
			case !whole[c.location]:
				some[c.location] = append(some[c.location], c.spaceID)
			}
		}
	}
	*since = t.seq
	delete(whole, location)
	delete(some, location)
	var out []*wire.AgentStates
	for _, loc := range slices.Sorted(maps.Keys(whole)) {
		var ids []string
		if la := t.byLocation[loc]; la != nil {
			ids = slices.Sorted(maps.Keys(la.spaces))
		}
		out = h.locationFrames(out, loc, ids, true)
	}
	for _, loc := range slices.Sorted(maps.Keys(some)) {
		if whole[loc] {
			continue
		}
		ids := slices.Compact(slices.Sorted(slices.Values(some[loc])))
		out = h.locationFrames(out, loc, ids, false)
	}
	for loc := range whole {
		(*told)[loc] = t.byLocation[loc] != nil
	}
	for loc := range some {
		(*told)[loc] = t.byLocation[loc] != nil
	}
	maps.DeleteFunc(*told, func(_ string, v bool) bool { return !v })
	return out
}

// locationFrames appends to out the frames that carry the states of the
// agents ids of location, under mu: a space the table no longer holds
// travels as its id alone.
func (h *Hub) locationFrames(out []*wire.AgentStates, location string, ids []string, reset bool) []*wire.AgentStates {
	la := h.agents.byLocation[location]
	head := wire.AgentStates{Location: location, Unlinked: location != h.home && h.links[location] == nil}
	if la != nil {
		head.Server = la.server
	}
	for first := true; first || len(ids) > 0; first = false {
		n := min(len(ids), wire.MaxAgentStates)
		f := head
		f.Reset = reset && first
		f.Agents = make([]wire.AgentState, 0, n)
		for _, id := range ids[:n] {
			st := wire.AgentState{SpaceID: id}
			if la != nil {
				if s, ok := la.spaces[id]; ok {
					st = s
				}
			}
			f.Agents = append(f.Agents, st)
		}
		ids = ids[n:]
		out = append(out, &f)
	}
	return out
}

// AgentsStale reports whether what the hub holds of the agents of
// location may be out of date: no leaf of that location is linked now. The
// origin's own location (SetHome) never is.
func (h *Hub) AgentsStale(location string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return location != h.home && h.links[location] == nil
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
