package leafsim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/leaf/leafsim"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
)

const sharedToken = "shared-secret-of-the-bench-origin"

// quiet is the logger of hubs and simulations under test; KNOT_TEST_LOG=1
// shows their log.
func quiet() *slog.Logger {
	if os.Getenv("KNOT_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testOrigin is a hub over a store behind an httptest server on 127.0.0.1.
// The hub can be restarted while the server, and its URL, stays.
type testOrigin struct {
	tb    testing.TB
	srv   *httptest.Server
	store storage.Store
	cur   atomic.Pointer[origin.Hub]

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

func startOrigin(tb testing.TB, st storage.Store) *testOrigin {
	tb.Helper()
	o := &testOrigin{tb: tb, store: st}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != wire.Path {
			http.NotFound(w, r)
			return
		}
		serveLeaf(o.cur.Load(), w, r)
	}))
	o.start()
	tb.Cleanup(func() {
		o.stop()
		o.srv.Close()
	})
	return o
}

// serveLeaf does what the web layer does at GET /api/leaf-server:
// authenticate the bearer credential (401 with the reason when refused),
// upgrade with the leaf subprotocol, and Accept.
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

func (o *testOrigin) start() {
	o.tb.Helper()
	h, err := origin.New(origin.Options{Store: o.store, Logger: quiet(), SharedTokenHash: crypt.HashToken(sharedToken)})
	if err != nil {
		o.tb.Fatalf("origin.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := h.Run(ctx); err != nil {
			o.tb.Errorf("hub.Run: %v", err)
		}
	}()
	o.mu.Lock()
	o.cancel, o.done = cancel, done
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

func (o *testOrigin) restart() {
	o.stop()
	o.start()
}

func (o *testOrigin) hub() *origin.Hub { return o.cur.Load() }

// put writes rec and tells the hub.
func (o *testOrigin) put(rec shared.Record) {
	o.tb.Helper()
	if err := o.store.Put(context.Background(), rec); err != nil {
		o.tb.Fatalf("put %s %s: %v", rec.RecordKind(), rec.RecordID(), err)
	}
	o.hub().Notify()
}

// head returns the store's head.
func (o *testOrigin) head() storage.Head {
	o.tb.Helper()
	h, err := o.store.Head(context.Background())
	if err != nil {
		o.tb.Fatal(err)
	}
	return h
}

// updateSpec gives template id a spec of size bytes marked with mark and
// returns its new revision.
func (o *testOrigin) updateSpec(id string, size int, mark string) int64 {
	o.tb.Helper()
	tp, err := storage.Get[shared.Template](context.Background(), o.store, id)
	if err != nil {
		o.tb.Fatal(err)
	}
	tp.Spec = leafsim.ContainerSpec(size, mark)
	tp.Hash = tp.ComputeHash()
	o.put(tp)
	return tp.Revision
}

// template returns a new container template with a spec of size bytes.
func template(i, size int) *shared.Template {
	t := &shared.Template{
		Meta: shared.Meta{ID: fmt.Sprintf("tpl-%05d", i)}, Name: fmt.Sprintf("bench-%05d", i),
		Kind: shared.TemplateContainer, Spec: leafsim.ContainerSpec(size, fmt.Sprintf("seed-%d", i)),
		Groups: []string{}, Locations: []string{},
	}
	t.Hash = t.ComputeHash()
	return t
}

// runSim runs a simulation against o until the test ends.
func runSim(tb testing.TB, o *testOrigin, opts leafsim.Options) *leafsim.Sim {
	tb.Helper()
	opts.OriginURL = o.srv.URL
	opts.Token = sharedToken
	opts.Logger = quiet()
	if opts.MinBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = 10*time.Millisecond, 500*time.Millisecond
	}
	sim, err := leafsim.New(opts)
	if err != nil {
		tb.Fatalf("leafsim.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := sim.Run(ctx); err != nil {
			tb.Errorf("sim.Run: %v", err)
		}
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	return sim
}

// within returns a context that ends after d or with the test.
func within(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}
