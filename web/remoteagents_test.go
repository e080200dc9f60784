package web_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/agent"
	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/tlsconf"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/web"
)

// agentFleet is a fleet whose leaf (version "test") runs an agent
// endpoint, reporting its agents' states to the origin.
type agentFleet struct {
	*fleet
	agents      *leaf.Agents
	endpoint    string
	fingerprint string
}

func newAgentFleet(t *testing.T) *agentFleet {
	t.Helper()
	cert, err := tlsconf.LoadServer(tlsconf.ServerOptions{SelfSignedDir: t.TempDir(), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	af := &agentFleet{fingerprint: cert.Fingerprint}
	af.fleet = newFleetWithOptions(t, func(f *fleet) {
		af.agents, err = leaf.NewAgents(leaf.AgentsOptions{
			Space: func(ctx context.Context, id string) (*shared.Space, error) {
				return storage.Get[shared.Space](ctx, f.leafStore, id)
			},
			Location: "away", TLS: cert.Config, Version: "test", Heartbeat: 200 * time.Millisecond, Logger: quietLog(),
			Changed: func(id string) { f.uplink.AgentChanged(id) },
		})
		if err != nil {
			t.Fatal(err)
		}
		f.leafOpts = func(o *web.Options) { o.Agents = af.agents }
		f.uplinkOpts = func(o *leaf.Options) {
			o.Agents, o.AgentReportDelay, o.AgentRefresh = af.agents, 20*time.Millisecond, time.Hour
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	af.endpoint = ln.Addr().String()
	run(t, func(ctx context.Context) error { return af.agents.Serve(ctx, ln) })
	return af
}

// runAgent runs a real agent of version for the space until the returned
// function stops it.
func (af *agentFleet) runAgent(t *testing.T, spaceID, token, version string) (stop func()) {
	t.Helper()
	a, err := agent.New(agent.Options{Endpoint: af.endpoint, SpaceID: spaceID, Token: token, Fingerprint: af.fingerprint,
		Version: version, Logger: quietLog(), MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { a.Run(ctx) })
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// The origin shows the agent of a leaf's space, as the leaf reports it: in
// the space's record, in the list and among the outdated agents (against
// the leaf's version); when the agent goes away, within a second or so,
// with when it was last seen; and again after the origin restarts.
func TestOriginShowsTheAgentsOfALeafsSpaces(t *testing.T) {
	af := newAgentFleet(t)
	ob := af.originSW.srv.URL
	af.waitConnected(true)
	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}, nil)
	session := af.login(ob)
	var tmpl struct {
		ID string `json:"template_id"`
	}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/templates", session, map[string]any{"name": "byo", "kind": "manual"}, &tmpl)
	waitRecord(t, af.leafStore, shared.KindTemplate, tmpl.ID, false)
	var sp api.SpaceCreated
	mustCall(t, http.StatusCreated, ob, "POST", "/api/spaces", session, map[string]any{"name": "dev", "template_id": tmpl.ID, "location": "away"}, &sp)
	waitRecord(t, af.leafStore, shared.KindSpace, sp.SpaceID, false)

	agentAt := func() (one, listed *api.SpaceAgent) {
		var s api.Space
		mustCall(t, http.StatusOK, ob, "GET", "/api/spaces/"+sp.SpaceID, session, nil, &s)
		var l api.SpaceList
		mustCall(t, http.StatusOK, ob, "GET", "/api/spaces", session, nil, &l)
		for _, x := range l.Spaces {
			if x.ID == sp.SpaceID {
				listed = x.Agent
			}
		}
		return s.Agent, listed
	}
	if one, listed := agentAt(); one != nil || listed != nil {
		t.Fatalf("before any agent linked, the origin shows %+v and %+v", one, listed)
	}

	stop := af.runAgent(t, sp.SpaceID, sp.AgentToken, "v0.9-old")
	eventually(t, 10*time.Second, func() string {
		one, listed := agentAt()
		for _, a := range []*api.SpaceAgent{one, listed} {
			if a == nil || !a.Connected || a.Version != "v0.9-old" || !a.Outdated || a.LastSeen == nil {
				return fmt.Sprintf("the origin shows the agent as %+v (list: %+v)", a, listed)
			}
		}
		return ""
	})
	var out api.OutdatedAgents
	mustCall(t, http.StatusOK, ob, "GET", "/api/agents/outdated", session, nil, &out)
	if out.Count != 1 || out.Agents[0].SpaceID != sp.SpaceID || out.Agents[0].Location != "away" ||
		out.Agents[0].AgentVersion != "v0.9-old" || out.Agents[0].ServerVersion != "test" || out.Agents[0].Username != "admin" {
		t.Fatalf("outdated agents at the origin: %+v, want dev at away, v0.9-old against the leaf's test", out)
	}

	// The origin restarts: the leaf's first report holds its agents again.
	af.uplinkRun.stop()
	af.stopOrigin()
	af.startOrigin()
	af.uplinkRun = run(t, af.uplink.Run)
	eventually(t, 10*time.Second, func() string {
		if one, _ := agentAt(); one == nil || !one.Connected || one.Version != "v0.9-old" {
			return fmt.Sprintf("after the origin restarted it shows %+v", one)
		}
		return ""
	})

	// The agent goes away: connected no more, with when it was last seen.
	stop()
	eventually(t, 10*time.Second, func() string {
		one, listed := agentAt()
		for _, a := range []*api.SpaceAgent{one, listed} {
			if a == nil || a.Connected || a.Outdated || a.LastSeen == nil || time.Since(*a.LastSeen) > time.Minute {
				return fmt.Sprintf("the origin shows the agent that left as %+v", a)
			}
		}
		return ""
	})
	mustCall(t, http.StatusOK, ob, "GET", "/api/agents/outdated", session, nil, &out)
	if out.Count != 0 {
		t.Fatalf("outdated agents after it left: %+v", out)
	}
}
