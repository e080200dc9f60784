package runtime_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/runtime/runtimetest"
	"github.com/knot-dev/knot/shared"
)

// printing is the fake runtime with what its workloads printed.
type printing struct {
	*runtimetest.Fake
	mu    sync.Mutex
	lines []runtime.OutputLine
	err   error
	reads int
}

func (p *printing) Output(_ context.Context, _ string, n int) ([]runtime.OutputLine, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reads++
	if p.err != nil {
		return nil, p.err
	}
	return append([]runtime.OutputLine(nil), p.lines[max(0, len(p.lines)-n):]...), nil
}

func (p *printing) print(at time.Time, text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, runtime.OutputLine{At: at, Source: "stderr", Text: text})
}

// agentBed is a Manager on the printing fake with a clock and an agent
// registry the test moves.
type agentBed struct {
	t     *testing.T
	rt    *printing
	m     *runtime.Manager
	recs  *runtimetest.Records
	mu    sync.Mutex
	clock time.Time
	up    bool
	s     *shared.Space
	start time.Time // when the space started
	seen  int       // log lines looked at
}

func newAgentBed(t *testing.T) *agentBed {
	b := &agentBed{t: t, rt: &printing{Fake: runtimetest.NewFake("docker", "here", runtimetest.TestImage)}, recs: runtimetest.NewRecords(), clock: time.Now()}
	b.restart()
	tmpl := b.recs.PutTemplate(&shared.Template{Name: "dev", Kind: shared.TemplateContainer, Spec: "image: " + runtimetest.TestImage + "\n"})
	b.s = b.recs.AddSpace(b.recs.AddUser("ann"), tmpl, "dev")
	if err := b.m.Start(context.Background(), b.s.ID); err != nil {
		t.Fatal(err)
	}
	b.start = *b.recs.Space(b.s.ID).StartedAt
	b.news()
	return b
}

// restart gives the bed a new Manager, as a restart of the server does.
func (b *agentBed) restart() {
	t := b.t
	m, err := runtime.NewManager(runtime.Options{
		Records:        b.recs,
		Container:      b.rt,
		Server:         runtime.ServerInfo{AgentEndpoint: "knot.example:3010", Location: "here"},
		AgentConnected: func(string) bool { b.mu.Lock(); defer b.mu.Unlock(); return b.up },
		Logger:         slog.New(slog.DiscardHandler),
		Now:            func() time.Time { b.mu.Lock(); defer b.mu.Unlock(); return b.clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	b.m = m
	b.seen = 0
}

// at moves the clock to d after the start and runs a pass of the watch.
func (b *agentBed) at(d time.Duration) {
	b.mu.Lock()
	b.clock = b.start.Add(d)
	b.mu.Unlock()
	b.m.CheckAgents(context.Background())
}

func (b *agentBed) setUp(up bool) {
	b.mu.Lock()
	b.up = up
	b.mu.Unlock()
	if err := b.m.AgentChanged(context.Background(), b.s.ID); err != nil {
		b.t.Fatal(err)
	}
}

// news returns the log lines added since the last call.
func (b *agentBed) news() []string {
	var out []string
	for _, l := range b.m.Logs(b.s.ID)[b.seen:] {
		out = append(out, l.Level+" "+l.Text)
	}
	b.seen += len(out)
	return out
}

func (b *agentBed) want(when string, want ...string) {
	b.t.Helper()
	got := b.news()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(got[i], want[i])
	}
	if !ok {
		b.t.Fatalf("%s: the log gained\n  %s\nwant lines starting\n  %s", when, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestAgentThatLinksMeansNoReport(t *testing.T) {
	b := newAgentBed(t)
	b.rt.print(time.Now(), "agent linked to its leaf")
	b.at(time.Second)
	b.setUp(true)
	for _, d := range []time.Duration{10 * time.Second, 21 * time.Second, 5 * time.Minute, time.Hour} {
		b.at(d)
	}
	b.want("a linked agent")
	if b.rt.reads != 0 {
		t.Errorf("the output was read %d times; want none while the agent is linked", b.rt.reads)
	}
}

func TestAgentThatDoesNotLinkIsReported(t *testing.T) {
	b := newAgentBed(t)
	start := *b.recs.Space(b.s.ID).StartedAt
	for i := range 3 {
		b.rt.print(start.Add(time.Duration(i)*time.Second), fmt.Sprintf("dial tcp knot.example:3010: connect: connection refused (%d)", i))
	}
	b.at(19 * time.Second)
	b.want("within the grace period")

	b.at(21 * time.Second)
	b.want("after the grace period",
		"error the agent has not connected 21 s after the start. It dials knot.example:3010 from inside the space; this usually means the space has no route",
		"info [space stderr] dial tcp knot.example:3010: connect: connection refused (0)",
		"info [space stderr] dial tcp knot.example:3010: connect: connection refused (1)",
		"info [space stderr] dial tcp knot.example:3010: connect: connection refused (2)")

	// New output is added at most once a minute, and only what is new.
	b.rt.print(start.Add(30*time.Second), "dial tcp knot.example:3010: connect: connection refused (3)")
	b.rt.print(start.Add(31*time.Second), strings.Repeat("x", 1000))
	b.at(40 * time.Second)
	b.want("before a minute has passed")
	b.at(82 * time.Second)
	b.want("a minute later",
		"error the agent is still not connected, 82 s on",
		"info [space stderr] dial tcp knot.example:3010: connect: connection refused (3)",
		"info [space stderr] "+strings.Repeat("x", 300)+"… (700 more characters)")
	b.at(150 * time.Second)
	b.want("without new output")

	// An error reading the output is one line.
	b.rt.mu.Lock()
	b.rt.err = shared.Errorf(shared.EUNAVAILABLE, "cannot reach docker")
	b.rt.mu.Unlock()
	b.at(211 * time.Second)
	b.want("when the output cannot be read", "error the agent is still not connected, 211 s on", "error reading what the space printed failed: cannot reach docker")
	b.rt.mu.Lock()
	b.rt.err = nil
	b.rt.mu.Unlock()

	// It links: nothing more.
	b.setUp(true)
	b.rt.print(start.Add(4*time.Minute), "agent linked to its leaf")
	b.at(5 * time.Minute)
	b.at(10 * time.Minute)
	b.want("once linked")

	// Its link breaks and does not come back: one line, and what the
	// space printed since.
	b.at(20 * time.Minute)
	b.setUp(false)
	b.rt.print(start.Add(20*time.Minute+time.Second), "agent link down; dialling again")
	b.at(20*time.Minute + 19*time.Second)
	b.want("within the grace period after the link broke")
	b.at(20*time.Minute + 25*time.Second)
	b.want("after the link broke",
		"error the agent's link broke and it has not connected again in 25 s. It dials knot.example:3010",
		"info [space stderr] agent link down; dialling again")

	// The space stops: nothing more is read.
	if err := b.m.Stop(context.Background(), b.s.ID); err != nil {
		t.Fatal(err)
	}
	b.news()
	reads := b.rt.reads
	b.at(time.Hour)
	b.want("once stopped")
	if b.rt.reads != reads {
		t.Errorf("the output of a stopped space was read")
	}
}

// A workload that printed nothing: the report says so.
func TestAgentReportWithoutOutput(t *testing.T) {
	b := newAgentBed(t)
	b.at(25 * time.Second)
	b.want("with nothing printed", "error the agent has not connected 25 s after the start", "info the space has printed nothing since")
}

// After a restart of the server, the agent of a space that ran before
// gets the grace period from the restart: it dials again.
func TestAgentReportAfterARestart(t *testing.T) {
	b := newAgentBed(t)
	b.setUp(true)
	b.at(time.Second)
	b.at(time.Hour)
	b.restart()
	b.setUp(false)
	b.at(time.Hour + 10*time.Second)
	b.want("within the grace period after the restart")
	b.at(time.Hour + 25*time.Second)
	b.want("after the restart", "error the agent has not connected in the 25 s since this server started. It dials knot.example:3010",
		"info the space has printed nothing since")
}
