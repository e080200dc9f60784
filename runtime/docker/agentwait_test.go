package docker_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/runtime/runtimetest"
	"github.com/knot-dev/knot/shared"
)

// A space whose template keeps the engine's default network (here: none
// to the host) runs, but the agent the driver starts in it cannot reach
// the leaf's agent endpoint on the host's loopback. The space's log says
// so within the grace period, names the endpoint and the usual cause, and
// shows what the agent itself printed: its dial error.
func TestSpaceLogSaysWhyTheAgentDoesNotConnect(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *runtimetest.Engine) {
		// The leaf's agent endpoint: it answers on the host, where the
		// space cannot go.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		loc := "agentwait-" + e.Name
		d := newDriver(t, e, e.Host, loc, true)
		recs := runtimetest.NewRecords()
		m, err := runtime.NewManager(runtime.Options{
			Records:           recs,
			Container:         d,
			Server:            runtime.ServerInfo{URL: "https://knot.test/", AgentEndpoint: ln.Addr().String(), Location: loc},
			AgentConnected:    func(string) bool { return false },
			AgentGrace:        4 * time.Second,
			ReconcileInterval: 50 * time.Millisecond,
			StopGrace:         time.Second,
			Logger:            slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		tmpl := recs.PutTemplate(&shared.Template{Name: "nonet", Kind: shared.TemplateContainer,
			Spec: "image: " + e.Image + "\ncommand: [\"sh\", \"-c\", \"echo the space says hello; trap 'exit 0' TERM; while :; do sleep 1; done\"]\n" +
				// What a leaf adds to the agent's environment; the agent
				// does not get as far as checking it.
				"environment:\n  - KNOT_AGENT_FINGERPRINT=" + strings.Repeat("ab", 32) + "\n"})
		s := recs.AddSpace(recs.AddUser("ann"), tmpl, "dev")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			<-done
			dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
			defer dcancel()
			if err := m.Delete(dctx, s.ID); err != nil {
				t.Errorf("deleting the space: %v", err)
			}
		})
		if err := m.Start(ctx, s.ID); err != nil {
			t.Fatalf("Start: %v (log %v)", err, m.Logs(s.ID))
		}
		if err := d.StartAgent(ctx, s.ID); err != nil {
			t.Fatalf("StartAgent: %v", err)
		}

		headline := "the agent has not connected "
		var text string
		defer func() {
			if t.Failed() {
				t.Logf("the space's log:\n%s", text)
			}
		}()
		runtimetest.WaitFor(t, 30*time.Second, "the space's log to say why the agent does not connect", func() bool {
			var b strings.Builder
			for _, l := range m.Logs(s.ID) {
				b.WriteString(l.Level + " " + l.Text + "\n")
			}
			text = b.String()
			return strings.Contains(text, headline) && strings.Contains(text, "] ") && strings.Contains(text, "dial tcp "+ln.Addr().String())
		})
		for _, want := range []string{
			"error " + headline,
			"It dials " + ln.Addr().String() + " from inside the space",
			"see the template's network",
			"[space stdout] the space says hello",
			"[space stderr] ",
			"connection refused",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("the space's log lacks %q:\n%s", want, text)
			}
		}
		if n := strings.Count(text, headline); n != 1 {
			t.Errorf("the headline is in the log %d times; want once:\n%s", n, text)
		}
	})
}
