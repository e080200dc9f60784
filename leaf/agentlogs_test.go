package leaf_test

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/agent"
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
