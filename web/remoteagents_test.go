package web_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/knot-dev/knot/agent"
	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/tlsconf"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/web"
)

// agentFleet is a fleet whose leaf (version "test") runs an agent
// endpoint, reporting its agents' states to the origin, and its spaces
// with a runtime.Manager, which keeps their logs.
type agentFleet struct {
	*fleet
	agents      *leaf.Agents
	manager     *runtime.Manager
	endpoint    string
	fingerprint string
}

func newAgentFleet(t *testing.T) *agentFleet {
	t.Helper()
	cert, err := tlsconf.LoadServer(tlsconf.ServerOptions{SelfSignedDir: t.TempDir(), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	af := &agentFleet{fingerprint: cert.Fingerprint, endpoint: ln.Addr().String()}
	af.fleet = newFleetWithOptions(t, func(f *fleet) {
		af.agents, err = leaf.NewAgents(leaf.AgentsOptions{
			Space: func(ctx context.Context, id string) (*shared.Space, error) {
				return storage.Get[shared.Space](ctx, f.leafStore, id)
			},
			Location: "away", Endpoint: af.endpoint, Fingerprint: af.fingerprint, TLS: cert.Config, Version: "test", Heartbeat: 200 * time.Millisecond, Logger: quietLog(),
			Changed: func(id string) {
				f.uplink.AgentChanged(id)
				if err := af.manager.AgentChanged(context.Background(), id); err != nil {
					t.Errorf("recording the agent of space %s: %v", id, err)
				}
			},
			Lines: func(id string, l agentwire.LogLine) {
				af.manager.Append(id, runtime.LogEntry{At: l.At, Level: l.Level, Text: l.Text})
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		af.manager, err = runtime.NewManager(runtime.Options{Records: leaf.SpaceRecords{Store: f.leafStore, Wrote: func() { f.uplink.Notify() }},
			Server: runtime.ServerInfo{Location: "away"}, Logger: quietLog(),
			AgentConnected: func(id string) bool { return af.agents.Status(id).Connected }})
		if err != nil {
			t.Fatal(err)
		}
		f.leafOpts = func(o *web.TestOptions) { o.Agents, o.Spaces, o.Logs = af.agents, af.manager, af.manager }
		f.uplinkOpts = func(o *leaf.Options) {
			o.Agents, o.AgentReportDelay, o.AgentRefresh = af.agents, 20*time.Millisecond, time.Hour
		}
	})
	run(t, func(ctx context.Context) error { return af.agents.Serve(ctx, ln) })
	return af
}

// manualSpace makes the admin (returning their session at the origin) and
// a manual space dev of theirs at the leaf, made at the origin.
func (af *agentFleet) manualSpace(t *testing.T) (string, api.SpaceCreated) {
	t.Helper()
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
	return session, sp
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
// the leaf's version); stale and not connected while the leaf is away;
// when the agent goes away, within a second or so, with when it was last
// seen; and again after the origin restarts.
func TestOriginShowsTheAgentsOfALeafsSpaces(t *testing.T) {
	af := newAgentFleet(t)
	ob := af.originSW.srv.URL
	session, sp := af.manualSpace(t)

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

	// The leaf's link ends: what it last said stays, stale and not
	// connected, until the leaf is back.
	af.uplinkRun.stop()
	eventually(t, 10*time.Second, func() string {
		one, listed := agentAt()
		for _, a := range []*api.SpaceAgent{one, listed} {
			if a == nil || a.Connected || !a.Stale || a.Outdated || a.Version != "v0.9-old" || a.LastSeen == nil {
				return fmt.Sprintf("with the leaf gone the origin shows the agent as %+v (list: %+v), want it stale and not connected", a, listed)
			}
		}
		return ""
	})
	af.uplinkRun = run(t, af.uplink.Run)
	eventually(t, 10*time.Second, func() string {
		if one, _ := agentAt(); one == nil || !one.Connected || one.Stale {
			return fmt.Sprintf("with the leaf back the origin shows %+v", one)
		}
		return ""
	})

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

// At the origin, the agent environment and a new agent token of a manual
// space at a leaf come from that leaf, relayed: they hold the leaf's
// endpoint and fingerprint, and the agent links there with them; someone
// else's space is not found. The space's log is relayed from the leaf too,
// recent lines and then new ones over the websocket. With the leaf gone,
// both answer 503 at once, naming the location.
func TestOriginRelaysTheAgentTokenAndLogOfALeafsSpace(t *testing.T) {
	af := newAgentFleet(t)
	ob := af.originSW.srv.URL
	session, sp := af.manualSpace(t)

	a := call(t, ob, "GET", "/api/spaces/"+sp.SpaceID+"/agent-env", session, nil)
	if a.code != http.StatusOK {
		t.Fatalf("agent-env at the origin: %d %s", a.code, a.body)
	}
	env := map[string]string{}
	for _, line := range strings.Fields(string(a.body)) {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	if env["KNOT_AGENT_ENDPOINT"] != af.endpoint || env["KNOT_AGENT_FINGERPRINT"] != af.fingerprint || env["KNOT_SPACE_ID"] != sp.SpaceID || env["KNOT_AGENT_TOKEN"] == "" {
		t.Fatalf("agent-env at the origin:\n%s\nwant the leaf's endpoint %s and fingerprint", a.body, af.endpoint)
	}
	af.runAgent(t, sp.SpaceID, env["KNOT_AGENT_TOKEN"], "test")
	eventually(t, 10*time.Second, func() string {
		if !af.agents.Status(sp.SpaceID).Connected {
			return "the agent with the relayed token did not link at the leaf"
		}
		return ""
	})
	var tok api.AgentToken
	mustCall(t, http.StatusOK, ob, "POST", "/api/spaces/"+sp.SpaceID+"/agent-token", session, nil, &tok)
	if tok.Token == "" || tok.Env["KNOT_AGENT_TOKEN"] != tok.Token || tok.Env["KNOT_AGENT_ENDPOINT"] != af.endpoint {
		t.Fatalf("agent-token at the origin: %+v", tok)
	}
	if got := spaceOf(t, af.leafStore, sp.SpaceID).AgentTokenHash; got != crypt.HashToken(tok.Token) {
		t.Fatal("the leaf's space does not hold the hash of the token the origin gave")
	}

	// Someone else gets no agent environment of it.
	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", session, map[string]any{"username": "bob", "email": "bob@example.com", "password": testPassword}, nil)
	var bob struct{ Token string }
	mustCall(t, http.StatusOK, ob, "POST", "/api/auth", "", map[string]string{"email": "bob@example.com", "password": testPassword}, &bob)
	for _, r := range []struct{ method, path string }{{"GET", "/agent-env"}, {"POST", "/agent-token"}, {"GET", "/logs"}} {
		if a := call(t, ob, r.method, "/api/spaces/"+sp.SpaceID+r.path, bob.Token, nil); a.code != http.StatusNotFound {
			t.Errorf("bob's %s %s at the origin: %d %s, want 404", r.method, r.path, a.code, a.body)
		}
	}

	// The log.
	af.manager.Append(sp.SpaceID, runtime.LogEntry{At: time.Now(), Level: "info", Text: "first line at the leaf"})
	var logs struct{ Lines []string }
	mustCall(t, http.StatusOK, ob, "GET", "/api/spaces/"+sp.SpaceID+"/logs", session, nil, &logs)
	if len(logs.Lines) == 0 || !strings.HasSuffix(logs.Lines[len(logs.Lines)-1], "info first line at the leaf") {
		t.Fatalf("the log at the origin: %q", logs.Lines)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(ob, "http://", "ws://", 1)+"/api/spaces/"+sp.SpaceID+"/logs/stream",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + session}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	read := func(want string) {
		t.Helper()
		for {
			var l api.LogLine
			if err := wsjson.Read(ctx, ws, &l); err != nil {
				t.Fatalf("reading the followed log for %q: %v", want, err)
			}
			if l.Text == want {
				return
			}
		}
	}
	read("first line at the leaf")
	af.manager.Append(sp.SpaceID, runtime.LogEntry{At: time.Now(), Level: "error", Text: "a new line at the leaf"})
	read("a new line at the leaf")

	// The leaf goes away.
	af.uplinkRun.stop()
	eventually(t, 5*time.Second, func() string {
		if af.hub.Linked("away") {
			return "the origin still holds the leaf's link"
		}
		return ""
	})
	for _, r := range []struct{ method, path string }{{"GET", "/agent-env"}, {"POST", "/agent-token"}, {"GET", "/logs"}} {
		began := time.Now()
		a := call(t, ob, r.method, "/api/spaces/"+sp.SpaceID+r.path, session, nil)
		if a.code != http.StatusServiceUnavailable || !strings.Contains(a.errMsg(t), "location away is unreachable") || time.Since(began) > 2*time.Second {
			t.Errorf("%s %s with the leaf gone: %d %s after %s, want 503 at once naming the location", r.method, r.path, a.code, a.body, time.Since(began))
		}
	}
}
