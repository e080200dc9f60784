package origin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage/memory"
)

// The hub keeps what a leaf reports of its agents under the leaf's
// location, with the leaf's version: a reset replaces it, a later frame
// updates it, and a space reported with nothing known is forgotten.
func TestHubKeepsTheAgentStatesOfALeafsLocation(t *testing.T) {
	o := startOrigin(t, memory.New(), origin.Options{})
	r := mustDialRaw(t, o, sharedToken)
	r.welcome(hello("n1", "eu", "", 0))
	seen := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	r.send(&wire.AgentStates{Reset: true, Agents: []wire.AgentState{
		{SpaceID: "s1", Connected: true, Version: "v1", LastSeen: seen},
		{SpaceID: "s2", Version: "v0", LastSeen: seen},
	}})
	state := func(loc, id string) string {
		st, server, ok := o.hub().AgentState(loc, id)
		if !ok {
			return "none"
		}
		return strings.Join([]string{boolStr(st.Connected), st.Version, st.LastSeen.Format(time.RFC3339), server}, " ")
	}
	eventually(t, 5*time.Second, func() string {
		if got := state("eu", "s1"); got != "true v1 2026-12-07T08:00:00Z test" {
			return "s1 is " + got
		}
		return ""
	})
	if got := state("eu", "s2"); got != "false v0 2026-12-07T08:00:00Z test" {
		t.Fatalf("s2 is %s", got)
	}
	if got := state("us", "s1"); got != "none" {
		t.Fatalf("another location's s1 is %s", got)
	}
	// A change: s1 left, s2 is forgotten (the leaf knows nothing of it).
	r.send(&wire.AgentStates{Agents: []wire.AgentState{{SpaceID: "s1", Version: "v1", LastSeen: seen.Add(time.Minute)}, {SpaceID: "s2"}}})
	eventually(t, 5*time.Second, func() string {
		if got := state("eu", "s1"); got != "false v1 2026-12-07T08:01:00Z test" {
			return "s1 after the change is " + got
		}
		if got := state("eu", "s2"); got != "none" {
			return "s2 after the change is " + got
		}
		return ""
	})
	// A reset holds all there is.
	r.send(&wire.AgentStates{Reset: true, Agents: []wire.AgentState{{SpaceID: "s3", Connected: true, Version: "v2", LastSeen: seen}}})
	eventually(t, 5*time.Second, func() string {
		if got := state("eu", "s1"); got != "none" {
			return "s1 after the reset is " + got
		}
		if got := state("eu", "s3"); !strings.HasPrefix(got, "true v2") {
			return "s3 after the reset is " + got
		}
		return ""
	})
}

// A leaf on protocol 4 or older sends no agent states: one that does is
// cut, saying why.
func TestAgentStatesNeedProtocol5(t *testing.T) {
	o := startOrigin(t, memory.New(), origin.Options{})
	r := mustDialRaw(t, o, sharedToken)
	h := hello("n1", "eu", "", 0)
	h.ProtocolMax = 4
	r.welcome(h)
	r.send(&wire.AgentStates{Reset: true})
	for {
		_, err := r.next()
		if err == nil {
			continue
		}
		if websocket.CloseStatus(err) != wire.CloseMalformed || !strings.Contains(err.Error(), "agent states need protocol 5") {
			t.Fatalf("the link ended with %v, want %d saying agent states need protocol 5", err, wire.CloseMalformed)
		}
		break
	}
	if _, _, ok := o.hub().AgentState("eu", "s1"); ok {
		t.Fatal("the hub kept the states of a link on protocol 4")
	}
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// agentsFrom reads r's frames until an agent states frame of location
// that ok accepts.
func agentsFrom(t *testing.T, r *rawLeaf, location string, ok func(*wire.AgentStates) bool) {
	t.Helper()
	for {
		f := r.mustNext()
		if as, is := f.(*wire.AgentStates); is && as.Location == location && ok(as) {
			return
		}
	}
}

// The hub tells each leaf on protocol 6 the agents of the other
// locations: all it holds when the leaf links (each location with a
// reset and the version of its leaf), then what changed, and that a
// location's leaf went away (unlinked, with what it last said). A leaf's
// own location is not sent back to it, and a leaf on protocol 5 gets no
// agent states at all.
func TestHubSendsEachLeafTheAgentsOfTheOtherLocations(t *testing.T) {
	o := startOrigin(t, memory.New(), origin.Options{KeepAlive: 200 * time.Millisecond})
	seen := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	eu := mustDialRaw(t, o, sharedToken)
	eu.welcome(hello("n1", "eu", "", 0))
	eu.send(&wire.AgentStates{Reset: true, Agents: []wire.AgentState{{SpaceID: "s1", Connected: true, Version: "v1", LastSeen: seen}}})
	eventually(t, 5*time.Second, func() string {
		if _, _, ok := o.hub().AgentState("eu", "s1"); !ok {
			return "the hub has not taken eu's report"
		}
		return ""
	})

	us := mustDialRaw(t, o, sharedToken)
	us.welcome(hello("n2", "us", "", 0))
	old := mustDialRaw(t, o, sharedToken)
	h := hello("n3", "asia", "", 0)
	h.ProtocolMax = 5
	old.welcome(h)
	agentsFrom(t, us, "eu", func(f *wire.AgentStates) bool {
		return f.Reset && f.Server == "test" && !f.Unlinked && len(f.Agents) == 1 && f.Agents[0] == wire.AgentState{SpaceID: "s1", Connected: true, Version: "v1", LastSeen: seen}
	})

	// The agent leaves.
	eu.send(&wire.AgentStates{Agents: []wire.AgentState{{SpaceID: "s1", Version: "v1", LastSeen: seen.Add(time.Minute)}}})
	agentsFrom(t, us, "eu", func(f *wire.AgentStates) bool {
		return !f.Reset && len(f.Agents) == 1 && f.Agents[0] == wire.AgentState{SpaceID: "s1", Version: "v1", LastSeen: seen.Add(time.Minute)}
	})
	// That round woke every link: the leaf on protocol 5 got nothing of
	// it before its next keep-alive.
	for {
		f := old.mustNext()
		if _, ok := f.(*wire.KeepAlive); ok {
			break
		}
		if as, ok := f.(*wire.AgentStates); ok {
			t.Fatalf("a leaf on protocol 5 was sent agent states: %+v", as)
		}
	}

	// eu's leaf goes away: what it last said stays, unlinked.
	eu.c.Close(websocket.StatusNormalClosure, "")
	agentsFrom(t, us, "eu", func(f *wire.AgentStates) bool {
		return f.Reset && f.Unlinked && len(f.Agents) == 1 && f.Agents[0].SpaceID == "s1" && !f.Agents[0].Connected
	})
	// And eu, back, hears of eu never, of us (linked, no agents) and asia
	// (its leaf on protocol 5) nothing until us has an agent: leaves that
	// link without agents cost the others no frame.
	eu = mustDialRaw(t, o, sharedToken)
	eu.welcome(hello("n1", "eu", "", 0))
	us.send(&wire.AgentStates{Reset: true, Agents: []wire.AgentState{{SpaceID: "s2", Connected: true, Version: "v2", LastSeen: seen}}})
	for {
		f := eu.mustNext()
		as, ok := f.(*wire.AgentStates)
		if !ok {
			continue
		}
		if as.Location != "us" || len(as.Agents) == 0 {
			t.Fatalf("eu was sent %+v: want only us's agent s2", as)
		}
		if as.Agents[0].SpaceID == "s2" && as.Agents[0].Connected && !as.Unlinked {
			break
		}
	}
}

// A leaf's agent states name no location: one that does is cut.
func TestALeafsAgentStatesNameNoLocation(t *testing.T) {
	o := startOrigin(t, memory.New(), origin.Options{})
	r := mustDialRaw(t, o, sharedToken)
	r.welcome(hello("n1", "eu", "", 0))
	r.send(&wire.AgentStates{Location: "us", Agents: []wire.AgentState{{SpaceID: "s1", Connected: true, Version: "v1"}}})
	code, reason := r.closed()
	if code != wire.CloseMalformed || !strings.Contains(reason, "name no location") {
		t.Fatalf("the link closed with %d %q, want %d saying a leaf's agent states name no location", code, reason, wire.CloseMalformed)
	}
	if _, _, ok := o.hub().AgentState("us", "s1"); ok {
		t.Fatal("the hub kept what a leaf said of another location")
	}
}

// A location whose last agent goes is reset at the leaves that heard of
// it, although the hub then holds nothing of it.
func TestALocationLeftWithoutAgentsIsResetAtTheLeaves(t *testing.T) {
	o := startOrigin(t, memory.New(), origin.Options{KeepAlive: 200 * time.Millisecond})
	seen := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	eu := mustDialRaw(t, o, sharedToken)
	eu.welcome(hello("n1", "eu", "", 0))
	go func() { // eu reads what comes, as a leaf does, so that its link stays
		for {
			if _, err := eu.next(); err != nil {
				return
			}
		}
	}()
	us := mustDialRaw(t, o, sharedToken)
	us.welcome(hello("n2", "us", "", 0))
	eu.send(&wire.AgentStates{Reset: true, Agents: []wire.AgentState{{SpaceID: "s1", Connected: true, Version: "v1", LastSeen: seen}}})
	agentsFrom(t, us, "eu", func(f *wire.AgentStates) bool { return len(f.Agents) == 1 && f.Agents[0].Connected })

	eu.send(&wire.AgentStates{Reset: true})
	agentsFrom(t, us, "eu", func(f *wire.AgentStates) bool { return f.Reset && len(f.Agents) == 0 })
	if _, _, ok := o.hub().AgentState("eu", "s1"); ok {
		t.Fatal("the hub still holds eu's s1 after eu's empty reset")
	}
}
