package leaf_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/knot-dev/knot/agent"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/tlsconf"
)

func (b *agentBed) forwarded(prefix string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range b.lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// The lines an agent forwards reach the leaf's Lines under the agent's
// space, and an agent over the leaf's rate loses the rest, which the
// space's log is told.
func TestAgentLinesReachTheLeaf(t *testing.T) {
	noLeaks(t)
	b := newAgentBed(t)
	tok := b.space("s-logs")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	intake := ln.Addr().String()
	ln.Close()
	b.run("s-logs", tok, func(o *agent.Options) { o.IntakeAddr, o.LogRate = intake, 10000 })
	waitFor(t, "the agent's own log line", func() bool {
		return len(b.forwarded("s-logs info agent: agent linked to its leaf")) == 1
	})
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := c.Post("http://"+intake+"/logs", "application/json", strings.NewReader(`{"service":"app","level":"error","message":"it broke"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	waitFor(t, "the posted line", func() bool { return len(b.forwarded("s-logs error app: it broke")) == 1 })

	// 300 lines at once against the leaf's 50 a second.
	res, err = c.Post("http://"+intake+"/logs", "application/json", strings.NewReader(`{"service":"flood","message":"`+strings.Repeat(`x\n`, 300)+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	// The note comes before the next line the leaf takes.
	deadline := time.Now().Add(10 * time.Second)
	for len(b.forwarded("s-logs error knot: ")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no note of dropped lines: %q", b.forwarded("s-logs error"))
		}
		res, err = c.Post("http://"+intake+"/logs", "application/json", strings.NewReader(`{"service":"later","message":"a later line"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(b.forwarded("s-logs info flood: x")); n < 40 || n > 120 {
		t.Errorf("%d of 300 lines passed the leaf's 50 a second", n)
	}
	if got := b.forwarded("s-logs error knot: "); !strings.Contains(got[0], "lines from the agent were dropped: over 50 lines a second") {
		t.Errorf("note %q", got[0])
	}
}

// rawAgent is a hand-made agent link: Hello, Welcome, yamux, and the state
// stream with one State, for sending what a real agent would not.
func rawAgent(t *testing.T, b *agentBed, id, token string) *yamux.Session {
	t.Helper()
	tc, _ := tlsconf.Client(tlsconf.ClientOptions{Fingerprint: b.fp})
	c, err := tlsDial(b.addr, tc)
	if err != nil {
		t.Fatal(err)
	}
	agentwire.WriteJSON(c, agentwire.Hello{SpaceID: id, Token: token, Version: "raw"})
	var w agentwire.Welcome
	if err := agentwire.ReadJSON(c, &w); err != nil || !w.OK {
		t.Fatalf("welcome %+v, %v", w, err)
	}
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	mux, err := yamux.Client(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mux.Close() })
	st, err := mux.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	agentwire.WriteJSON(st, agentwire.Open{Type: agentwire.OpenState})
	agentwire.WriteJSON(st, agentwire.State{Version: "raw", State: "ready"})
	return mux
}

// A bad log line, or a second log stream, closes that stream with a
// reason and nothing else: the link stays, and a new log stream is taken.
func TestAgentBadLogStreamIsClosedAndTheLinkStays(t *testing.T) {
	noLeaks(t)
	b := newAgentBed(t)
	tok := b.space("s-raw")
	mux := rawAgent(t, b, "s-raw", tok)
	waitFor(t, "the link", func() bool { return b.agents.Status("s-raw").Connected })
	openLogs := func() net.Conn {
		st, err := mux.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		agentwire.WriteJSON(st, agentwire.Open{Type: agentwire.OpenLogs})
		return st
	}
	closed := func(st net.Conn) bool {
		st.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := st.Read(make([]byte, 1))
		return errors.Is(err, io.EOF)
	}
	now := time.Now()
	for name, bad := range map[string]any{
		"bad level":  agentwire.LogLine{At: now, Level: "loud", Service: "x", Text: "y"},
		"line break": agentwire.LogLine{At: now, Level: "info", Service: "x", Text: "a\nb"},
		"no service": agentwire.LogLine{At: now, Level: "info", Text: "y"},
		"not a line": agentwire.Control{Type: "eof"},
	} {
		st := openLogs()
		agentwire.WriteJSON(st, bad)
		if !closed(st) {
			t.Errorf("%s: the log stream stayed open", name)
		}
	}
	st := openLogs()
	agentwire.WriteJSON(st, agentwire.LogLine{At: now.Add(time.Hour), Level: "info", Service: "raw", Text: "a good line"})
	waitFor(t, "the good line", func() bool { return len(b.forwarded("s-raw info raw: a good line")) == 1 })
	// One log stream at a time.
	if !closed(openLogs()) {
		t.Error("a second log stream stayed open")
	}
	if !b.agents.Status("s-raw").Connected {
		t.Fatalf("the link ended:\n%s", b.logged())
	}
	if n := strings.Count(b.logged(), "agent log stream closed"); n != 4 {
		t.Errorf("%d log streams closed with a reason, want 4:\n%s", n, b.logged())
	}
	st.Close()
}
