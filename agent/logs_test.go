package agent_test

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/yamux"

	"github.com/knot-dev/knot/agent"
	"github.com/knot-dev/knot/shared/agentwire"
)

// acceptLogs records the lines of the log streams the agent opens on mux.
func (l *fakeLeaf) acceptLogs(mux *yamux.Session) {
	for {
		st, err := mux.AcceptStream()
		if err != nil {
			return
		}
		go func() {
			defer st.Close()
			var o agentwire.Open
			if agentwire.ReadJSON(st, &o) != nil || o.Type != agentwire.OpenLogs {
				return
			}
			for {
				var line agentwire.LogLine
				if err := agentwire.ReadJSON(st, &line); err != nil {
					return
				}
				l.mu.Lock()
				l.lines = append(l.lines, line)
				l.mu.Unlock()
			}
		}()
	}
}

// logged returns the lines the leaf got, as "level service: text".
func (l *fakeLeaf) logged() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.lines))
	for i, x := range l.lines {
		out[i] = x.Level + " " + x.Service + ": " + x.Text
	}
	return out
}

func (l *fakeLeaf) waitLine(t *testing.T, want string) {
	t.Helper()
	waitFor(t, "the line "+want, func() bool {
		for _, s := range l.logged() {
			if strings.Contains(s, want) {
				return true
			}
		}
		return false
	})
}

// freePort returns a loopback address that was free a moment ago.
func freePort(t *testing.T, network string) string {
	t.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return pc.LocalAddr().String()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// client makes no keep-alive connections, which would outlive a test.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func post(t *testing.T, url, body string) int {
	t.Helper()
	res, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// The agent forwards its own log, syslog datagrams (UDP and a unixgram
// socket, RFC 3164 and 5424) and lines posted to its HTTP intake to the
// leaf, with the level and the sender's name; the intake refuses what is
// not a log message; lines written while the link is down arrive after it
// is back.
func TestAgentForwardsLogLines(t *testing.T) {
	noLeaks(t)
	l := startFakeLeaf(t)
	udp, intake := freePort(t, "udp"), freePort(t, "tcp")
	sock := filepath.Join(t.TempDir(), "log")
	runAgent(t, agent.Options{Endpoint: l.addr, SpaceID: "s1", Token: "tok", Fingerprint: l.fp,
		SyslogAddr: udp, SyslogSocket: sock, IntakeAddr: intake})
	waitFor(t, "the link", func() bool { return l.linked() != nil })
	l.waitLine(t, "info agent: agent linked to its leaf")

	c, err := net.Dial("udp", udp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "<11>Dec  7 05:00:00 myapp[12]: disk on fire")
	l.waitLine(t, "error myapp: disk on fire")
	fmt.Fprint(c, "<165>1 2026-12-07T05:00:00Z host web 1 ID47 [x@1 a=\"\\]\\\"\"] served /index")
	l.waitLine(t, "info web: served /index")
	u, err := net.Dial("unixgram", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	fmt.Fprint(u, "<78>Dec  7 05:00:00 cron: tick")
	l.waitLine(t, "info cron: tick")

	base := "http://" + intake
	if code := post(t, base+"/logs", `{"service":"api","level":"warn","message":"slow\nvery slow\n"}`); code != http.StatusAccepted {
		t.Fatalf("POST /logs: %d, want 202", code)
	}
	l.waitLine(t, "error api: slow")
	l.waitLine(t, "error api: very slow")
	if code := post(t, base+"/gelf", `{"short_message":"gelf line","level":6,"_service":"worker"}`); code != http.StatusAccepted {
		t.Fatalf("POST /gelf: %d, want 202", code)
	}
	l.waitLine(t, "info worker: gelf line")
	for body, want := range map[string]int{
		`{"message":"x","level":"loud"}`: http.StatusBadRequest,
		`{"message":"  "}`:               http.StatusBadRequest,
		`not json`:                       http.StatusBadRequest,
		`{"message":"` + strings.Repeat("a", 70<<10) + `"}`: http.StatusRequestEntityTooLarge,
	} {
		if code := post(t, base+"/logs", body); code != want {
			t.Errorf("POST /logs %.40q: %d, want %d", body, code, want)
		}
	}
	res, err := client.Get(base + "/logs")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /logs: %d, want 405", res.StatusCode)
	}

	// A long line is cut to the bound, valid UTF-8.
	long := strings.Repeat("é", agentwire.MaxLogText)
	post(t, base+"/logs", `{"service":"big","message":"`+long+`"}`)
	l.waitLine(t, "info big: éé")
	for _, x := range l.logged() {
		if strings.HasPrefix(x, "info big: ") && len(x)-len("info big: ") > agentwire.MaxLogText {
			t.Errorf("a line of %d bytes passed the bound", len(x))
		}
	}

	// Lines sent while the link is down wait for the next link.
	l.cut()
	fmt.Fprint(c, "<14>app: written while cut")
	l.waitLine(t, "info app: written while cut")
}

// Syslog and the intake are each held to LogRate lines a second; the
// intake answers 429 beyond it, and lost syslog lines are counted in a
// line to the leaf.
func TestAgentBoundsTheLinesItForwards(t *testing.T) {
	noLeaks(t)
	l := startFakeLeaf(t)
	udp, intake := freePort(t, "udp"), freePort(t, "tcp")
	runAgent(t, agent.Options{Endpoint: l.addr, SpaceID: "s1", Token: "tok", Fingerprint: l.fp,
		SyslogAddr: udp, IntakeAddr: intake, LogRate: 5})
	waitFor(t, "the link", func() bool { return l.linked() != nil })
	c, err := net.Dial("udp", udp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 50 {
		fmt.Fprintf(c, "<14>flood: line %d", i)
	}
	l.waitLine(t, "log lines were dropped in the space")
	n := 0
	for _, x := range l.logged() {
		if strings.HasPrefix(x, "info flood:") {
			n++
		}
	}
	if n < 1 || n > 15 {
		t.Errorf("%d of 50 flood lines passed a rate of 5 a second", n)
	}
	codes := map[int]int{}
	for range 20 {
		codes[post(t, "http://"+intake+"/logs", `{"message":"x"}`)]++
	}
	if codes[http.StatusTooManyRequests] == 0 || codes[http.StatusAccepted] == 0 {
		t.Errorf("20 posts at a rate of 5: %v, want some 202 and some 429", codes)
	}
}
