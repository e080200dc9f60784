package origin_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage/memory"
)

// TestIdleLinkGetsKeepAlivesWithTheHead checks that a link with nothing to
// send gets keep-alive frames that carry the store's head, again and again.
func TestIdleLinkGetsKeepAlivesWithTheHead(t *testing.T) {
	o := startOrigin(t, memory.New(), origin.Options{KeepAlive: 20 * time.Millisecond})
	head, err := o.Store().Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r := mustDialRaw(t, o, sharedToken)
	r.welcome(hello("n-eu", "eu", "", 0))
	_, rev := r.readSnapshot()
	r.send(&wire.Ack{Applied: rev})
	for i := range 3 {
		ka, ok := r.mustNext().(*wire.KeepAlive) // reading answers the pings
		if !ok {
			t.Fatalf("frame %d of an idle link is not a keep-alive", i)
		}
		if ka.Head != head.Revision {
			t.Fatalf("keep-alive %d carries head %d, the store's is %d", i, ka.Head, head.Revision)
		}
		if ka.AckIntervalMS != wire.AckInterval.Milliseconds() {
			t.Fatalf("keep-alive %d asks for acks every %d ms; one leaf should ack every %s", i, ka.AckIntervalMS, wire.AckInterval)
		}
	}
}

// TestAckIntervalIsAskedOfNewLeavesOnly checks that the welcome asks a leaf
// on protocol 4 or later for its ack interval, and says nothing of it to an
// older one, whose keep-alives carry none either.
func TestAckIntervalIsAskedOfNewLeavesOnly(t *testing.T) {
	o := startOrigin(t, memory.New(), origin.Options{KeepAlive: 20 * time.Millisecond})
	r := mustDialRaw(t, o, sharedToken)
	if w := r.welcome(hello("n-eu", "eu", "", 0)); w.AckIntervalMS != wire.AckInterval.Milliseconds() {
		t.Fatalf("the welcome asks for acks every %d ms, want %d", w.AckIntervalMS, wire.AckInterval.Milliseconds())
	}
	old := mustDialRaw(t, o, sharedToken)
	h := hello("n-us", "us", "", 0)
	h.ProtocolMin, h.ProtocolMax = 1, 3
	w := old.welcome(h)
	if w.Protocol != 3 || w.AckIntervalMS != 0 {
		t.Fatalf("a leaf on protocol 1 to 3 got protocol %d and ack_interval_ms %d, want 3 and none", w.Protocol, w.AckIntervalMS)
	}
	_, rev := old.readSnapshot()
	old.send(&wire.Ack{Applied: rev})
	ka, ok := old.mustNext().(*wire.KeepAlive)
	if !ok || ka.AckIntervalMS != 0 {
		t.Fatalf("an idle link on protocol 3 got %#v, want a keep-alive without ack_interval_ms", ka)
	}
}

// TestLeafThatAnswersNoPingIsDisconnected checks that the hub closes the
// link of a leaf that reads its frames but answers no ping, after twice the
// keep-alive interval.
func TestLeafThatAnswersNoPingIsDisconnected(t *testing.T) {
	o := startOrigin(t, memory.New(), origin.Options{KeepAlive: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, o.srv.URL+wire.Path, &websocket.DialOptions{
		HTTPHeader:     http.Header{"Authorization": {"Bearer " + sharedToken}},
		Subprotocols:   []string{wire.Subprotocol},
		OnPingReceived: func(context.Context, []byte) bool { return false },
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	r := &rawLeaf{t: t, c: c}
	r.welcome(hello("n-eu", "eu", "", 0))
	r.expectClose(wire.CloseTimeout, "did not answer a ping within 40ms")
}
