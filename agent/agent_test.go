package agent_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	mdns "github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/knot-dev/knot/agent"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/tlsconf"
)

// fakeLeaf is an agent listener on loopback that welcomes every agent,
// records what it says, and can cut the link and open streams to it.
type fakeLeaf struct {
	t    *testing.T
	addr string
	fp   string

	mu     sync.Mutex
	hellos []agentwire.Hello
	states []agentwire.State
	lines  []agentwire.LogLine
	mux    *yamux.Session // the current link
	conn   net.Conn
}

func noLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

func startFakeLeaf(t *testing.T) *fakeLeaf {
	t.Helper()
	cert, err := tlsconf.LoadServer(tlsconf.ServerOptions{SelfSignedDir: t.TempDir(), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cert.Config)
	if err != nil {
		t.Fatal(err)
	}
	l := &fakeLeaf{t: t, addr: ln.Addr().String(), fp: cert.Fingerprint}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { l.serve(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		l.cut()
		wg.Wait()
	})
	return l
}

func (l *fakeLeaf) serve(c net.Conn) {
	defer c.Close()
	var h agentwire.Hello
	if err := agentwire.ReadJSON(c, &h); err != nil {
		return
	}
	if err := agentwire.WriteJSON(c, agentwire.Welcome{OK: true, Version: "fake", HeartbeatMS: 50}); err != nil {
		return
	}
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	mux, err := yamux.Server(c, cfg)
	if err != nil {
		return
	}
	defer mux.Close()
	l.mu.Lock()
	l.hellos = append(l.hellos, h)
	l.mux, l.conn = mux, c
	l.mu.Unlock()
	st, err := mux.AcceptStream()
	if err != nil {
		return
	}
	var o agentwire.Open
	if agentwire.ReadJSON(st, &o) != nil || o.Type != agentwire.OpenState {
		l.t.Errorf("the agent's first stream is %+v, want its state", o)
		return
	}
	go l.acceptLogs(mux)
	for {
		var s agentwire.State
		if agentwire.ReadJSON(st, &s) != nil {
			return
		}
		l.mu.Lock()
		l.states = append(l.states, s)
		l.mu.Unlock()
	}
}

// cut closes the current link's connection, as a network failure does.
func (l *fakeLeaf) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		l.conn.Close()
		l.conn, l.mux = nil, nil
	}
}

func (l *fakeLeaf) linked() *yamux.Session {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mux
}

func (l *fakeLeaf) counts() (hellos, states int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.hellos), len(l.states)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dnsServer answers SRV queries for one name with one target on
// 127.0.0.1, TTL 0, and counts them.
type dnsServer struct {
	addr string
	mu   sync.Mutex
	srv  int
}

func startDNS(t *testing.T, name string, port uint16) *dnsServer {
	t.Helper()
	d := &dnsServer{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.addr = pc.LocalAddr().String()
	s := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, q *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(q)
		qq := q.Question[0]
		switch {
		case qq.Qtype == mdns.TypeSRV && strings.EqualFold(qq.Name, name):
			d.mu.Lock()
			d.srv++
			d.mu.Unlock()
			m.Answer = append(m.Answer, &mdns.SRV{Hdr: mdns.RR_Header{Name: qq.Name, Rrtype: mdns.TypeSRV, Class: mdns.ClassINET, Ttl: 0},
				Priority: 1, Weight: 1, Port: port, Target: "leaf.knot.test."})
		case qq.Qtype == mdns.TypeA && strings.EqualFold(qq.Name, "leaf.knot.test."):
			m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: qq.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 0}, A: net.IPv4(127, 0, 0, 1)})
		}
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	s.NotifyStartedFunc = func() { close(started) }
	done := make(chan struct{})
	go func() { defer close(done); s.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { s.Shutdown(); <-done })
	return d
}

func (d *dnsServer) srvQueries() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.srv
}

func runAgent(t *testing.T, o agent.Options) func() {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.MinBackoff, o.MaxBackoff = 10*time.Millisecond, 50*time.Millisecond
	a, err := agent.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func TestAgentFindsItsLeafBySRVReportsAndComesBack(t *testing.T) {
	noLeaks(t)
	l := startFakeLeaf(t)
	_, port, _ := net.SplitHostPort(l.addr)
	var p uint16
	for _, c := range port {
		p = p*10 + uint16(c-'0')
	}
	dns := startDNS(t, "knot-agent.knot.test.", p)
	runAgent(t, agent.Options{Endpoint: "srv+knot-agent.knot.test", Nameservers: []string{dns.addr},
		SpaceID: "space-1", Token: "secret", Fingerprint: l.fp, Version: "v1"})

	waitFor(t, "a heartbeat after the first state", func() bool { _, s := l.counts(); return s >= 2 })
	l.mu.Lock()
	h, s := l.hellos[0], l.states[0]
	l.mu.Unlock()
	if h.SpaceID != "space-1" || h.Token != "secret" || h.Version != "v1" {
		t.Fatalf("hello %+v", h)
	}
	if s.Version != "v1" || s.State != "ready" {
		t.Fatalf("state %+v", s)
	}

	// A terminal, then the link is cut: the agent comes back (resolving
	// again) and the session is there with its output.
	tm := openTerminal(t, l.linked(), agentwire.Terminal{Shell: "sh"})
	tm.send(t, "echo before-$((20+1))\n")
	tm.wait(t, "before-21")
	asked := dns.srvQueries()
	l.cut()
	<-tm.done
	waitFor(t, "the agent to come back", func() bool { h, _ := l.counts(); return h >= 2 && l.linked() != nil })
	if dns.srvQueries() <= asked {
		t.Fatal("the agent did not resolve its endpoint again before dialling")
	}
	tm2 := openTerminal(t, l.linked(), agentwire.Terminal{Attach: tm.id})
	tm2.wait(t, "before-21")
	tm2.send(t, "exit 9\n")
	if c := tm2.exit(t); c != 9 {
		t.Fatalf("exit %d, want 9", c)
	}
}

func TestAgentRefusesALeafWithAnotherCertificate(t *testing.T) {
	noLeaks(t)
	l := startFakeLeaf(t)
	other := startFakeLeaf(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	stop := runAgent(t, agent.Options{Endpoint: l.addr, SpaceID: "s", Token: "t", Fingerprint: other.fp,
		Logger: slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) }), nil))})
	waitFor(t, "the refusal logged", func() bool { mu.Lock(); defer mu.Unlock(); return strings.Contains(logs.String(), "not the pinned") })
	stop()
	if h, _ := l.counts(); h != 0 {
		t.Fatalf("the agent said hello to a leaf it could not verify (%d times)", h)
	}
}

func TestAgentClosesAStreamWithABadFirstFrameAndKeepsTheLink(t *testing.T) {
	noLeaks(t)
	l := startFakeLeaf(t)
	runAgent(t, agent.Options{Endpoint: l.addr, SpaceID: "s", Token: "t", Fingerprint: l.fp})
	waitFor(t, "the link", func() bool { return l.linked() != nil })
	mux := l.linked()
	for _, raw := range [][]byte{{0, 0, 0, 0}, {0, 0, 0, 3, 'j', '{', '}'}, {0xff, 0, 0, 0, 'd'}} {
		st, err := mux.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		st.Write(raw)
		st.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadAll(st); err != nil {
			t.Fatalf("the stream did not end cleanly: %v", err)
		}
		st.Close()
	}
	st, err := mux.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	agentwire.WriteJSON(st, agentwire.Open{Type: agentwire.OpenPing})
	var p agentwire.Pong
	if err := agentwire.ReadJSON(st, &p); err != nil || !p.OK {
		t.Fatalf("ping after bad streams: %v %+v", err, p)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

type terminal struct {
	id   string
	st   *yamux.Stream
	mu   sync.Mutex
	out  bytes.Buffer
	code int
	done chan struct{}
}

func openTerminal(t *testing.T, mux *yamux.Session, req agentwire.Terminal) *terminal {
	t.Helper()
	st, err := mux.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := agentwire.WriteJSON(st, agentwire.Open{Type: agentwire.OpenTerminal, Terminal: &req}); err != nil {
		t.Fatal(err)
	}
	var o agentwire.Opened
	if err := agentwire.ReadJSON(st, &o); err != nil || o.Error != "" {
		t.Fatalf("open: %v %+v", err, o)
	}
	tm := &terminal{id: o.ID, st: st, code: -1, done: make(chan struct{})}
	go func() {
		defer close(tm.done)
		for {
			kind, p, err := agentwire.ReadFrame(st)
			if err != nil {
				return
			}
			tm.mu.Lock()
			if kind == agentwire.KindData {
				tm.out.Write(p)
			} else {
				var c agentwire.Control
				if agentwire.DecodeJSON(p, &c) == nil && c.Type == agentwire.CtlExit {
					tm.code = c.Code
				}
			}
			tm.mu.Unlock()
		}
	}()
	t.Cleanup(func() { st.Close(); <-tm.done })
	return tm
}

func (tm *terminal) send(t *testing.T, s string) {
	if err := agentwire.WriteFrame(tm.st, agentwire.KindData, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

func (tm *terminal) wait(t *testing.T, s string) {
	t.Helper()
	waitFor(t, "output "+s, func() bool { tm.mu.Lock(); defer tm.mu.Unlock(); return strings.Contains(tm.out.String(), s) })
}

func (tm *terminal) exit(t *testing.T) int {
	t.Helper()
	select {
	case <-tm.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal did not end")
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.code
}

func sessionsOf(t *testing.T, mux *yamux.Session) []agentwire.SessionInfo {
	t.Helper()
	st, err := mux.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	agentwire.WriteJSON(st, agentwire.Open{Type: agentwire.OpenSessions})
	var l agentwire.SessionList
	if err := agentwire.ReadJSON(st, &l); err != nil {
		t.Fatal(err)
	}
	return l.Sessions
}

func TestAgentEndsASessionKeptTooLongWithoutViewers(t *testing.T) {
	noLeaks(t)
	l := startFakeLeaf(t)
	runAgent(t, agent.Options{Endpoint: l.addr, SpaceID: "s", Token: "t", Fingerprint: l.fp, KeepSessions: 300 * time.Millisecond})
	waitFor(t, "the link", func() bool { return l.linked() != nil })
	tm := openTerminal(t, l.linked(), agentwire.Terminal{Shell: "sh"})
	tm.send(t, "echo up\n")
	tm.wait(t, "up")
	tm.st.Close()
	<-tm.done
	if s := sessionsOf(t, l.linked()); len(s) != 1 || s[0].Viewers != 0 || s[0].Idle.IsZero() {
		t.Fatalf("sessions right after the viewer left: %+v, want one idle", s)
	}
	waitFor(t, "the session to end", func() bool { return len(sessionsOf(t, l.linked())) == 0 })
}

// A viewer that takes no output is dropped; the others see all of it.
func TestAgentDropsAViewerThatTakesNoOutput(t *testing.T) {
	noLeaks(t)
	defer agent.SetViewerTimeout(200 * time.Millisecond)()
	l := startFakeLeaf(t)
	runAgent(t, agent.Options{Endpoint: l.addr, SpaceID: "s", Token: "t", Fingerprint: l.fp})
	waitFor(t, "the link", func() bool { return l.linked() != nil })
	mux := l.linked()
	fast := openTerminal(t, mux, agentwire.Terminal{Shell: "sh"})

	// The stuck viewer reads its Opened answer and nothing after.
	st, err := mux.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	agentwire.WriteJSON(st, agentwire.Open{Type: agentwire.OpenTerminal, Terminal: &agentwire.Terminal{Attach: fast.id}})
	var o agentwire.Opened
	if err := agentwire.ReadJSON(st, &o); err != nil || o.ID != fast.id {
		t.Fatalf("attach: %v %+v", err, o)
	}

	fast.send(t, "i=0; while [ $i -lt 40000 ]; do echo line-of-output-to-fill-the-windows; i=$((i+1)); done; echo END-$((2+2))\n")
	fast.wait(t, "END-4")
	fast.mu.Lock()
	n := strings.Count(fast.out.String(), "line-of-output-to-fill-the-windows\r\n")
	fast.mu.Unlock()
	if n != 40000 {
		t.Fatalf("the reading viewer got %d of 40000 lines", n)
	}
	waitFor(t, "the stuck viewer dropped", func() bool {
		s := sessionsOf(t, mux)
		return len(s) == 1 && s[0].Viewers == 1
	})
}
