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
