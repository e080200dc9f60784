package leaf

// The states of the agents of the leaf's spaces, reported to the origin
// (protocol 5 on), so that the origin shows them for every location's
// spaces. What changes is coalesced: AgentChanged only marks a space, and
// the session sends the marked ones at most every AgentReportDelay; every
// AgentRefresh it sends the linked agents again, so that their last_seen at
// the origin is at most that old.

import (
	"context"
	"slices"
	"time"

	"github.com/knot-dev/knot/shared/wire"
)

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
