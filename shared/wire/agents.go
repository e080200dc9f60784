package wire

import (
	"strconv"
	"time"
)

// TypeAgentStates is the type of AgentStates (version 5 on).
const TypeAgentStates = "agent_states"

// The bounds of an agent states frame: how many agents one frame holds
// (a leaf with more sends several), and the version of each.
const (
	MaxAgentStates        = 1000
	MaxAgentVersionLength = MaxVersionLength
)

// How often a leaf sends agent states: changes at most every
// AgentReportDelay, gathered over it; every linked agent again every
// AgentRefresh, so that the origin's last_seen of a linked agent is at
// most that old.
const (
	AgentReportDelay = time.Second
	AgentRefresh     = time.Minute
)

// AgentState is what a leaf knows of the agent of one of its spaces:
// whether it is linked now, the version it reported, and when the leaf
// last heard from it (zero when it never did since the leaf started).
type AgentState struct {
	SpaceID   string    `json:"space_id"`
	Connected bool      `json:"connected"`
	Version   string    `json:"version,omitempty"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
}

// AgentStates carries the state of agents of the leaf's spaces (version 5
// on), leaf → origin, unacknowledged. The first frame of a link has Reset
// set: the origin forgets what it held of the leaf's location and keeps
// what the frame and the ones after it say. Later frames carry the agents
// that linked, left or changed version since the frame before (coalesced:
// at most one frame a second), and, now and then, every linked agent again
// so that their last_seen stays fresh. A space whose agent the leaf knows
// nothing of (deleted, or never linked) travels as {space_id} alone: the
// origin then forgets it.
//
// Version 6 on, the origin sends the same frame down to its leaves: the
// agents of the spaces of every other location, as that location's leaf
// reported them, so that a leaf shows them too. Such a frame names the
// Location its agents are of and Server, the version of that location's
// leaf (against which an agent is outdated); Reset makes the leaf forget
// what it held of that location first, and Unlinked says that no leaf of
// the location is connected to the origin now, so what follows is the last
// the origin heard and may be stale. The first frames of a link hold every
// location the origin knows agents of (each with Reset), then come the
// locations and agents that changed, at most about once a second; a
// location without agents is not sent (a leaf shows none there either
// way), unless the leaf was told of agents there before: then it comes
// with Reset and no agents. A leaf's own
// frames name no location.
type AgentStates struct {
	Reset    bool         `json:"reset,omitempty"`
	Location string       `json:"location,omitempty"`
	Server   string       `json:"server,omitempty"`
	Unlinked bool         `json:"unlinked,omitempty"`
	Agents   []AgentState `json:"agents,omitempty"`
}

func (*AgentStates) FrameType() string { return TypeAgentStates }

func (f *AgentStates) Validate() error {
	if len(f.Agents) > MaxAgentStates {
		return invalid("agent_states: %d agents, more than %d", len(f.Agents), MaxAgentStates)
	}
	if err := checkLen("agent_states", "location", f.Location, MaxLocationLength); err != nil {
		return err
	}
	if err := checkLen("agent_states", "server", f.Server, MaxVersionLength); err != nil {
		return err
	}
	if f.Location == "" && (f.Server != "" || f.Unlinked) {
		return invalid("agent_states: server and unlinked need a location")
	}
	for i, a := range f.Agents {
		where := "agent_states: agent " + strconv.Itoa(i)
		switch {
		case a.SpaceID == "":
			return invalid("%s: space_id is missing", where)
		case len(a.SpaceID) > maxIDLength:
			return invalid("%s: space_id is longer than %d bytes", where, maxIDLength)
		case a.Connected && a.Version == "":
			return invalid("%s: a connected agent has no version", where)
		}
		if err := checkLen(where, "version", a.Version, MaxAgentVersionLength); err != nil {
			return err
		}
	}
	return nil
}
