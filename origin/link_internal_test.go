package origin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage/memory"
)

// TestIdleLinksHoldNoStreamer checks that a link whose leaf has what there
// is runs no streamer goroutine, and that a write wakes one for every link,
// which sends the change and stops again.
func TestIdleLinksHoldNoStreamer(t *testing.T) {
	const leaves = 8
	st := memory.New()
	h, err := New(Options{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SharedTokenHash: crypt.HashToken("shared")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- h.Run(ctx) }()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, err := h.Authenticate(r.Context(), strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{wire.Subprotocol}})
		if err == nil {
			h.Accept(r.Context(), conn, cred)
		}
	}))
	t.Cleanup(func() {
		cancel()
		<-ran
		srv.Close()
	})

	// Each leaf reads every frame (which answers pings) and counts the
	// change frames.
	var changes atomic.Int64
	for i := range leaves {
		dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
		c, _, err := websocket.Dial(dctx, srv.URL, &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Bearer shared"}}, Subprotocols: []string{wire.Subprotocol},
		})
		dcancel()
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { c.CloseNow() })
		b, err := wire.Encode(&wire.Hello{NodeID: fmt.Sprintf("n%d", i), Location: fmt.Sprintf("l%d", i), Version: "test", ProtocolMin: wire.ProtocolMin, ProtocolMax: wire.ProtocolMax})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				_, b, err := c.Read(context.Background())
				if err != nil {
					return
				}
				if f, err := wire.Decode(b); err == nil && f.FrameType() == wire.TypeChanges {
					changes.Add(1)
				}
			}
		}()
	}
	idle := func() string {
		h.mu.Lock()
		links := make([]*link, 0, len(h.links))
		for _, l := range h.links {
			links = append(links, l)
		}
		h.mu.Unlock()
		if len(links) != leaves {
			return fmt.Sprintf("%d of %d links registered", len(links), leaves)
		}
		for _, l := range links {
			l.smu.Lock()
			streaming, w := l.streaming, l.work
			l.smu.Unlock()
			if streaming || w != 0 {
				return fmt.Sprintf("the link of %s still streams (work %b)", l.location, w)
			}
		}
		return ""
	}
	eventuallyIdle := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for msg := idle(); msg != ""; msg = idle() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s", what, msg)
			}
			time.Sleep(2 * time.Millisecond) // polling interval
		}
	}
	eventuallyIdle("after the snapshots")

	if err := st.Put(ctx, &shared.Group{Meta: shared.Meta{ID: "g1"}, Name: "group-1"}); err != nil {
		t.Fatal(err)
	}
	h.Notify()
	deadline := time.Now().Add(10 * time.Second)
	for changes.Load() < leaves {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d leaves got the change", changes.Load(), leaves)
		}
		time.Sleep(2 * time.Millisecond) // polling interval
	}
	eventuallyIdle("after the change")
}
