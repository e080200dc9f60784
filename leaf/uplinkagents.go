package leaf

// The states of the agents of the leaf's spaces, reported to the origin
// (protocol 5 on), so that the origin shows them for every location's
// spaces. What changes is coalesced: AgentChanged only marks a space, and
// the session sends the marked ones at most every AgentReportDelay; every
// AgentRefresh it sends the linked agents again, so that their last_seen at
// the origin is at most that old.
//
// Down the link (protocol 6 on) come the agents of the other locations'
// spaces, as the origin holds them (wire.AgentStates with a location): the
// uplink keeps them in memory, forgets them at each welcome (the origin
// sends them all again), and answers RemoteAgent with them. While the link
// is down, or the origin has no link to a location's leaf, that location's
// agents are stale: none says it is connected.

import (
	"context"
	"slices"
	"time"

	"github.com/knot-dev/knot/shared/wire"
)

// The bounds of what the uplink keeps of other locations' agents.
const (
	maxRemoteLocations = 4096
	maxRemoteAgents    = 100_000 // per location, as the origin keeps
)

// remoteLocation is what the origin said of the agents of one location.
type remoteLocation struct {
	server   string // the version of that location's leaf
	unlinked bool   // the origin has no link to that location's leaf
	spaces   map[string]wire.AgentState
}

// remoteAgents takes an agent states frame of the origin.
func (s *session) remoteAgents(f *wire.AgentStates) error {
	if s.proto < 6 || f.Location == "" {
		return closeWith(wire.CloseMalformed, "agent states from the origin need protocol 6 and a location (this link speaks %d)", s.proto)
	}
	if f.Location == s.location {
		return nil // this leaf holds its own agents
	}
	u := s.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.remote == nil {
		u.remote = map[string]*remoteLocation{}
	}
	rl := u.remote[f.Location]
	if rl == nil || f.Reset {
		if rl == nil && len(u.remote) >= maxRemoteLocations {
			return nil
		}
		rl = &remoteLocation{spaces: map[string]wire.AgentState{}}
		u.remote[f.Location] = rl
	}
	rl.server, rl.unlinked = f.Server, f.Unlinked
	for _, a := range f.Agents {
		if !a.Connected && a.Version == "" && a.LastSeen.IsZero() {
			delete(rl.spaces, a.SpaceID)
		} else if _, ok := rl.spaces[a.SpaceID]; ok || len(rl.spaces) < maxRemoteAgents {
			rl.spaces[a.SpaceID] = a
		}
	}
	return nil
}

// forgetRemote forgets every other location's agents, at a welcome.
func (u *Uplink) forgetRemote() {
	u.mu.Lock()
	u.remote = nil
	u.mu.Unlock()
}

// RemoteAgent returns what the origin said of the agent of the space
// spaceID at another location, with the version of that location's leaf;
// false when it said nothing. While the state is stale (RemoteStale), it
// does not say the agent is connected. It is AccessOptions.RemoteAgents on
// a leaf.
func (u *Uplink) RemoteAgent(location, spaceID string) (wire.AgentState, string, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	rl := u.remote[location]
	if rl == nil {
		return wire.AgentState{}, "", false
	}
	st, ok := rl.spaces[spaceID]
	if !ok {
		return st, "", false
	}
	if !u.status.Connected || rl.unlinked {
		st.Connected = false
	}
	return st, rl.server, true
}

// RemoteStale reports whether what the uplink holds of the agents of
// location may be out of date: the link to the origin is down, or the
// origin has no link to that location's leaf. It is
// AccessOptions.RemoteStale on a leaf.
func (u *Uplink) RemoteStale(location string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	rl := u.remote[location]
	return !u.status.Connected || (rl != nil && rl.unlinked)
}

// maxDirtyAgents bounds the spaces marked between two reports; past it, the
// next report is a reset holding every linked agent.
const maxDirtyAgents = 1 << 16

// agentMarks are the spaces whose agent changed since the last report.
type agentMarks struct {
	dirty map[string]struct{} // guarded by Uplink.mu
	all   bool                // guarded by Uplink.mu: too many to keep; send a reset
}

// AgentChanged tells the uplink that the agent of a space linked, went
// away or changed its version. It never blocks.
func (u *Uplink) AgentChanged(spaceID string) {
	u.mu.Lock()
	if len(u.marks.dirty) >= maxDirtyAgents {
		u.marks.all = true
		clear(u.marks.dirty)
	} else if !u.marks.all {
		u.marks.dirty[spaceID] = struct{}{}
	}
	u.mu.Unlock()
	select {
	case u.agentsChanged <- struct{}{}:
	default:
	}
}

// takeMarks returns the marked spaces and whether a reset is due, and
// clears them.
func (u *Uplink) takeMarks() (ids []string, all bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	all = u.marks.all
	for id := range u.marks.dirty {
		ids = append(ids, id)
	}
	clear(u.marks.dirty)
	u.marks.all = false
	return ids, all
}

// reportAgents sends the agents' states until ctx ends: a reset first
// (every agent the leaf knows, linked or gone), then what changed, and the
// linked agents every AgentRefresh.
func (s *session) reportAgents(ctx context.Context) error {
	u := s.u
	u.takeMarks()
	if err := s.sendAgents(ctx, u.opts.Agents.Known(), true); err != nil {
		return err
	}
	refresh := time.NewTicker(u.opts.AgentRefresh)
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-refresh.C:
			if err := s.sendAgents(ctx, u.opts.Agents.Linked(), false); err != nil {
				return err
			}
			continue
		case <-u.agentsChanged:
		}
		// Gather what changes over the delay into one report.
		t := time.NewTimer(u.opts.AgentReportDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		ids, all := u.takeMarks()
		if all {
			ids = u.opts.Agents.Known()
		}
		if err := s.sendAgents(ctx, ids, all); err != nil {
			return err
		}
	}
}

// sendAgents sends the states of the agents of ids, in frames of at most
// wire.MaxAgentStates; the first one resets the origin's view when reset
// is set.
func (s *session) sendAgents(ctx context.Context, ids []string, reset bool) error {
	slices.Sort(ids)
	for first := true; first || len(ids) > 0; first = false {
		n := min(len(ids), wire.MaxAgentStates)
		f := &wire.AgentStates{Reset: reset && first, Agents: make([]wire.AgentState, 0, n)}
		for _, id := range ids[:n] {
			f.Agents = append(f.Agents, s.u.opts.Agents.WireState(id))
		}
		ids = ids[n:]
		if len(f.Agents) == 0 && !f.Reset {
			return nil
		}
		if err := s.send(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// WireState returns the state of the agent of the space spaceID as the
// origin keeps it (wire.AgentState): the space id alone when this endpoint
// knows nothing of it.
func (a *Agents) WireState(spaceID string) wire.AgentState {
	st := a.Status(spaceID)
	as := wire.AgentState{SpaceID: spaceID, Connected: st.Connected, LastSeen: st.LastSeen}
	as.Version = bounded(st.Version, wire.MaxAgentVersionLength)
	if as.Connected && as.Version == "" {
		as.Version = "unknown"
	}
	return as
}
