package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

// secondLeaf is another leaf of the fleet's origin, at location, with no
// agent endpoint of its own; opts change its web server's options.
type secondLeaf struct {
	store  *memory.Store
	uplink *leaf.Uplink
	base   string
}

func (f *fleet) secondLeaf(location string, opts ...func(*web.TestOptions)) *secondLeaf {
	t := f.t
	t.Helper()
	l := &secondLeaf{store: memory.New()}
	up, err := leaf.New(leaf.Options{Store: l.store, OriginURL: f.originSW.srv.URL, Token: fleetToken, Location: location,
		NodeID: "node-" + location, Version: "test", Logger: quietLog(), MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		ReportInterval: time.Hour, BackupDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	wo := web.TestOptions{Store: l.store, Logger: quietLog(), Location: location,
		Leaf: &web.TestLeaf{Uplink: up, OriginURL: f.originSW.srv.URL, Token: fleetToken}}
	for _, o := range opts {
		o(&wo)
	}
	srv, err := web.NewTest(wo)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	l.uplink, l.base = up, hs.URL
	return l
}

// A leaf shows the agents of another leaf's spaces as the origin passes
// them on: in the space's record and in the list, connected with its
// version (outdated against that leaf's), within a few seconds of linking;
// stale and not connected while the leaf cannot reach its origin, and
// connected again when it can; and gone, with when it was last seen, when
// the agent leaves.
func TestLeafShowsTheAgentsOfAnotherLeafsSpaces(t *testing.T) {
	af := newAgentFleet(t)
	near := af.secondLeaf("near")
	nearRun := run(t, near.uplink.Run)
	_, sp := af.manualSpace(t)
	waitRecord(t, near.store, shared.KindSpace, sp.SpaceID, false)
	nearSession := af.login(near.base)

	agentAt := func() (one, listed *api.SpaceAgent) {
		var s api.Space
		mustCall(t, http.StatusOK, near.base, "GET", "/api/spaces/"+sp.SpaceID, nearSession, nil, &s)
		var l api.SpaceList
		mustCall(t, http.StatusOK, near.base, "GET", "/api/spaces", nearSession, nil, &l)
		for _, x := range l.Spaces {
			if x.ID == sp.SpaceID {
				listed = x.Agent
			}
		}
		return s.Agent, listed
	}
	// wait waits until both say what ok accepts.
	wait := func(what string, ok func(a *api.SpaceAgent) bool) {
		t.Helper()
		eventually(t, 10*time.Second, func() string {
			one, listed := agentAt()
			for _, a := range []*api.SpaceAgent{one, listed} {
				if !ok(a) {
					return fmt.Sprintf("leaf near shows the agent of the space at away as %+v (list: %+v), want it %s", one, listed, what)
				}
			}
			return ""
		})
	}
	if one, listed := agentAt(); one != nil || listed != nil {
		t.Fatalf("before any agent linked, leaf near shows %+v and %+v", one, listed)
	}

	stop := af.runAgent(t, sp.SpaceID, sp.AgentToken, "v0.9-old")
	connected := func(a *api.SpaceAgent) bool {
		return a != nil && a.Connected && !a.Stale && a.Version == "v0.9-old" && a.Outdated && a.LastSeen != nil
	}
	wait("connected, outdated against away's version", connected)

	// Leaf near loses its origin: what it holds is stale.
	nearRun.stop()
	wait("stale and not connected", func(a *api.SpaceAgent) bool {
		return a != nil && !a.Connected && a.Stale && a.Version == "v0.9-old" && !a.Outdated
	})
	nearRun = run(t, near.uplink.Run)
	wait("connected again", connected)

	// The agent leaves.
	stop()
	wait("gone, with when it was last seen", func(a *api.SpaceAgent) bool {
		return a != nil && !a.Connected && !a.Stale && !a.Outdated && a.LastSeen != nil && time.Since(*a.LastSeen) < time.Minute
	})
}
