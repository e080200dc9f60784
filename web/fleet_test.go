package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

const fleetToken = "the-shared-token-of-the-test-fleet"

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// switchable is an httptest server whose handler can be swapped, so that an
// origin can go down and come back at the same address.
type switchable struct {
	srv *httptest.Server
	h   atomic.Pointer[http.Handler]
}

func newSwitchable(t *testing.T) *switchable {
	sw := &switchable{}
	sw.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*sw.h.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(sw.srv.Close)
	sw.set(down)
	return sw
}

func (sw *switchable) set(h http.Handler) { sw.h.Store(&h) }

// down answers like a port where nothing listens would, as far as HTTP goes.
var down http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	w.WriteHeader(http.StatusBadGateway)
})

// runner runs a component until stopped.
type runner struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func run(t *testing.T, f func(context.Context) error) *runner {
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := f(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *runner) stop() {
	r.cancel()
	<-r.done
}

// fleet is an origin (location home) and a leaf (location away), each a web
// server on a loopback httptest server, over memory stores.
type fleet struct {
	t *testing.T

	originStore *memory.Store
	originSW    *switchable
	hub         *origin.Hub
	origin      *web.Server
	hubRun      *runner

	keepAlive time.Duration // the hub's; 100 ms unless a test sets it before startOrigin

	// Set by newFleetWithOptions before anything starts: more options of
	// the hub and of each web server, and the leaf's credential (nil and ""
	// mean none and the shared token).
	hubOpts              func(*origin.Options)
	uplinkOpts           func(*leaf.Options)
	originOpts, leafOpts func(*web.TestOptions)
	leafToken            string
	leafLocation         string // "away" unless set
	leafVersion          string // "test" unless set

	leafStore *memory.Store
	backups   string // the leaf's BackupDir
	leafSrv   *httptest.Server
	uplink    *leaf.Uplink
	leaf      *web.Server
	uplinkRun *runner
}

func newFleet(t *testing.T) *fleet { return newFleetWith(t, 100*time.Millisecond) }

// newFleetWith is newFleet with the hub's keep-alive interval.
func newFleetWith(t *testing.T, keepAlive time.Duration) *fleet {
	return newFleetWithOptions(t, func(f *fleet) { f.keepAlive = keepAlive })
}

// newFleetWithOptions is newFleet after set has changed the fleet's options
// (and perhaps written records into its stores).
func newFleetWithOptions(t *testing.T, set func(*fleet)) *fleet {
	f := &fleet{t: t, originStore: memory.New(), leafStore: memory.New(), keepAlive: 100 * time.Millisecond, backups: t.TempDir()}
	set(f)
	f.originSW = newSwitchable(t)
	f.startOrigin()
	f.startLeaf()
	return f
}

// startOrigin runs a new hub and origin web server over the origin's store.
// The hub polls the store only every hour: a leaf hears of a write at once
// only when the web server notifies the hub.
func (f *fleet) startOrigin() {
	t := f.t
	ho := origin.Options{Store: f.originStore, Logger: quietLog(), SharedTokenHash: crypt.HashToken(fleetToken),
		PollInterval: time.Hour, KeepAlive: f.keepAlive}
	if f.hubOpts != nil {
		f.hubOpts(&ho)
	}
	hub, err := origin.New(ho)
	if err != nil {
		t.Fatal(err)
	}
	wo := web.TestOptions{Store: f.originStore, Logger: quietLog(), Location: "home", Hub: hub,
		ValidateTemplate: func(*shared.Template) error { return nil }}
	if f.originOpts != nil {
		f.originOpts(&wo)
	}
	srv, err := web.NewTest(wo)
	if err != nil {
		t.Fatal(err)
	}
	f.hub, f.origin = hub, srv
	f.hubRun = run(t, hub.Run)
	f.originSW.set(srv.Handler())
}

// stopOrigin takes the origin down: its links close and its address
// refuses every request.
func (f *fleet) stopOrigin() {
	f.originSW.set(down)
	f.hubRun.stop()
}

func (f *fleet) startLeaf() {
	t := f.t
	token := fleetToken
	if f.leafToken != "" {
		token = f.leafToken
	}
	location := "away"
	if f.leafLocation != "" {
		location = f.leafLocation
	}
	version := "test"
	if f.leafVersion != "" {
		version = f.leafVersion
	}
	uo := leaf.Options{Store: f.leafStore, OriginURL: f.originSW.srv.URL, Token: token, Location: location,
		NodeID: "node-away", Version: version, Runtimes: []string{"docker"}, Logger: quietLog(),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, ReportInterval: time.Hour, BackupDir: f.backups}
	if f.uplinkOpts != nil {
		f.uplinkOpts(&uo)
	}
	up, err := leaf.New(uo)
	if err != nil {
		t.Fatal(err)
	}
	wo := web.TestOptions{Store: f.leafStore, Logger: quietLog(), Location: location, Version: version,
		Leaf: &web.TestLeaf{Uplink: up, OriginURL: f.originSW.srv.URL, Token: token}}
	if f.leafOpts != nil {
		f.leafOpts(&wo)
	}
	srv, err := web.NewTest(wo)
	if err != nil {
		t.Fatal(err)
	}
	f.uplink, f.leaf = up, srv
	f.leafSrv = httptest.NewServer(srv.Handler())
	t.Cleanup(f.leafSrv.Close)
	f.uplinkRun = run(t, up.Run)
}

// answer is an HTTP answer.
type answer struct {
	code   int
	header http.Header
	body   []byte
}

func (a answer) String() string { return string(a.body) }

func (a answer) errMsg(t *testing.T) string {
	t.Helper()
	var e struct{ Error string }
	if json.Unmarshal(a.body, &e) != nil || e.Error == "" {
		t.Fatalf("answer %d %s is not an error body", a.code, a.body)
	}
	return e.Error
}

// call sends a request to base over HTTP.
func call(t *testing.T, base, method, path, token string, body any) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, header: resp.Header, body: data}
}

// mustCall is call that fails unless the answer has status want, and
// decodes the body into out when given.
func mustCall(t *testing.T, want int, base, method, path, token string, body any, out any) answer {
	t.Helper()
	a := call(t, base, method, path, token, body)
	if a.code != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, a.code, a.body, want)
	}
	if out != nil {
		if err := json.Unmarshal(a.body, out); err != nil {
			t.Fatalf("decode %s: %v", a.body, err)
		}
	}
	return a
}

// eventually polls cond until it returns "" or the deadline passes; it then
// fails with the last message.
func eventually(t *testing.T, within time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, msg)
		}
		<-tick.C
	}
}

func (f *fleet) login(base string) string {
	f.t.Helper()
	var out struct{ Token string }
	mustCall(f.t, http.StatusOK, base, "POST", "/api/auth", "", map[string]string{"email": "admin@example.com", "password": testPassword}, &out)
	return out.Token
}

func (f *fleet) waitConnected(want bool) {
	f.t.Helper()
	eventually(f.t, 5*time.Second, func() string {
		if f.uplink.Status().Connected != want {
			return "the leaf's link is not as expected: " + f.uplink.Status().Reason
		}
		return ""
	})
}

// waitRecord waits until the store holds (or, with gone, no longer holds)
// the record.
func waitRecord(t *testing.T, st storage.Store, kind shared.Kind, id string, gone bool) {
	t.Helper()
	eventually(t, 5*time.Second, func() string {
		_, err := st.Get(context.Background(), kind, id)
		switch {
		case gone && err == nil:
			return string(kind) + " " + id + " is still there"
		case !gone && err != nil:
			return string(kind) + " " + id + ": " + err.Error()
		}
		return ""
	})
}

func spaceOf(t *testing.T, st storage.Store, id string) *shared.Space {
	t.Helper()
	sp, err := storage.Get[shared.Space](context.Background(), st, id)
	if err != nil {
		t.Fatalf("space %s: %v", id, err)
	}
	return sp
}

func TestLeafServerEndpoint(t *testing.T) {
	t.Run("StandaloneIs404", func(t *testing.T) {
		e := newEnv(t)
		r := e.do("GET", wire.Path, fleetToken, nil)
		if r.code != http.StatusNotFound || !strings.Contains(r.errMsg(t), "not an origin") {
			t.Fatalf("GET %s on a standalone server = %d %s", wire.Path, r.code, r.body)
		}
	})
	f := newFleet(t)
	base := f.originSW.srv.URL
	t.Run("RefusedCredentialIs401WithTheReason", func(t *testing.T) {
		_, resp, err := websocket.Dial(context.Background(), base+wire.Path, &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Bearer wrong"}}, Subprotocols: []string{wire.Subprotocol}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("dial with a wrong token: %v, %v; want 401", resp, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), "not a valid token") {
			t.Fatalf("401 body %s does not give the reason", body)
		}
	})
	t.Run("MissingSubprotocolIs400", func(t *testing.T) {
		_, resp, err := websocket.Dial(context.Background(), base+wire.Path, &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Bearer " + fleetToken}}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("dial without the subprotocol: %v, %v; want 400", resp, err)
		}
	})
	t.Run("TheLeafConnects", func(t *testing.T) {
		f.waitConnected(true)
		if st := f.uplink.Status(); st.Protocol != wire.ProtocolMax || st.Location != "away" {
			t.Fatalf("status %+v", st)
		}
	})
}

// TestFleet walks an origin and a leaf through the life DESIGN.md promises:
// replication on every write, autonomy of the leaf, forwarding of writes to
// origin-owned data, spaces of the leaf shown and commanded at the origin,
// audit events reaching the origin, and the origin going down and back.
func TestFleet(t *testing.T) {
	f := newFleet(t)
	ob, lb := f.originSW.srv.URL, f.leafSrv.URL
	f.waitConnected(true)

	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}, nil)
	originSession := f.login(ob)
	var tmpl struct {
		ID string `json:"template_id"`
	}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/templates", originSession, map[string]any{"name": "byo", "kind": "manual"}, &tmpl)

	t.Run("WritesAtTheOriginReachTheLeafAtOnce", func(t *testing.T) {
		waitRecord(t, f.leafStore, shared.KindTemplate, tmpl.ID, false)
	})

	var leafSession string
	t.Run("UsersLogInAtTheLeaf", func(t *testing.T) {
		leafSession = f.login(lb)
		if _, err := f.originStore.Get(context.Background(), shared.KindSession, crypt.HashToken(leafSession)); err == nil {
			t.Fatal("the leaf's session is at the origin")
		}
	})

	t.Run("SessionWriteAtTheLeafIsForwardedWithTheOriginSession", func(t *testing.T) {
		a := mustCall(t, http.StatusCreated, lb, "POST", "/api/templates", leafSession, map[string]any{"name": "t2", "kind": "manual"}, nil)
		if a.header.Get("X-Knot-Forwarded-To") != "origin" {
			t.Fatalf("the answer was not the origin's: %v", a.header)
		}
	})

	t.Run("CookieWriteAtTheLeafNeedsTheCSRFHeader", func(t *testing.T) {
		body, _ := json.Marshal(map[string]string{"email": "admin@example.com", "password": testPassword})
		resp, err := http.Post(lb+"/api/auth/web", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		send := func(csrf bool) int {
			req, _ := http.NewRequest("POST", lb+"/api/templates", strings.NewReader(`{"name":"t-cookie","kind":"manual"}`))
			req.Header.Set("Content-Type", "application/json")
			for _, c := range resp.Cookies() {
				req.AddCookie(c)
				if csrf && c.Name == "__KNOT_CSRF" {
					req.Header.Set("X-CSRF-Token", c.Value)
				}
			}
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			return r.StatusCode
		}
		if code := send(false); code != http.StatusForbidden {
			t.Fatalf("cookie write without the CSRF header = %d, want 403", code)
		}
		if code := send(true); code != http.StatusCreated {
			t.Fatalf("cookie write with the CSRF header = %d, want 201", code)
		}
	})

	var apiToken string
	t.Run("TokenWriteAtTheLeafIsForwarded", func(t *testing.T) {
		var tok struct{ Token string }
		mustCall(t, http.StatusCreated, ob, "POST", "/api/tokens", originSession, map[string]any{"name": "cli"}, &tok)
		apiToken = tok.Token
		var created struct {
			ID string `json:"template_id"`
		}
		a := mustCall(t, http.StatusCreated, lb, "POST", "/api/templates", apiToken, map[string]any{"name": "from-leaf", "kind": "manual"}, &created)
		if a.header.Get("X-Knot-Forwarded-To") != "origin" {
			t.Fatalf("the answer was not the origin's: %v", a.header)
		}
		if _, err := f.originStore.Get(context.Background(), shared.KindTemplate, created.ID); err != nil {
			t.Fatalf("the template is not at the origin: %v", err)
		}
		waitRecord(t, f.leafStore, shared.KindTemplate, created.ID, false)
		// The origin's refusal comes back as it is.
		a = mustCall(t, http.StatusConflict, lb, "POST", "/api/templates", apiToken, map[string]any{"name": "from-leaf", "kind": "manual"}, nil)
		if !strings.Contains(a.errMsg(t), "from-leaf") {
			t.Fatalf("conflict message %q", a.errMsg(t))
		}
	})

	t.Run("LocalVariablesStayAtTheLeaf", func(t *testing.T) {
		var v struct {
			ID string `json:"templatevar_id"`
		}
		a := mustCall(t, http.StatusCreated, lb, "POST", "/api/templatevars", leafSession, map[string]any{"name": "gpu", "value": "yes", "local": true}, &v)
		if a.header.Get("X-Knot-Forwarded-To") != "" {
			t.Fatal("a local variable was forwarded")
		}
		if _, err := f.originStore.Get(context.Background(), shared.KindTemplateVar, v.ID); err == nil {
			t.Fatal("the local variable is at the origin")
		}
		mustCall(t, http.StatusOK, lb, "DELETE", "/api/templatevars/"+v.ID, leafSession, nil, nil)
	})

	var spaceID string
	t.Run("SpacesOfTheLeafShowAtTheOriginWithTheirLocation", func(t *testing.T) {
		var sp struct {
			ID string `json:"space_id"`
		}
		mustCall(t, http.StatusCreated, lb, "POST", "/api/spaces", leafSession, map[string]any{"name": "dev", "template_id": tmpl.ID}, &sp)
		spaceID = sp.ID
		mustCall(t, http.StatusOK, lb, "POST", "/api/spaces/"+spaceID+"/start", leafSession, nil, nil)
		eventually(t, 5*time.Second, func() string {
			var list struct {
				Spaces []struct {
					ID       string `json:"space_id"`
					Location string `json:"location"`
					State    string `json:"state"`
				} `json:"spaces"`
			}
			mustCall(t, http.StatusOK, ob, "GET", "/api/spaces?all=true", originSession, nil, &list)
			for _, s := range list.Spaces {
				if s.ID == spaceID && s.Location == "away" && s.State == "running" {
					return ""
				}
			}
			return "the origin lists " + jsonOf(list)
		})
	})

	t.Run("TheOriginStopsASpaceOfTheLeaf", func(t *testing.T) {
		var out struct{ State string }
		mustCall(t, http.StatusOK, ob, "POST", "/api/spaces/"+spaceID+"/stop", originSession, nil, &out)
		if got := spaceOf(t, f.leafStore, spaceID).State; got != shared.SpaceStopped {
			t.Fatalf("at the leaf the space is %s", got)
		}
		if out.State != "stopped" {
			t.Fatalf("the origin answered state %q", out.State)
		}
		a := mustCall(t, http.StatusConflict, ob, "PUT", "/api/spaces/"+spaceID, originSession, map[string]any{"description": "x"}, nil)
		if !strings.Contains(a.errMsg(t), "away") {
			t.Fatalf("message %q does not name the location", a.errMsg(t))
		}
	})

	var boxed string
	t.Run("LocationAutoPicksALeafThatRunsTheKind", func(t *testing.T) {
		var ct struct {
			ID string `json:"template_id"`
		}
		mustCall(t, http.StatusCreated, ob, "POST", "/api/templates", originSession, map[string]any{"name": "box", "kind": "container", "spec": "image: x"}, &ct)
		waitRecord(t, f.leafStore, shared.KindTemplate, ct.ID, false)
		var sp struct {
			ID string `json:"space_id"`
		}
		mustCall(t, http.StatusCreated, ob, "POST", "/api/spaces", originSession, map[string]any{"name": "boxed", "template_id": ct.ID, "location": "auto"}, &sp)
		if got := spaceOf(t, f.leafStore, sp.ID); got.Location != "away" {
			t.Fatalf("the space was placed at %q", got.Location)
		}
		waitRecord(t, f.originStore, shared.KindSpace, sp.ID, false)
		boxed = sp.ID
		// The leaf's refusal comes back as it is: this leaf runs no
		// containers.
		a := mustCall(t, http.StatusServiceUnavailable, ob, "POST", "/api/spaces/"+sp.ID+"/start", originSession, nil, nil)
		if !strings.Contains(a.errMsg(t), "no runtime is configured for container templates") {
			t.Fatalf("message %q is not the leaf's", a.errMsg(t))
		}
	})

	t.Run("AuditEventsOfTheLeafReachTheOriginOnce", func(t *testing.T) {
		eventually(t, 5*time.Second, func() string {
			n := 0
			evs, _, _ := f.originStore.ListAudit(context.Background(), 0, 0)
			for _, e := range evs {
				if e.Location == "away" && e.Event == "Space Create" {
					n++
				}
			}
			if n != 1 {
				return "the origin holds " + jsonOf(n) + " Space Create events of the leaf"
			}
			return ""
		})
	})

	t.Run("QuotaAtTheLeafCountsSpacesElsewhere", func(t *testing.T) {
		var me struct {
			ID string `json:"user_id"`
		}
		mustCall(t, http.StatusOK, ob, "GET", "/api/users/whoami", originSession, nil, &me)
		mustCall(t, http.StatusOK, ob, "PUT", "/api/users/"+me.ID, originSession, map[string]any{"max_spaces": 3}, nil)
		eventually(t, 5*time.Second, func() string {
			u, err := storage.Get[shared.User](context.Background(), f.leafStore, me.ID)
			if err != nil || u.MaxSpaces != 3 {
				return "the quota has not reached the leaf"
			}
			return ""
		})
		// Two spaces at the leaf (dev, boxed), one at the origin's own
		// location: the leaf must ask the origin to see the third.
		var home struct {
			ID string `json:"space_id"`
		}
		mustCall(t, http.StatusCreated, ob, "POST", "/api/spaces", originSession, map[string]any{"name": "homey", "template_id": tmpl.ID}, &home)
		var q struct {
			NumberSpaces int `json:"number_spaces"`
		}
		mustCall(t, http.StatusOK, lb, "GET", "/api/users/"+me.ID+"/quota", leafSession, nil, &q)
		if q.NumberSpaces != 3 {
			t.Fatalf("the leaf counts %d spaces, want 3", q.NumberSpaces)
		}
		mustCall(t, http.StatusInsufficientStorage, lb, "POST", "/api/spaces", leafSession, map[string]any{"name": "fourth", "template_id": tmpl.ID}, nil)
		mustCall(t, http.StatusOK, ob, "DELETE", "/api/spaces/"+home.ID, originSession, nil, nil)
		mustCall(t, http.StatusOK, ob, "PUT", "/api/users/"+me.ID, originSession, map[string]any{"max_spaces": 0}, nil)
	})

	t.Run("SpacesOfOtherLocationsShowAtTheLeaf", func(t *testing.T) {
		var yonder struct {
			ID string `json:"space_id"`
		}
		mustCall(t, http.StatusCreated, ob, "POST", "/api/spaces", originSession, map[string]any{"name": "yonder", "template_id": tmpl.ID}, &yonder)
		type listed struct {
			Spaces []struct {
				ID       string `json:"space_id"`
				Name     string `json:"name"`
				Location string `json:"location"`
				State    string `json:"state"`
			} `json:"spaces"`
		}
		// The leaf lists the origin's space with its location, and its
		// own spaces once each.
		leafLists := func(want string) func() string {
			return func() string {
				var l listed
				mustCall(t, http.StatusOK, lb, "GET", "/api/spaces", leafSession, nil, &l)
				var seen []string
				for _, sp := range l.Spaces {
					seen = append(seen, fmt.Sprintf("[%s %s %s]", sp.Name, sp.Location, sp.State))
				}
				sort.Strings(seen)
				if got := strings.Join(seen, ""); got != want {
					return "the leaf lists " + got + ", want " + want
				}
				return ""
			}
		}
		eventually(t, 5*time.Second, leafLists("[boxed away stopped][dev away stopped][yonder home stopped]"))
		if sp := spaceOf(t, f.leafStore, yonder.ID); sp.AgentTokenHash != "" {
			t.Fatal("the leaf holds the agent credential of a space of another location")
		}
		// Acting on it at the leaf goes through the origin, which runs it.
		a := mustCall(t, http.StatusOK, lb, "POST", "/api/spaces/"+yonder.ID+"/start", leafSession, nil, nil)
		if a.header.Get("X-Knot-Forwarded-To") != "origin" {
			t.Fatalf("the start was not the origin's: %v", a.header)
		}
		if got := spaceOf(t, f.originStore, yonder.ID).State; got != shared.SpaceRunning {
			t.Fatalf("at the origin the space is %s", got)
		}
		eventually(t, 5*time.Second, leafLists("[boxed away stopped][dev away stopped][yonder home running]"))
		// Its logs and its record are kept where it runs: the logs are
		// asked for there (and this origin keeps none), the record is
		// changed there.
		a = mustCall(t, http.StatusNotFound, lb, "GET", "/api/spaces/"+yonder.ID+"/logs", leafSession, nil, nil)
		if !strings.Contains(a.errMsg(t), "keeps no space logs") {
			t.Fatalf("logs of a space elsewhere: %q is not the answer of its server", a.errMsg(t))
		}
		mustCall(t, http.StatusConflict, lb, "PUT", "/api/spaces/"+yonder.ID, leafSession, map[string]any{"description": "x"}, nil)
		mustCall(t, http.StatusOK, lb, "DELETE", "/api/spaces/"+yonder.ID, leafSession, nil, nil)
		waitRecord(t, f.originStore, shared.KindSpace, yonder.ID, true)
		eventually(t, 5*time.Second, leafLists("[boxed away stopped][dev away stopped]"))
		// The origin made the start and the delete, and recorded them once,
		// as done by the leaf's user.
		evs, _, err := f.leafStore.ListAudit(context.Background(), 0, 0)
		for _, e := range evs {
			if e.Properties["space_id"] == yonder.ID {
				t.Errorf("the leaf recorded %q of a space the origin acted on", e.Event)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		evs, _, err = f.originStore.ListAudit(context.Background(), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var acts []string
		for _, e := range evs {
			if e.Properties["space_id"] == yonder.ID && e.Event != "Space Create" {
				acts = append(acts, e.Actor+" "+e.Event+" at "+e.Location)
			}
		}
		if got := strings.Join(acts, ", "); got != "admin Space Delete at home, admin Space Start at home" {
			t.Errorf("the origin recorded %q of the space, want its delete and its start once each", got)
		}
	})

	t.Run("FleetViewsAndMetrics", func(t *testing.T) {
		var leaves struct {
			Count  int
			Leaves []struct {
				NodeID    string   `json:"node_id"`
				Location  string   `json:"location"`
				Connected bool     `json:"connected"`
				Runtimes  []string `json:"runtimes"`
				Protocol  int      `json:"protocol"`
			}
		}
		mustCall(t, http.StatusOK, ob, "GET", "/api/leaves", originSession, nil, &leaves)
		if leaves.Count != 1 || leaves.Leaves[0].NodeID != "node-away" || leaves.Leaves[0].Location != "away" ||
			!leaves.Leaves[0].Connected || len(leaves.Leaves[0].Runtimes) != 1 || leaves.Leaves[0].Protocol != wire.ProtocolMax {
			t.Fatalf("leaves %s", jsonOf(leaves))
		}
		var st struct {
			OriginReachable bool  `json:"origin_reachable"`
			Applied         int64 `json:"applied_revision"`
		}
		mustCall(t, http.StatusOK, lb, "GET", "/api/leaf/status", leafSession, nil, &st)
		if !st.OriginReachable || st.Applied == 0 {
			t.Fatalf("leaf status %s", jsonOf(st))
		}
		om := string(mustCall(t, http.StatusOK, ob, "GET", "/metrics", "", nil, nil).body)
		for _, want := range []string{`knot_leaf_connected{location="away",node="node-away"} 1`, `knot_leaf_lag{location="away"`, "knot_leaves_connected 1", "go_memstats_heap_inuse_bytes ", "process_resident_memory_bytes "} {
			if !strings.Contains(om, want) {
				t.Errorf("origin metrics lack %q", want)
			}
		}
		lm := string(mustCall(t, http.StatusOK, lb, "GET", "/metrics", "", nil, nil).body)
		for _, want := range []string{"knot_origin_reachable 1", "knot_replica_applied_revision ", "knot_replica_lag "} {
			if !strings.Contains(lm, want) {
				t.Errorf("leaf metrics lack %q", want)
			}
		}
	})

	var offline, downSession string
	t.Run("TheLeafServesWhileTheOriginIsDown", func(t *testing.T) {
		f.stopOrigin()
		f.waitConnected(false)
		a := mustCall(t, http.StatusServiceUnavailable, lb, "POST", "/api/templates", apiToken, map[string]any{"name": "t3", "kind": "manual"}, nil)
		if msg := a.errMsg(t); !strings.Contains(msg, ob) || !strings.Contains(msg, "not reachable") {
			t.Fatalf("503 message %q does not name the origin", msg)
		}
		s := f.login(lb)
		downSession = s
		var sp struct {
			ID string `json:"space_id"`
		}
		mustCall(t, http.StatusCreated, lb, "POST", "/api/spaces", s, map[string]any{"name": "offline", "template_id": tmpl.ID}, &sp)
		offline = sp.ID
		mustCall(t, http.StatusOK, lb, "POST", "/api/spaces/"+offline+"/start", s, nil, nil)
		mustCall(t, http.StatusOK, lb, "POST", "/api/spaces/"+offline+"/stop", s, nil, nil)
		mustCall(t, http.StatusOK, lb, "DELETE", "/api/spaces/"+spaceID, s, nil, nil)
		var st struct {
			OriginReachable bool   `json:"origin_reachable"`
			Reason          string `json:"reason"`
		}
		mustCall(t, http.StatusOK, lb, "GET", "/api/leaf/status", s, nil, &st)
		if st.OriginReachable || st.Reason == "" {
			t.Fatalf("leaf status while the origin is down: %s", jsonOf(st))
		}
	})

	t.Run("TheLeafCatchesUpWhenTheOriginIsBack", func(t *testing.T) {
		f.startOrigin()
		f.waitConnected(true)
		waitRecord(t, f.originStore, shared.KindSpace, offline, false)
		waitRecord(t, f.originStore, shared.KindSpace, spaceID, true)
		// The audit events of the leaf arrive once, the ones recorded while
		// the origin was down included, though the new hub remembers none.
		eventually(t, 5*time.Second, func() string {
			n := 0
			evs, _, _ := f.originStore.ListAudit(context.Background(), 0, 0)
			for _, e := range evs {
				if e.Location == "away" && e.Event == "Space Create" {
					n++
				}
			}
			if n != 2 {
				return "the origin holds " + jsonOf(n) + " Space Create events of the leaf, want 2"
			}
			return ""
		})
		if got := spaceOf(t, f.originStore, offline).Location; got != "away" {
			t.Fatalf("the origin has the space at %q", got)
		}
		originSession = f.login(ob)
		mustCall(t, http.StatusCreated, ob, "POST", "/api/templates", originSession, map[string]any{"name": "later", "kind": "manual"}, nil)
		// A session opened at the leaf while the origin was down has no
		// session at the origin to go with.
		a := mustCall(t, http.StatusConflict, lb, "POST", "/api/templates", downSession, map[string]any{"name": "t4", "kind": "manual"}, nil)
		if msg := a.errMsg(t); !strings.Contains(msg, "log in again") || !strings.Contains(msg, "API token") {
			t.Fatalf("409 message %q", msg)
		}
		eventually(t, 5*time.Second, func() string {
			if _, err := storage.Lookup[shared.Template](context.Background(), f.leafStore, "name:later"); err != nil {
				return "the later template is not at the leaf: " + err.Error()
			}
			return ""
		})
	})

	t.Run("TheOriginDeletesASpaceOfTheLeaf", func(t *testing.T) {
		mustCall(t, http.StatusOK, ob, "DELETE", "/api/spaces/"+offline, originSession, nil, nil)
		waitRecord(t, f.leafStore, shared.KindSpace, offline, true)
		waitRecord(t, f.originStore, shared.KindSpace, offline, true)
	})

	t.Run("ACommandToADisconnectedLeafIs503", func(t *testing.T) {
		f.uplinkRun.stop()
		eventually(t, 5*time.Second, func() string {
			if ls := f.hub.Leaves(); len(ls) == 0 || ls[0].Connected {
				return "the leaf is still connected"
			}
			return ""
		})
		a := mustCall(t, http.StatusServiceUnavailable, ob, "POST", "/api/spaces/"+boxed+"/stop", originSession, nil, nil)
		if !strings.Contains(a.errMsg(t), `location "away", whose leaf is not connected`) {
			t.Fatalf("503 message %q does not name the location", a.errMsg(t))
		}
	})
}

// TestSpaceWritesAtTheOriginReachTheLeafAtOnce: the hub hears of a space
// written at the origin when it is written, not at its next poll or
// keep-alive (both an hour here).
func TestSpaceWritesAtTheOriginReachTheLeafAtOnce(t *testing.T) {
	f := newFleetWith(t, time.Hour)
	ob := f.originSW.srv.URL
	f.waitConnected(true)
	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}, nil)
	session := f.login(ob)
	var tmpl struct {
		ID string `json:"template_id"`
	}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/templates", session, map[string]any{"name": "byo", "kind": "manual"}, &tmpl)
	var sp struct {
		ID string `json:"space_id"`
	}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/spaces", session, map[string]any{"name": "dev", "template_id": tmpl.ID}, &sp)
	waitRecord(t, f.leafStore, shared.KindSpace, sp.ID, false)
	mustCall(t, http.StatusOK, ob, "POST", "/api/spaces/"+sp.ID+"/start", session, nil, nil)
	eventually(t, 5*time.Second, func() string {
		if got := spaceOf(t, f.leafStore, sp.ID).State; got != shared.SpaceRunning {
			return "at the leaf the origin's space is " + string(got)
		}
		return ""
	})
}

func TestLeafWithoutPasswordsSaysWhereToLogIn(t *testing.T) {
	st := memory.New()
	up, err := leaf.New(leaf.Options{Store: st, OriginURL: "http://127.0.0.1:1", Token: "t", NodeID: "n"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *web.TestOptions) {
		o.Store = st
		o.Leaf = &web.TestLeaf{Uplink: up, OriginURL: "http://127.0.0.1:1"}
	})
	e.store = st
	u, _ := e.user("ann")
	u.PasswordHash = ""
	u.Revision = 0
	if err := st.Apply(context.Background(), storage.Batch{Epoch: "e", Applied: 1, Changes: []shared.Change{mustChange(t, u)}}); err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/api/auth", "", map[string]string{"email": "ann@example.com", "password": testPassword})
	if r.code != http.StatusUnauthorized || !strings.Contains(r.errMsg(t), "log in at the origin http://127.0.0.1:1") {
		t.Fatalf("login = %d %s", r.code, r.body)
	}
}

func mustChange(t *testing.T, rec shared.Record) shared.Change {
	c, err := storage.Encode(rec)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLeafTokensAPI(t *testing.T) {
	hubOf := func(o *web.TestOptions) {
		h, err := origin.New(origin.Options{Store: o.Store, SharedTokenHash: crypt.HashToken(fleetToken), Now: o.Now})
		if err != nil {
			t.Fatal(err)
		}
		o.Hub = h
	}
	e := newEnv(t, hubOf)
	_, admin := e.admin()
	_, ann := e.user("ann", shared.AdminRoleID+"-not")

	var created struct {
		ID       string `json:"leaf_token_id"`
		Token    string `json:"token"`
		Location string `json:"location"`
		Name     string `json:"name"`
	}
	e.must(http.StatusCreated, "POST", "/api/leaf-tokens", admin, map[string]string{"location": "eu", "name": "eu-1"}).decode(t, &created)
	if created.Token == "" || created.ID != crypt.HashToken(created.Token) || created.Location != "eu" || created.Name != "eu-1" {
		t.Fatalf("created %+v", created)
	}
	t.Run("ListShowsNoSecret", func(t *testing.T) {
		r := e.must(http.StatusOK, "GET", "/api/leaf-tokens", admin, nil)
		if strings.Contains(r.String(), created.Token) || !strings.Contains(r.String(), created.ID) {
			t.Fatalf("list %s", r.body)
		}
	})
	t.Run("RotateKeepsTheOldOneForTheOverlap", func(t *testing.T) {
		var rotated struct {
			ID    string `json:"leaf_token_id"`
			Token string `json:"token"`
		}
		e.must(http.StatusCreated, "POST", "/api/leaf-tokens/"+created.ID+"/rotate", admin, map[string]string{"overlap": "1h"}).decode(t, &rotated)
		if rotated.ID == created.ID || rotated.Token == "" {
			t.Fatalf("rotated %+v", rotated)
		}
		old, err := getRecord[shared.LeafToken](e, created.ID)
		if err != nil || !old.ExpiresAt.Equal(e.clock.Now().Add(time.Hour)) {
			t.Fatalf("old token %+v, %v", old, err)
		}
		e.must(http.StatusBadRequest, "POST", "/api/leaf-tokens/"+rotated.ID+"/rotate", admin, map[string]string{"overlap": "soon"})
	})
	t.Run("RevokeRemovesIt", func(t *testing.T) {
		e.must(http.StatusOK, "DELETE", "/api/leaf-tokens/"+created.ID, admin, nil)
		e.must(http.StatusNotFound, "DELETE", "/api/leaf-tokens/"+created.ID, admin, nil)
	})
	t.Run("BadRequests", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			token string
			body  any
			want  int
			msg   string
		}{
			{"NonAdminIs403", ann, map[string]string{"location": "eu"}, http.StatusForbidden, "Admin"},
			{"MissingLocationIs400", admin, map[string]string{"name": "x"}, http.StatusBadRequest, "location"},
			{"BadLocationIs400", admin, map[string]string{"location": "a b"}, http.StatusBadRequest, "location"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.must(tc.want, "POST", "/api/leaf-tokens", tc.token, tc.body)
				if !strings.Contains(r.errMsg(t), tc.msg) {
					t.Fatalf("message %q does not mention %q", r.errMsg(t), tc.msg)
				}
			})
		}
	})
	t.Run("StandaloneIs409", func(t *testing.T) {
		s := newEnv(t)
		_, admin := s.admin()
		r := s.must(http.StatusConflict, "GET", "/api/leaf-tokens", admin, nil)
		if !strings.Contains(r.errMsg(t), "not an origin") {
			t.Fatalf("message %q", r.errMsg(t))
		}
	})
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
