package leaf_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/knot-dev/knot/agent"
	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/tlsconf"
)

// agentBed is a leaf's agent endpoint on loopback with a table of spaces.
type agentBed struct {
	t      testing.TB
	agents *leaf.Agents
	addr   string
	fp     string
	log    *syncBuf
	opts   leaf.AgentsOptions
	stop   func() // ends the endpoint and waits for it

	mu     sync.Mutex
	spaces map[string]*shared.Space
	lines  []string // "space level service: text" of the lines agents forwarded
}

type syncBuf struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func newAgentBed(t testing.TB) *agentBed {
	t.Helper()
	cert, err := tlsconf.LoadServer(tlsconf.ServerOptions{SelfSignedDir: t.TempDir(), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	b := &agentBed{t: t, fp: cert.Fingerprint, spaces: map[string]*shared.Space{}, log: &syncBuf{b: &bytes.Buffer{}}}
	b.opts = leaf.AgentsOptions{
		Space: func(_ context.Context, id string) (*shared.Space, error) {
			b.mu.Lock()
			defer b.mu.Unlock()
			sp, ok := b.spaces[id]
			if !ok {
				return nil, shared.Errorf(shared.ENOTFOUND, "no space %s", id)
			}
			c := *sp
			return &c, nil
		},
		Lines: func(id string, l agentwire.LogLine) {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.lines = append(b.lines, id+" "+l.Level+" "+l.Service+": "+l.Text)
		},
		LogRate:   50,
		Location:  "here",
		TLS:       cert.Config,
		Version:   "test",
		Heartbeat: 100 * time.Millisecond,
		Logger:    slog.New(slog.NewTextHandler(b.log, nil)),
	}
	b.serve(listen(t))
	t.Cleanup(func() { b.stop() })
	return b
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serve starts a new endpoint on ln, with the bed's certificate and spaces.
func (b *agentBed) serve(ln net.Listener) {
	b.t.Helper()
	agents, err := leaf.NewAgents(b.opts)
	if err != nil {
		b.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agents.Serve(ctx, ln) }()
	b.agents, b.addr = agents, ln.Addr().String()
	b.stop = func() {
		cancel()
		if err := <-done; err != nil {
			b.t.Errorf("Serve: %v", err)
		}
	}
}

// restart stops the endpoint, cutting every agent's link, and starts it
// again on another loopback port, as a leaf restarted with another
// server.listen_agent. It returns the new address.
func (b *agentBed) restart() string {
	b.t.Helper()
	ln := listen(b.t) // before the old port closes, so that it is another one
	b.stop()
	b.serve(ln)
	return b.addr
}

func (b *agentBed) logged() string {
	b.log.mu.Lock()
	defer b.log.mu.Unlock()
	return b.log.b.String()
}

// space adds a space of this location with a new token and returns it.
func (b *agentBed) space(id string) string {
	tok := crypt.NewToken()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.spaces[id] = &shared.Space{Meta: shared.Meta{ID: id}, Name: id, Location: "here", AgentTokenHash: crypt.HashToken(tok)}
	return tok
}

func (b *agentBed) revoke(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.spaces[id].AgentTokenHash = crypt.HashToken(crypt.NewToken())
}

// run starts an agent and returns its stop function.
func (b *agentBed) run(id, token string, opts ...func(*agent.Options)) func() {
	b.t.Helper()
	o := agent.Options{Endpoint: b.addr, SpaceID: id, Token: token, Fingerprint: b.fp, Version: "v-test",
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	a, err := agent.New(o)
	if err != nil {
		b.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	b.t.Cleanup(stop)
	return stop
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// term is a test viewer of a terminal stream.
type term struct {
	t  *testing.T
	ts *leaf.TerminalStream

	mu   sync.Mutex
	out  bytes.Buffer
	exit *agentwire.Control
	done chan struct{}
}

func openTerm(t *testing.T, b *agentBed, id string, req agentwire.Terminal) *term {
	t.Helper()
	ts, err := b.agents.OpenTerminal(context.Background(), id, req)
	if err != nil {
		t.Fatalf("OpenTerminal: %v", err)
	}
	tm := &term{t: t, ts: ts, done: make(chan struct{})}
	go tm.read()
	t.Cleanup(func() { ts.Close(); <-tm.done })
	return tm
}

func (tm *term) read() {
	defer close(tm.done)
	for {
		kind, p, err := agentwire.ReadFrame(tm.ts)
		if err != nil {
			return
		}
		tm.mu.Lock()
		if kind == agentwire.KindData {
			tm.out.Write(p)
		} else {
			var c agentwire.Control
			if agentwire.DecodeJSON(p, &c) == nil && c.Type == agentwire.CtlExit {
				tm.exit = &c
			}
		}
		tm.mu.Unlock()
	}
}

func (tm *term) send(s string) {
	tm.t.Helper()
	if err := agentwire.WriteFrame(tm.ts, agentwire.KindData, []byte(s)); err != nil {
		tm.t.Fatalf("send: %v", err)
	}
}

func (tm *term) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

func (tm *term) waitOutput(want string) {
	tm.t.Helper()
	waitFor(tm.t, "output "+want, func() bool { return strings.Contains(tm.output(), want) })
}

func (tm *term) waitExit() agentwire.Control {
	tm.t.Helper()
	select {
	case <-tm.done:
	case <-time.After(10 * time.Second):
		tm.t.Fatal("the terminal did not end")
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if tm.exit == nil {
		tm.t.Fatalf("the terminal ended without an exit message; output %q", tm.out.String())
	}
	return *tm.exit
}

func TestAgentLinksAndReportsState(t *testing.T) {
	noLeaks(t)
	b := newAgentBed(t)
	tok := b.space("s1")
	stop := b.run("s1", tok)
	waitFor(t, "the agent to link", func() bool { return b.agents.Status("s1").Connected })
	st := b.agents.Status("s1")
	if st.Version != "v-test" || st.State != "ready" {
		t.Fatalf("status %+v, want version v-test, state ready", st)
	}
	first := st.LastSeen
	waitFor(t, "a heartbeat", func() bool { return b.agents.Status("s1").LastSeen.After(first) })
	stop()
	waitFor(t, "the link to end", func() bool { return !b.agents.Status("s1").Connected })
}

func TestAgentWrongAndRevokedTokensAreRefused(t *testing.T) {
	noLeaks(t)
	b := newAgentBed(t)
	tok := b.space("s1")
	other := b.space("s2")
	b.run("s1", "not-the-token")
	b.run("s1", other) // another space's token
	waitFor(t, "two refusals", func() bool {
		return strings.Count(b.logged(), "agent refused") >= 2
	})
	if b.agents.Status("s1").Connected {
		t.Fatal("an agent with a wrong token is connected")
	}
	if !strings.Contains(b.logged(), "the token is not valid for this space") {
		t.Fatalf("log does not say why: %s", b.logged())
	}

	stop := b.run("s1", tok)
	waitFor(t, "the agent to link", func() bool { return b.agents.Status("s1").Connected })
	b.revoke("s1")
	waitFor(t, "the revoked agent to be cut", func() bool { return !b.agents.Status("s1").Connected })
	if !strings.Contains(b.logged(), "the token was revoked") {
		t.Fatalf("log does not say the token was revoked: %s", b.logged())
	}
	// It keeps trying and keeps being refused.
	n := strings.Count(b.logged(), "agent refused")
	waitFor(t, "the revoked token refused again", func() bool { return strings.Count(b.logged(), "agent refused") > n })
	if b.agents.Status("s1").Connected {
		t.Fatal("a revoked token linked again")
	}
	stop()
}

func TestAgentSecondAgentDoesNotReplaceALiveOne(t *testing.T) {
	noLeaks(t)
	b := newAgentBed(t)
	tok := b.space("s1")
	stop1 := b.run("s1", tok)
	waitFor(t, "the first agent", func() bool { return b.agents.Status("s1").Connected })
	since := b.agents.Status("s1").Since
	stop2 := b.run("s1", tok)
	waitFor(t, "the second refused", func() bool { return strings.Contains(b.logged(), "another agent of this space is connected") })
	if b.agents.Status("s1").Since != since {
		t.Fatal("the live agent was replaced")
	}
	stop1()
	waitFor(t, "the second to take over", func() bool {
		s := b.agents.Status("s1")
		return s.Connected && s.Since != since
	})
	stop2()
}

func TestAgentTerminalSurvivesACutLink(t *testing.T) {
	noLeaks(t)
	b := newAgentBed(t)
	tok := b.space("s1")
	stop := b.run("s1", tok)
	waitFor(t, "the agent", func() bool { return b.agents.Status("s1").Connected })

	tm := openTerm(t, b, "s1", agentwire.Terminal{Shell: "sh", Cols: 80, Rows: 24})
	tm.send("echo before-$((6*7))\n")
	tm.waitOutput("before-42")
	id := tm.ts.ID

	// Cut the link: the agent stops answering (its process goes away for
	// the leaf) by cancelling the leaf side's view of it.
	stop()
	waitFor(t, "the link to end", func() bool { return !b.agents.Status("s1").Connected })
	<-tm.done

	// A new agent process would lose the session; the same agent
	// reconnecting keeps it. Here: run an agent that keeps sessions, cut
	// its link from the leaf side, and reattach.
	stop2 := b.run("s1", tok, func(o *agent.Options) { o.KeepSessions = time.Minute })
	waitFor(t, "the agent", func() bool { return b.agents.Status("s1").Connected })
	tm2 := openTerm(t, b, "s1", agentwire.Terminal{Shell: "sh"})
	tm2.send("echo kept-$((6*7))\n")
	tm2.waitOutput("kept-42")
	id = tm2.ts.ID
	since := b.agents.Status("s1").Since
	b.revokeAndRestore("s1") // cuts the link; the agent comes back with the same token
	waitFor(t, "the agent back", func() bool {
		s := b.agents.Status("s1")
		return s.Connected && s.Since != since
	})
	sessions, err := b.agents.Sessions(context.Background(), "s1")
	if err != nil || len(sessions) != 1 || sessions[0].ID != id {
		t.Fatalf("sessions %+v, %v; want the one session %s", sessions, err, id)
	}
	tm3 := openTerm(t, b, "s1", agentwire.Terminal{Attach: id})
	tm3.waitOutput("kept-42") // the replay
	tm3.send("exit 3\n")
	if c := tm3.waitExit(); c.Code != 3 {
		t.Fatalf("exit code %d, want 3", c.Code)
	}
	stop2()
}

// A viewer that attaches gets the session's output again without the
// questions the program asked its terminal then (the cursor position, the
// device attributes): its terminal would answer them as input, and the
// program would take the stale answers as typed.
func TestAgentReplayAsksTheTerminalNothing(t *testing.T) {
	b := newAgentBed(t)
	tok := b.space("s1")
	stop := b.run("s1", tok)
	defer stop()
	waitFor(t, "the agent", func() bool { return b.agents.Status("s1").Connected })

	tm := openTerm(t, b, "s1", agentwire.Terminal{Shell: "sh", Cols: 80, Rows: 24})
	tm.send(`printf 'asked\033[6n\033[c\033[>c\n'; echo marked-$((6*7))` + "\n")
	tm.waitOutput("marked-42")
	if out := tm.output(); !strings.Contains(out, "asked\x1b[6n\x1b[c\x1b[>c") {
		t.Fatalf("the first viewer got %q, not the program's questions as it asked them", out)
	}
	again := openTerm(t, b, "s1", agentwire.Terminal{Attach: tm.ts.ID})
	again.waitOutput("marked-42")
	if out := again.output(); !strings.Contains(out, "asked") || strings.Contains(out, "\x1b[") {
		t.Fatalf("the replay is %q: want the output without the questions", out)
	}
}

// revokeAndRestore cuts a linked agent by revoking its token until the
// link ends, then restores the token so the agent links again.
func (b *agentBed) revokeAndRestore(id string) {
	b.mu.Lock()
	keep := b.spaces[id].AgentTokenHash
	b.mu.Unlock()
	b.revoke(id)
	waitFor(b.t, "the link cut", func() bool { return !b.agents.Status(id).Connected })
	b.mu.Lock()
	b.spaces[id].AgentTokenHash = keep
	b.mu.Unlock()
}

func TestAgentTerminalBasics(t *testing.T) {
	noLeaks(t)
	b := newAgentBed(t)
	tok := b.space("s1")
	b.run("s1", tok)
	waitFor(t, "the agent", func() bool { return b.agents.Status("s1").Connected })

	// Resize, UTF-8, two viewers.
	tm := openTerm(t, b, "s1", agentwire.Terminal{Shell: "sh", Cols: 80, Rows: 24})
	if err := agentwire.WriteJSON(tm.ts, agentwire.Control{Type: agentwire.CtlResize, Cols: 132, Rows: 43}); err != nil {
		t.Fatal(err)
	}
	tm.send("stty size\n")
	tm.waitOutput("43 132")
	tm2 := openTerm(t, b, "s1", agentwire.Terminal{Attach: tm.ts.ID})
	tm2.send("echo 'héllo wörld ✓'\n")
	tm.waitOutput("héllo wörld ✓\r\n")
	tm2.waitOutput("héllo wörld ✓\r\n")

	// 1 MiB of output arrives whole.
	tm.send("i=0; while [ $i -lt 16384 ]; do echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde; i=$((i+1)); done; echo END-$((1+1))\n")
	tm.waitOutput("END-2")
	if n := strings.Count(tm.output(), "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n"); n != 16384 {
		t.Fatalf("got %d of 16384 lines", n)
	}
	tm.send("exit\n")
	if c := tm.waitExit(); c.Code != 0 {
		t.Fatalf("exit %d", c.Code)
	}
	tm2.waitExit()

	// A command without a terminal: its exit code, its input.
	ex := openTerm(t, b, "s1", agentwire.Terminal{Command: []string{"sh", "-c", "read x; echo got-$x; exit 7"}, NoPTY: true})
	ex.send("it\n")
	if c := ex.waitExit(); c.Code != 7 || ex.output() != "got-it\n" {
		t.Fatalf("exec: code %d output %q", c.Code, ex.output())
	}

	// Attaching to an unknown session fails clearly.
	_, err := b.agents.OpenTerminal(context.Background(), "s1", agentwire.Terminal{Attach: "nope"})
	if shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Fatalf("attach to nope: %v", err)
	}
	// No agent: unavailable.
	_, err = b.agents.OpenTerminal(context.Background(), "s9", agentwire.Terminal{})
	if shared.ErrorCode(err) != shared.EUNAVAILABLE {
		t.Fatalf("no agent: %v", err)
	}
}

// A malformed first frame closes that connection with a reason and leaves
// the endpoint serving.
func TestAgentMalformedHelloIsRefused(t *testing.T) {
	noLeaks(t)
	b := newAgentBed(t)
	tc, _ := tlsconf.Client(tlsconf.ClientOptions{Fingerprint: b.fp})
	for _, raw := range [][]byte{{0xff, 0xff, 0xff, 0xff, 'j'}, {0, 0, 0, 3, 'j', '{', '}'}, {0, 0, 0, 2, 'q', 0}} {
		c, err := tlsDial(b.addr, tc)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(raw)
		var w agentwire.Welcome
		err = agentwire.ReadJSON(c, &w)
		c.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatalf("answer: %v", err)
		}
		if w.OK {
			t.Fatalf("%q was welcomed", raw)
		}
	}
	if n := strings.Count(b.logged(), "agent refused"); n != 3 {
		t.Fatalf("%d refusals logged, want 3: %s", n, b.logged())
	}
	tok := b.space("s1")
	b.run("s1", tok)
	waitFor(t, "a good agent after the bad ones", func() bool { return b.agents.Status("s1").Connected })
}

func tlsDial(addr string, tc *tls.Config) (*tls.Conn, error) {
	return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tc)
}

// noLeaks checks, after every cleanup of t, that t left no goroutine.
func noLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// An idle linked agent costs the leaf one goroutine, the one reading its
// link, though it keeps its state and log streams open: the leaf reads
// them in that goroutine and runs no multiplexer goroutines of its own.
func TestIdleAgentCostsTheLeafOneGoroutine(t *testing.T) {
	noLeaks(t)
	b := newAgentBed(t)
	const n = 4
	for i := range n {
		id := fmt.Sprintf("idle-%d", i)
		b.run(id, b.space(id))
	}
	var leafs, muxes int
	for deadline := time.Now().Add(10 * time.Second); ; {
		linked := len(b.agents.Linked()) == n
		// Goroutines in package leaf: Serve's accept loop and one a link.
		// yamux's receive loops: the agents' own.
		leafs, muxes = goroutinesIn("github.com/knot-dev/knot/leaf."), goroutinesIn("yamux.(*Session).recv(")
		if linked && leafs == 1+n && muxes == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d agents linked: %d goroutines in the leaf and %d yamux receive loops; want %d and %d", len(b.agents.Linked()), leafs, muxes, 1+n, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// goroutinesIn counts the goroutines with a frame whose function's name
// holds fn.
func goroutinesIn(fn string) int {
	var buf bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&buf, 2)
	n := 0
	for g := range strings.SplitSeq(buf.String(), "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}
