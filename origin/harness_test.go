package origin_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
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
)

// quiet is the logger of hubs and leaves under test; KNOT_TEST_LOG=1 shows
// their log.
func quiet() *slog.Logger {
	if os.Getenv("KNOT_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

const sharedToken = "shared-secret-of-the-test-origin"

// testOrigin is a hub over a store behind an httptest server. The hub can
// be restarted, or replaced by one over another store, while the server
// (and its URL) stays.
type testOrigin struct {
	t     *testing.T
	srv   *httptest.Server
	opts  origin.Options
	cur   atomic.Pointer[origin.Hub]
	store storage.Store

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}

	checkSpace origin.SpaceCheck // given to the hub at its start
}

// clock is a settable clock for token expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// startOrigin runs a hub over st with opts (Store and Logger filled in)
// until the test ends.
func startOrigin(t *testing.T, st storage.Store, opts origin.Options) *testOrigin {
	t.Helper()
	o := &testOrigin{t: t, opts: opts}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/leaf-server" {
			http.NotFound(w, r)
			return
		}
		serveLeaf(o.cur.Load(), w, r)
	}))
	o.start(st)
	t.Cleanup(func() {
		o.stop()
		o.srv.Close()
	})
	return o
}

// serveLeaf does for the tests what the web layer does at GET
// /api/leaf-server: authenticate the bearer credential (401 with the reason
// when refused), upgrade with the leaf subprotocol, and Accept.
func serveLeaf(h *origin.Hub, w http.ResponseWriter, r *http.Request) {
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	cred, err := h.Authenticate(r.Context(), strings.TrimSpace(bearer))
	if err != nil {
		status := http.StatusServiceUnavailable
		if shared.ErrorCode(err) == shared.EUNAUTHORIZED {
			status = http.StatusUnauthorized
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": shared.ErrorMessage(err)})
		return
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{wire.Subprotocol}})
	if err != nil {
		return
	}
	h.Accept(r.Context(), conn, cred)
}

func (o *testOrigin) start(st storage.Store) {
	o.t.Helper()
	opts := o.opts
	opts.Store = st
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	if opts.SharedTokenHash == "" {
		opts.SharedTokenHash = crypt.HashToken(sharedToken)
	}
	h, err := origin.New(opts)
	if err != nil {
		o.t.Fatalf("origin.New: %v", err)
	}
	// The origin's own location is "origin"; restricted leaves' space
	// reports are checked by o.checkSpace, nil (refuse them all) unless a
	// test sets one.
	h.SetHome("origin", o.checkSpace)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := h.Run(ctx); err != nil {
			o.t.Errorf("hub.Run: %v", err)
		}
	}()
	o.mu.Lock()
	o.store, o.cancel, o.done = st, cancel, done
	o.mu.Unlock()
	o.cur.Store(h)
}

// stop stops the hub and waits until every link is closed.
func (o *testOrigin) stop() {
	o.mu.Lock()
	cancel, done := o.cancel, o.done
	o.mu.Unlock()
	cancel()
	<-done
}

// restart replaces the hub by a new one over st.
func (o *testOrigin) restart(st storage.Store) {
	o.stop()
	o.start(st)
}

func (o *testOrigin) hub() *origin.Hub { return o.cur.Load() }

func (o *testOrigin) Store() storage.Store {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.store
}

// testLeaf is an Uplink over a store, which can be stopped and started
// again with the same store, and whose connection can be cut.
type testLeaf struct {
	t     *testing.T
	opts  leaf.Options
	store storage.Store

	mu     sync.Mutex
	up     *leaf.Uplink
	conn   *websocket.Conn
	cancel context.CancelFunc
	done   chan struct{}
}

func startLeaf(t *testing.T, o *testOrigin, st storage.Store, opts leaf.Options) *testLeaf {
	t.Helper()
	opts.Store = st
	opts.OriginURL = o.srv.URL
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	if opts.Version == "" {
		opts.Version = "test"
	}
	if opts.MinBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = 5*time.Millisecond, 50*time.Millisecond
	}
	if opts.ReportInterval == 0 {
		opts.ReportInterval = 20 * time.Millisecond
	}
	l := &testLeaf{t: t, opts: opts, store: st}
	l.opts.Dial = func(ctx context.Context, url string, do *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
		c, resp, err := websocket.Dial(ctx, url, do)
		if err == nil {
			l.mu.Lock()
			l.conn = c
			l.mu.Unlock()
		}
		return c, resp, err
	}
	l.start()
	t.Cleanup(l.stop)
	return l
}

func (l *testLeaf) start() {
	l.t.Helper()
	l.opts.Store = l.store
	up, err := leaf.New(l.opts)
	if err != nil {
		l.t.Fatalf("leaf.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := up.Run(ctx); err != nil {
			l.t.Errorf("uplink.Run: %v", err)
		}
	}()
	l.mu.Lock()
	l.up, l.cancel, l.done = up, cancel, done
	l.mu.Unlock()
}

func (l *testLeaf) stop() {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.cancel = func() {}
	l.mu.Unlock()
	cancel()
	if done != nil {
		<-done
	}
}

func (l *testLeaf) uplink() *leaf.Uplink {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up
}

// cut drops the leaf's current connection without a close handshake.
func (l *testLeaf) cut() {
	l.mu.Lock()
	c := l.conn
	l.mu.Unlock()
	if c != nil {
		c.CloseNow()
	}
}

// eventually polls cond until it returns "" or the deadline passes, then
// fails with cond's last complaint.
func eventually(t testing.TB, d time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for wait := time.Millisecond; ; wait = min(wait*2, 20*time.Millisecond) {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, msg)
		}
		time.Sleep(wait) // polling interval, not a wait for an event
	}
}

// viewer describes a leaf's credential for the oracle below.
type viewer struct {
	restricted bool
	owner      string // user id
	location   string // the leaf's location, whose spaces it keeps itself
	// scope is the location a restricted leaf's variables are scoped to
	// (or unscoped); "" means location.
	scope string
}

// expectedView is the oracle: the records a leaf with credential v must hold,
// written from the rules of DESIGN.md independently of the hub's code. Data
// is normalised JSON.
func expectedView(t testing.TB, st storage.Store, v viewer) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	var owner *shared.User
	if v.restricted {
		var err error
		owner, err = storage.Get[shared.User](ctx, st, v.owner)
		if err != nil {
			t.Fatalf("oracle: owner: %v", err)
		}
	}
	for _, k := range shared.Kinds {
		if !k.Replicated() {
			continue
		}
		cs, err := st.List(ctx, k)
		if err != nil {
			t.Fatalf("oracle: list %s: %v", k, err)
		}
		for _, c := range cs {
			rec := shared.NewRecord(k)
			if err := json.Unmarshal(c.Data, rec); err != nil {
				t.Fatalf("oracle: decode %s %s: %v", k, c.ID, err)
			}
			keep := true
			switch r := rec.(type) {
			case *shared.TemplateVar:
				// A restricted leaf gets no other location's variables.
				scope := cmp.Or(v.scope, v.location)
				keep = !r.Local && !(v.restricted && (r.Protected || r.Restricted || r.Location != "" && !strings.EqualFold(r.Location, scope)))
			case *shared.User:
				if v.restricted {
					keep = r.ID == owner.ID
					r.PasswordHash, r.TOTPSecret = "", ""
				}
			case *shared.Group:
				keep = !v.restricted || slices.Contains(owner.Groups, r.ID)
			case *shared.Role:
				keep = !v.restricted || slices.Contains(owner.Roles, r.ID)
			case *shared.Token:
				keep = !v.restricted || r.UserID == owner.ID
			case *shared.Template:
				keep = !v.restricted || r.UsableBy(owner.Groups)
			case *shared.Space:
				// Every location's spaces but the leaf's own, which it
				// holds as their authority; never their agent credential.
				keep = r.Location != v.location && (!v.restricted || r.UserID == owner.ID)
				r.AgentTokenHash = ""
			}
			if !keep {
				continue
			}
			data, _ := json.Marshal(rec)
			out[fmt.Sprintf("%s/%s@%d", k, c.ID, c.Revision)] = normalise(t, data)
		}
	}
	return out
}

// replica returns what a leaf's store holds of replicated records, local
// template variables left out, in the form of expectedView. The leaves of
// these tests make no spaces of their own: every space they hold came from
// the origin.
func replica(t testing.TB, st storage.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range shared.Kinds {
		if !k.Replicated() {
			continue
		}
		cs, err := st.List(context.Background(), k)
		if err != nil {
			t.Fatalf("replica: list %s: %v", k, err)
		}
		for _, c := range cs {
			if k == shared.KindTemplateVar {
				var tv shared.TemplateVar
				json.Unmarshal(c.Data, &tv)
				if tv.Local {
					continue
				}
			}
			out[fmt.Sprintf("%s/%s@%d", k, c.ID, c.Revision)] = normalise(t, c.Data)
		}
	}
	return out
}

func normalise(t testing.TB, data []byte) string {
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("normalise %s: %v", data, err)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// diff describes how got differs from want, "" when equal.
func diff(want, got map[string]string) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	var lines []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			lines = append(lines, "missing "+k)
		} else if g != v {
			lines = append(lines, fmt.Sprintf("differs %s:\n  want %s\n  got  %s", k, v, g))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			lines = append(lines, "extra "+k)
		}
	}
	sort.Strings(lines)
	if len(lines) > 12 {
		lines = append(lines[:12], fmt.Sprintf("... and %d more", len(lines)-12))
	}
	return fmt.Sprint(lines)
}

// converged returns "" when the leaf's replica is at the origin's head and
// equals the origin's view for v, else what is still different.
func converged(t testing.TB, o *testOrigin, l *testLeaf, v viewer) string {
	ctx := context.Background()
	head, err := o.Store().Head(ctx)
	if err != nil {
		return err.Error()
	}
	epoch, applied, err := l.store.Replica(ctx)
	if err != nil {
		return err.Error()
	}
	if epoch != head.Epoch || applied != head.Revision {
		st := l.uplink().Status()
		return fmt.Sprintf("leaf %s at %s/%d, origin at %s/%d (status: connected=%v reason=%q)", l.opts.NodeID, epoch, applied, head.Epoch, head.Revision, st.Connected, st.Reason)
	}
	if v.location == "" {
		v.location = l.opts.Location
	}
	if d := diff(expectedView(t, o.Store(), v), replica(t, l.store)); d != "" {
		return fmt.Sprintf("leaf %s at revision %d differs from the origin's view: %s", l.opts.NodeID, applied, d)
	}
	return ""
}
