package agent_test

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/knot-dev/knot/agent"
	"github.com/knot-dev/knot/shared/agentwire"
)

// openPort opens a port stream on mux and reads the agent's answer.
func openPort(t *testing.T, mux *yamux.Session, port int) (*yamux.Stream, agentwire.Opened) {
	t.Helper()
	st, err := mux.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	st.SetDeadline(time.Now().Add(10 * time.Second))
	if err := agentwire.WriteJSON(st, agentwire.Open{Type: agentwire.OpenPort, Port: port}); err != nil {
		t.Fatal(err)
	}
	var o agentwire.Opened
	if err := agentwire.ReadJSON(st, &o); err != nil {
		t.Fatalf("no answer to a port open: %v", err)
	}
	return st, o
}

func TestAgentPipesAPortStreamBothWaysWithHalfClose(t *testing.T) {
	noLeaks(t)
	// A server in "the space" that answers what it read, reversed, once
	// its input ended: it sees the half-close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, _ := io.ReadAll(c)
			for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
				b[i], b[j] = b[j], b[i]
			}
			c.Write(b)
			c.Close()
		}
	}()
	l := startFakeLeaf(t)
	runAgent(t, agent.Options{Endpoint: l.addr, SpaceID: "s", Token: "t", Fingerprint: l.fp})
	waitFor(t, "the link", func() bool { return l.linked() != nil })
	port := ln.Addr().(*net.TCPAddr).Port

	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	st, o := openPort(t, l.linked(), port)
	if o.Error != "" {
		t.Fatalf("port open refused: %s", o.Error)
	}
	go func() { st.Write(big); st.Close() }()
	got, err := io.ReadAll(st)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(big) || got[0] != 'f' || got[len(got)-1] != '0' {
		t.Fatalf("got %d bytes back (first %q), want %d reversed", len(got), got[:min(len(got), 8)], len(big))
	}
	ln.Close()
	<-served
}

func TestAgentRefusesAPortWhereNothingListensAndBadPorts(t *testing.T) {
	noLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	l := startFakeLeaf(t)
	runAgent(t, agent.Options{Endpoint: l.addr, SpaceID: "s", Token: "t", Fingerprint: l.fp})
	waitFor(t, "the link", func() bool { return l.linked() != nil })
	_, o := openPort(t, l.linked(), port)
	if !strings.Contains(o.Error, "nothing answers on port") {
		t.Fatalf("open of a closed port answered %+v, want the reason", o)
	}
	for _, bad := range []int{0, -1, 65536} {
		st, err := l.linked().OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		st.SetDeadline(time.Now().Add(10 * time.Second))
		agentwire.WriteJSON(st, agentwire.Open{Type: agentwire.OpenPort, Port: bad})
		if b, err := io.ReadAll(st); err != nil || len(b) != 0 {
			t.Fatalf("port %d: the agent answered %q, %v; want the stream closed", bad, b, err)
		}
		st.Close()
	}
	if err := (&agentwire.Open{Type: agentwire.OpenPort, Port: 70000}).Validate(); err == nil || !strings.Contains(err.Error(), "1 to 65535") {
		t.Fatalf("Validate of port 70000: %v", err)
	}
}

func TestAgentBoundsItsPortStreams(t *testing.T) {
	noLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	l := startFakeLeaf(t)
	runAgent(t, agent.Options{Endpoint: l.addr, SpaceID: "s", Token: "t", Fingerprint: l.fp})
	t.Cleanup(func() { // before the agent stops: its connections end
		ln.Close()
		<-accepted
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	waitFor(t, "the link", func() bool { return l.linked() != nil })
	port := ln.Addr().(*net.TCPAddr).Port
	var streams []*yamux.Stream
	for range agent.MaxPortStreams {
		st, o := openPort(t, l.linked(), port)
		if o.Error != "" {
			t.Fatalf("open %d refused: %s", len(streams), o.Error)
		}
		streams = append(streams, st)
	}
	_, o := openPort(t, l.linked(), port)
	if !strings.Contains(o.Error, "already serves 256 forwarded connections") {
		t.Fatalf("open over the bound answered %+v", o)
	}
	// A connection that ended both ways makes room for another.
	waitFor(t, "the agent's connections accepted", func() bool { mu.Lock(); defer mu.Unlock(); return len(conns) == agent.MaxPortStreams })
	mu.Lock()
	conns[0].Close()
	mu.Unlock()
	for _, st := range streams {
		st.Close()
	}
	waitFor(t, "room for one more", func() bool {
		st, o := openPort(t, l.linked(), port)
		st.Close()
		return o.Error == ""
	})
}
