package leaf_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/tlsconf"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
)

// fakeOrigin plays the origin's side of the link from a script, one call of
// serve per connection (n counts from 1).
type fakeOrigin struct {
	t     *testing.T
	srv   *httptest.Server
	dials atomic.Int32
	serve func(n int, c *conn)
}

// conn is the fake origin's end of one link.
type conn struct {
	t     *testing.T
	ws    *websocket.Conn
	hello *wire.Hello
}

func newFakeOrigin(t *testing.T, serve func(n int, c *conn)) *fakeOrigin {
	f := &fakeOrigin{t: t, serve: serve}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(f.dials.Add(1))
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{wire.Subprotocol}})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ws.SetReadLimit(wire.MaxFrameSize)
		c := &conn{t: t, ws: ws}
		h, err := c.read()
		if err != nil {
			return
		}
		c.hello = h.(*wire.Hello)
		f.serve(n, c)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (c *conn) read() (wire.Frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	return wire.Decode(b)
}

func (c *conn) send(f wire.Frame) {
	b, err := wire.Encode(f)
	if err != nil {
		c.t.Errorf("encode %s: %v", f.FrameType(), err)
		return
	}
	c.sendRaw(b)
}

func (c *conn) sendRaw(b []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.ws.Write(ctx, websocket.MessageText, b)
}

// expectAck reads frames until an ack and returns its revision.
func (c *conn) expectAck() int64 {
	for {
		f, err := c.read()
		if err != nil {
			c.t.Errorf("waiting for an ack: %v", err)
			return -1
		}
		if a, ok := f.(*wire.Ack); ok {
			return a.Applied
		}
	}
}

// closeOf reads until the leaf closes the link and returns the close.
func (c *conn) closeOf() websocket.CloseError {
	for {
		_, err := c.read()
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		errors.As(err, &ce)
		return ce
	}
}

// idle keeps the link open until the leaf ends it.
func (c *conn) idle() {
	for {
		if _, _, err := c.ws.Read(context.Background()); err != nil {
			return
		}
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// runLeaf runs an uplink against url until the test ends and returns it
// with a channel closed when Run returned.
func runLeaf(t *testing.T, st storage.Store, opts leaf.Options) (*leaf.Uplink, context.CancelFunc, chan error) {
	t.Helper()
	opts.Store = st
	if opts.Token == "" {
		opts.Token = "secret"
	}
	if opts.NodeID == "" {
		opts.NodeID = "node-1"
	}
	if opts.Location == "" {
		opts.Location = "eu"
	}
	opts.Logger = quiet()
	if opts.MinBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
	}
	u, err := leaf.New(opts)
	if err != nil {
		t.Fatalf("leaf.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return u, cancel, done
}

func eventually(t *testing.T, d time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, msg)
		}
		time.Sleep(2 * time.Millisecond) // polling interval
	}
}

func userChange(id, name string, rev int64) wire.Change {
	data, _ := json.Marshal(&shared.User{Meta: shared.Meta{ID: id, Revision: rev}, Username: name, Email: name + "@example.com"})
	return wire.Change{Kind: shared.KindUser, ID: id, Revision: rev, Data: data}
}

func welcome(mode string) *wire.Welcome {
	return &wire.Welcome{Protocol: 1, Epoch: "e1", Location: "eu", Mode: mode, Head: 5}
}

// snapshot sends a snapshot of one user, ann, at revision 5.
func (c *conn) snapshot() {
	c.send(welcome(wire.ModeSnapshot))
	c.send(&wire.Snapshot{Revision: 5, Records: []wire.Change{userChange("ann", "ann", 4)}})
	c.send(&wire.SnapshotEnd{Revision: 5, Count: 1})
}

// state describes what a leaf's store holds of replicated records.
func state(t *testing.T, st storage.Store) string {
	t.Helper()
	ctx := context.Background()
	epoch, applied, err := st.Replica(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range []shared.Kind{shared.KindUser, shared.KindGroup, shared.KindTemplateVar, shared.KindSpace} {
		cs, _ := st.List(ctx, k)
		for _, c := range cs {
			ids = append(ids, fmt.Sprintf("%s/%s@%d", k, c.ID, c.Revision))
		}
	}
	return fmt.Sprintf("%s/%d %v", epoch, applied, ids)
}

func TestLeafAppliesTheSnapshotAndChanges(t *testing.T) {
	acks := make(chan int64, 4)
	f := newFakeOrigin(t, func(n int, c *conn) {
		if n > 1 {
			c.idle()
			return
		}
		if c.hello.NodeID != "node-1" || c.hello.Location != "eu" || c.hello.Epoch != "" || c.hello.AppliedRevision != 0 ||
			c.hello.ProtocolMin != wire.ProtocolMin || c.hello.ProtocolMax != wire.ProtocolMax || c.hello.Version != "1.2.3" ||
			len(c.hello.Runtimes) != 1 {
			t.Errorf("hello %+v", c.hello)
		}
		c.snapshot()
		acks <- c.expectAck()
		c.send(&wire.Changes{Prev: 5, Revision: 8, Changes: []wire.Change{userChange("bob", "bob", 7), {Kind: shared.KindUser, ID: "ann", Revision: 8, Deleted: true}}})
		acks <- c.expectAck()
		c.send(&wire.KeepAlive{Head: 9})
		c.idle()
	})
	st := memory.New()
	u, _, _ := runLeaf(t, st, leaf.Options{OriginURL: f.srv.URL, Version: "1.2.3", Runtimes: []string{"docker"}})
	if a := <-acks; a != 5 {
		t.Fatalf("ack %d after the snapshot, want 5", a)
	}
	if a := <-acks; a != 8 {
		t.Fatalf("ack %d after the changes, want 8", a)
	}
	if got, want := state(t, st), "e1/8 [user/bob@7]"; got != want {
		t.Fatalf("store holds %s, want %s", got, want)
	}
	eventually(t, 5*time.Second, func() string {
		s := u.Status()
		if !s.Connected || s.Protocol != 1 || s.Location != "eu" || s.Applied != 8 || s.Head != 9 || s.Lag != 1 || s.Epoch != "e1" {
			return fmt.Sprintf("status %+v", s)
		}
		return ""
	})
}

// TestBadFramesFromTheOriginApplyNothing sends, after a snapshot at
// revision 5, frames a leaf must refuse, and checks that the leaf closes the
// link with a reason and that its store did not move.
func TestBadFramesFromTheOriginApplyNothing(t *testing.T) {
	oversized := append([]byte(`{"type":"keepalive","head":1,"pad":"`), bytes.Repeat([]byte("x"), wire.MaxFrameSize)...)
	oversized = append(oversized, `"}`...)
	badRecord, _ := json.Marshal(map[string]any{"id": "someone-else", "username": "x"})
	for _, tt := range []struct {
		name  string
		frame []byte
		code  int
		want  string
	}{
		{"Garbage", []byte("{{{"), wire.CloseMalformed, "not a JSON object"},
		{"UnknownType", []byte(`{"type":"gossip"}`), wire.CloseMalformed, `unknown frame type "gossip"`},
		{"NegativeRevision", []byte(`{"type":"changes","prev":5,"revision":-6}`), wire.CloseMalformed, "revision -6 is missing or not above prev 5"},
		{"LocalKind", []byte(`{"type":"changes","prev":5,"revision":6,"changes":[{"kind":"session","id":"s","revision":6,"data":{"id":"s"}}]}`), wire.CloseMalformed, `kind "session" is not a replicated record kind`},
		{"OutOfOrder", frame(&wire.Changes{Prev: 6, Revision: 7, Changes: []wire.Change{userChange("bob", "bob", 7)}}), wire.CloseOutOfOrder, "changes from revision 6, but the replica is at 5"},
		{"RecordNotMatchingItsID", frame(&wire.Changes{Prev: 5, Revision: 6, Changes: []wire.Change{userChange("bob", "bob", 6), {Kind: shared.KindUser, ID: "carl", Revision: 6, Data: badRecord}}}), wire.CloseInternal, "could not apply revision 6"},
		{"SnapshotOutsideASnapshot", frame(&wire.Snapshot{Revision: 9}), wire.CloseMalformed, "snapshot frame outside a snapshot"},
		{"FrameOnlyALeafSends", frame(&wire.Ack{Applied: 1}), wire.CloseMalformed, "unexpected ack frame"},
		{"Oversized", oversized, int(websocket.StatusMessageTooBig), "limit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			closes := make(chan websocket.CloseError, 1)
			f := newFakeOrigin(t, func(n int, c *conn) {
				if n > 1 {
					c.idle()
					return
				}
				c.snapshot()
				c.expectAck()
				c.sendRaw(tt.frame)
				closes <- c.closeOf()
			})
			st := memory.New()
			runLeaf(t, st, leaf.Options{OriginURL: f.srv.URL})
			ce := <-closes
			if int(ce.Code) != tt.code || !strings.Contains(ce.Reason, tt.want) {
				t.Errorf("the leaf closed with %d %q, want %d and %q", ce.Code, ce.Reason, tt.code, tt.want)
			}
			if got, want := state(t, st), "e1/5 [user/ann@4]"; got != want {
				t.Errorf("store holds %s, want %s", got, want)
			}
		})
	}
}

func frame(f wire.Frame) []byte {
	b, err := wire.Encode(f)
	if err != nil {
		panic(err)
	}
	return b
}

func TestDuplicateFrameIsIgnored(t *testing.T) {
	acks := make(chan int64, 2)
	f := newFakeOrigin(t, func(n int, c *conn) {
		if n > 1 {
			t.Errorf("the leaf reconnected")
			c.idle()
			return
		}
		c.snapshot()
		c.expectAck()
		c.send(&wire.Changes{Prev: 3, Revision: 5, Changes: []wire.Change{userChange("old", "old", 5)}})
		c.send(&wire.Changes{Prev: 5, Revision: 6, Changes: []wire.Change{userChange("bob", "bob", 6)}})
		acks <- c.expectAck()
		c.idle()
	})
	st := memory.New()
	runLeaf(t, st, leaf.Options{OriginURL: f.srv.URL})
	if a := <-acks; a != 6 {
		t.Fatalf("ack %d, want 6", a)
	}
	if got, want := state(t, st), "e1/6 [user/ann@4 user/bob@6]"; got != want {
		t.Fatalf("store holds %s, want %s", got, want)
	}
}

// seed applies a replica to st: epoch e0 at revision 3 with user old, a
// local variable and a space.
func seed(t *testing.T, st storage.Store) {
	t.Helper()
	ctx := context.Background()
	lv, _ := json.Marshal(&shared.TemplateVar{Meta: shared.Meta{ID: "lv"}, Name: "lv", Local: true})
	gv, _ := json.Marshal(&shared.TemplateVar{Meta: shared.Meta{ID: "gv"}, Name: "gv"})
	if err := st.Apply(ctx, storage.Batch{Epoch: "e0", Applied: 3, Changes: []shared.Change{
		userChange("old", "old", 2).Shared(),
		{Kind: shared.KindTemplateVar, ID: "lv", Revision: 1, Data: lv},
		{Kind: shared.KindTemplateVar, ID: "gv", Revision: 3, Data: gv},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, &shared.Space{Meta: shared.Meta{ID: "s1"}, UserID: "old", Name: "dev", Location: "eu"}); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotCutMidwayChangesNothing(t *testing.T) {
	done := make(chan struct{})
	f := newFakeOrigin(t, func(n int, c *conn) {
		if n > 1 {
			c.idle()
			return
		}
		if c.hello.Epoch != "e0" || c.hello.AppliedRevision != 3 {
			t.Errorf("hello %+v, want the stored replica state e0/3", c.hello)
		}
		c.send(welcome(wire.ModeSnapshot))
		c.send(&wire.Snapshot{Revision: 5, Records: []wire.Change{userChange("ann", "ann", 4)}})
		c.ws.CloseNow()
		close(done)
	})
	st := memory.New()
	seed(t, st)
	before := state(t, st)
	runLeaf(t, st, leaf.Options{OriginURL: f.srv.URL})
	<-done
	eventually(t, 5*time.Second, func() string {
		if f.dials.Load() < 2 {
			return "the leaf did not reconnect"
		}
		return ""
	})
	if got := state(t, st); got != before {
		t.Fatalf("store holds %s, want it untouched: %s", got, before)
	}
}

func TestSnapshotDropsWhatItDidNotHold(t *testing.T) {
	acks := make(chan int64, 1)
	f := newFakeOrigin(t, func(n int, c *conn) {
		if n > 1 {
			c.idle()
			return
		}
		c.snapshot()
		acks <- c.expectAck()
		c.idle()
	})
	st := memory.New()
	seed(t, st)
	runLeaf(t, st, leaf.Options{OriginURL: f.srv.URL})
	<-acks
	// old and gv are gone; the local variable and the space stay.
	if got, want := state(t, st), "e1/5 [user/ann@4 templatevar/lv@1 space/s1@1]"; got != want {
		t.Fatalf("store holds %s, want %s", got, want)
	}
}

func TestSnapshotWithAWrongCountChangesNothing(t *testing.T) {
	closes := make(chan websocket.CloseError, 1)
	f := newFakeOrigin(t, func(n int, c *conn) {
		if n > 1 {
			c.idle()
			return
		}
		c.send(welcome(wire.ModeSnapshot))
		c.send(&wire.Snapshot{Revision: 5, Records: []wire.Change{userChange("ann", "ann", 4)}})
		c.send(&wire.SnapshotEnd{Revision: 5, Count: 2})
		closes <- c.closeOf()
	})
	st := memory.New()
	seed(t, st)
	before := state(t, st)
	runLeaf(t, st, leaf.Options{OriginURL: f.srv.URL})
	if ce := <-closes; ce.Code != wire.CloseMalformed || !strings.Contains(ce.Reason, "announced 2 records but held 1") {
		t.Errorf("close %d %q", ce.Code, ce.Reason)
	}
	if got := state(t, st); got != before {
		t.Fatalf("store holds %s, want it untouched: %s", got, before)
	}
}

func TestResumeOfAnotherEpochIsRefused(t *testing.T) {
	closes := make(chan websocket.CloseError, 1)
	f := newFakeOrigin(t, func(n int, c *conn) {
		if n > 1 {
			c.idle()
			return
		}
		c.send(welcome(wire.ModeResume)) // epoch e1, the store holds e0
		closes <- c.closeOf()
	})
	st := memory.New()
	seed(t, st)
	runLeaf(t, st, leaf.Options{OriginURL: f.srv.URL})
	if ce := <-closes; ce.Code != wire.CloseMalformed || !strings.Contains(ce.Reason, "resumes epoch e1") {
		t.Errorf("close %d %q", ce.Code, ce.Reason)
	}
}

// TestLeafNeverExitsBecauseOfTheOrigin checks invariant 7 and the leaf's
// autonomy: whatever the origin answers, the uplink shows why and keeps
// trying until it is stopped.
func TestLeafNeverExitsBecauseOfTheOrigin(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	for _, tt := range []struct {
		name   string
		origin func(t *testing.T) (string, *atomic.Int32)
		want   string
	}{
		{"RefusedCredential", func(t *testing.T) (string, *atomic.Int32) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"error":"the leaf token was revoked"}`))
			}))
			t.Cleanup(srv.Close)
			return srv.URL, &n
		}, "the origin refused this leaf's token (its server.shared_token): the leaf token was revoked"},
		{"NoCommonProtocol", func(t *testing.T) (string, *atomic.Int32) {
			f := newFakeOrigin(t, func(n int, c *conn) {
				c.send(&wire.Refusal{Reason: "no common protocol: origin 9.0 speaks 5 to 6, leaf speaks 1 to 1"})
				c.ws.Close(wire.CloseRefused, "no common protocol")
			})
			return f.srv.URL, &f.dials
		}, "the origin refused the link: no common protocol"},
		{"OriginDown", func(t *testing.T) (string, *atomic.Int32) { return downURL, nil }, "nothing answers at " + downURL + " (connection refused)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url, dials := tt.origin(t)
			st := memory.New()
			u, cancel, done := runLeaf(t, st, leaf.Options{OriginURL: url})
			eventually(t, 5*time.Second, func() string {
				s := u.Status()
				if s.Connected || !strings.Contains(s.Reason, tt.want) || s.NextAttempt.IsZero() {
					return fmt.Sprintf("status %+v, want a reason with %q", s, tt.want)
				}
				if dials != nil && dials.Load() < 3 {
					return fmt.Sprintf("%d attempts", dials.Load())
				}
				return ""
			})
			select {
			case err := <-done:
				t.Fatalf("Run returned %v while the origin misbehaved", err)
			default:
			}
			// The leaf's store serves all along.
			if err := st.Put(context.Background(), &shared.Space{Meta: shared.Meta{ID: "s1"}, Name: "dev", UserID: "u"}); err != nil {
				t.Fatalf("the leaf's store: %v", err)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run = %v after cancel, want nil", err)
			}
			done <- nil // for the cleanup
		})
	}
}

// A person reads why the link is down: the status says it in words (what
// answers where, whose certificate is not trusted), and keeps the
// network's or TLS's own error beside it for an operator.
func TestLinkDownSaysWhyInWords(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	untrusted := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(untrusted.Close)
	wrongPin := strings.Repeat("AB:", 31) + "AB"
	pinned, err := tlsconf.Client(tlsconf.ClientOptions{Fingerprint: wrongPin})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, url   string
		client      *http.Client // nil: the leaf's default
		reason      string
		detailSays  string
		reasonOmits string
	}{
		{"ConnectionRefused", downURL, nil,
			"nothing answers at " + downURL + " (connection refused): the origin is not running there, or not at that address",
			"connection refused", "dial tcp"},
		{"UntrustedCertificate", untrusted.URL, nil,
			"the origin's TLS certificate is not trusted by this leaf: no authority it trusts signed it",
			"certificate", "x509"},
		{"NotThePinnedCertificate", untrusted.URL, &http.Client{Transport: &http.Transport{TLSClientConfig: pinned}},
			"the origin's TLS certificate is not the pinned one: its SHA-256 fingerprint is " + tlsconf.Fingerprint(untrusted.Certificate().Raw) + ", not " + wrongPin,
			"fingerprint", "cannot be reached"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u, _, _ := runLeaf(t, memory.New(), leaf.Options{OriginURL: tt.url, HTTPClient: tt.client})
			eventually(t, 5*time.Second, func() string {
				s := u.Status()
				if s.Connected || s.Reason != tt.reason || !strings.Contains(s.ReasonDetail, tt.detailSays) {
					return fmt.Sprintf("reason %q, detail %q; want reason %q and a detail with %q", s.Reason, s.ReasonDetail, tt.reason, tt.detailSays)
				}
				return ""
			})
			if s := u.Status(); strings.Contains(s.Reason, tt.reasonOmits) {
				t.Fatalf("the reason %q holds the program's words %q", s.Reason, tt.reasonOmits)
			}
		})
	}
}

// Retry dials at once rather than at the end of a long back-off, and at
// most once a second however often it is asked.
func TestRetryDialsAtOnce(t *testing.T) {
	f := newFakeOrigin(t, func(n int, c *conn) { c.ws.Close(websocket.StatusTryAgainLater, "busy") })
	u, _, _ := runLeaf(t, memory.New(), leaf.Options{OriginURL: f.srv.URL, MinBackoff: time.Hour, MaxBackoff: time.Hour})
	eventually(t, 5*time.Second, func() string {
		if s := u.Status(); f.dials.Load() != 1 || s.Connected || time.Until(s.NextAttempt) < 30*time.Minute {
			return fmt.Sprintf("%d dials, next attempt %v", f.dials.Load(), s.NextAttempt)
		}
		return ""
	})
	start := time.Now()
	for range 5 {
		u.Retry()
	}
	eventually(t, 5*time.Second, func() string {
		if d := f.dials.Load(); d < 2 {
			return fmt.Sprintf("%d dials after Retry", d)
		}
		return ""
	})
	if d := f.dials.Load(); d != 2 {
		t.Fatalf("%d dials after five Retry calls within %v; want one more", d, time.Since(start))
	}
	eventually(t, 5*time.Second, func() string {
		if s := u.Status(); s.Connected || time.Until(s.NextAttempt) < 30*time.Minute {
			return fmt.Sprintf("after the retry, the next attempt is at %v", s.NextAttempt)
		}
		return ""
	})
}

func TestSRVIsResolvedOnEveryAttempt(t *testing.T) {
	f := newFakeOrigin(t, func(n int, c *conn) { c.ws.Close(websocket.StatusTryAgainLater, "busy") })
	var resolved atomic.Int32
	resolve := func(ctx context.Context, url string) (string, error) {
		if url != "srv+https://knot.example.com" {
			t.Errorf("resolve %q", url)
		}
		resolved.Add(1)
		return f.srv.URL, nil
	}
	runLeaf(t, memory.New(), leaf.Options{OriginURL: "srv+https://knot.example.com", Resolve: resolve})
	eventually(t, 5*time.Second, func() string {
		if r, d := resolved.Load(), f.dials.Load(); r < 3 || d < 3 || r < d {
			return fmt.Sprintf("%d resolutions for %d dials", r, d)
		}
		return ""
	})
}

func TestSRVWithoutResolverShowsInStatus(t *testing.T) {
	u, _, _ := runLeaf(t, memory.New(), leaf.Options{OriginURL: "srv+https://knot.example.com"})
	eventually(t, 5*time.Second, func() string {
		if s := u.Status(); !strings.Contains(s.Reason, "no resolver is configured") {
			return "status " + s.Reason
		}
		return ""
	})
}

func TestOriginURLBecomesTheLeafEndpoint(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://origin.example.com", "wss://origin.example.com/api/leaf-server"},
		{"https://origin.example.com/", "wss://origin.example.com/api/leaf-server"},
		{"http://127.0.0.1:3000/knot/", "ws://127.0.0.1:3000/knot/api/leaf-server"},
		{"wss://origin.example.com:8443", "wss://origin.example.com:8443/api/leaf-server"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got := make(chan string, 1)
			dial := func(ctx context.Context, url string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
				if opts.HTTPHeader.Get("Authorization") != "Bearer secret" || opts.Subprotocols[0] != wire.Subprotocol {
					t.Errorf("dial options %+v", opts)
				}
				select {
				case got <- url:
				default:
				}
				return nil, nil, errors.New("no network in this test")
			}
			runLeaf(t, memory.New(), leaf.Options{OriginURL: tt.in, Dial: dial})
			if u := <-got; u != tt.want {
				t.Errorf("dialled %q, want %q", u, tt.want)
			}
		})
	}
}

func TestNewChecksOptions(t *testing.T) {
	st := memory.New()
	for _, tt := range []struct {
		name string
		opts leaf.Options
		want string
	}{
		{"NoStore", leaf.Options{OriginURL: "https://o", Token: "t", NodeID: "n"}, "Store is required"},
		{"NoOrigin", leaf.Options{Store: st, Token: "t", NodeID: "n"}, "origin server URL is required"},
		{"NoToken", leaf.Options{Store: st, OriginURL: "https://o", NodeID: "n"}, "token"},
		{"NoNodeID", leaf.Options{Store: st, OriginURL: "https://o", Token: "t"}, "NodeID is required"},
		{"BadScheme", leaf.Options{Store: st, OriginURL: "ftp://o", Token: "t", NodeID: "n"}, "must start with http://"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := leaf.New(tt.opts)
			if shared.ErrorCode(err) != shared.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want EINVALID with %q", err, tt.want)
			}
		})
	}
}

// TestCommandsAreAnswered checks that the leaf carries out a command
// through its SpaceController and answers with its error.
func TestCommandsAreAnswered(t *testing.T) {
	results := make(chan *wire.CommandResult, 2)
	f := newFakeOrigin(t, func(n int, c *conn) {
		if n > 1 {
			c.idle()
			return
		}
		c.snapshot()
		c.expectAck()
		c.send(&wire.Command{ID: "c1", Action: wire.ActionStop, SpaceID: "s1"})
		c.send(&wire.Command{ID: "c2", Action: wire.ActionDelete, SpaceID: "s1"})
		for got := 0; got < 2; {
			fr, err := c.read()
			if err != nil {
				t.Errorf("read: %v", err)
				return
			}
			if r, ok := fr.(*wire.CommandResult); ok {
				results <- r
				got++
			}
		}
		c.idle()
	})
	ctl := &controller{}
	runLeaf(t, memory.New(), leaf.Options{OriginURL: f.srv.URL, Spaces: ctl})
	got := map[string]*wire.CommandResult{}
	for range 2 {
		r := <-results
		got[r.ID] = r
	}
	if r := got["c1"]; r.Code != "" {
		t.Errorf("stop: %+v", r)
	}
	if r := got["c2"]; r.Code != shared.ELOCKED || r.Message != "Space s1 is running." {
		t.Errorf("delete: %+v", r)
	}
	if ctl.calls() != "stop s1" {
		t.Errorf("calls %q", ctl.calls())
	}
}

type controller struct {
	mu  sync.Mutex
	log []string
}

func (c *controller) calls() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.log, ",")
}

func (c *controller) Start(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, "start "+id)
	return nil
}

func (c *controller) Stop(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, "stop "+id)
	return nil
}

func (c *controller) Delete(ctx context.Context, id string) error {
	return shared.Errorf(shared.ELOCKED, "Space %s is running.", id)
}

func TestControllerFake(t *testing.T) {
	c := &controller{}
	c.Start(context.Background(), "a")
	c.Stop(context.Background(), "b")
	if err := c.Delete(context.Background(), "c"); shared.ErrorCode(err) != shared.ELOCKED {
		t.Errorf("Delete = %v", err)
	}
	if c.calls() != "start a,stop b" {
		t.Errorf("calls %q", c.calls())
	}
}
