package leaf

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage/memory"
)

// Agents that change in a burst reach the origin in few frames: the
// reset, then what changed over each AgentReportDelay, each space once.
func TestAgentStatesAreCoalesced(t *testing.T) {
	var (
		mu     sync.Mutex
		frames []*wire.AgentStates
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(wire.MaxFrameSize)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			f, err := wire.Decode(b)
			if err != nil {
				t.Errorf("the leaf sent a frame that does not decode: %v", err)
				return
			}
			mu.Lock()
			frames = append(frames, f.(*wire.AgentStates))
			mu.Unlock()
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, _, err := websocket.Dial(ctx, strings.Replace(srv.URL, "http", "ws", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	agents, err := NewAgents(AgentsOptions{Space: func(context.Context, string) (*shared.Space, error) { return nil, nil }, TLS: &tls.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	u, err := New(Options{Store: memory.New(), OriginURL: srv.URL, Token: "t", NodeID: "n", Agents: agents,
		AgentReportDelay: 200 * time.Millisecond, AgentRefresh: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s := &session{u: u, conn: conn, proto: 5}
	done := make(chan error, 1)
	go func() { done <- s.reportAgents(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(frames)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no reset frame within 10s")
		}
	}
	const n = 2500
	for i := range n {
		u.AgentChanged(fmt.Sprintf("s%d", i%1000))
		u.AgentChanged(fmt.Sprintf("s%d", i%1000)) // twice: once in the report
	}
	got := map[string]int{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		clear(got)
		for _, f := range frames[min(1, len(frames)):] {
			for _, a := range f.Agents {
				got[a.SpaceID]++
			}
		}
		nf := len(frames)
		first := nf > 0 && frames[0].Reset
		mu.Unlock()
		if len(got) == 1000 {
			if !first {
				t.Fatal("the first frame is not a reset")
			}
			// Each burst of changes within a delay is one report of at
			// most 1,000 agents; a burst this size takes at most a few.
			if nf > 5 {
				t.Fatalf("%d frames for %d changes of 1,000 agents", nf, 2*n)
			}
			for id, c := range got {
				if c > nf-1 {
					t.Fatalf("space %s reported %d times in %d frames", id, c, nf)
				}
			}
			break
		}
		select {
		case err := <-done:
			t.Fatalf("reportAgents returned early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10s the origin heard of %d of 1,000 agents in %d frames", len(got), nf)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("reportAgents: %v", err)
	}
}
