package leaf_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	goruntime "runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	mdns "github.com/miekg/dns"

	"github.com/knot-dev/knot/agent"
	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/tlsconf"
)

// benchLeaf is an agent endpoint on loopback that accepts every space
// whose token is token, and tells linked on every link.
type benchLeaf struct {
	agents *leaf.Agents
	ln     net.Listener
	fp     string
	token  string
	cert   *tlsconf.ServerCert
	linked chan string
	stop   func()
}

func startBenchLeaf(tb testing.TB, addr string, cert *tlsconf.ServerCert) *benchLeaf {
	tb.Helper()
	if cert == nil {
		var err error
		cert, err = tlsconf.LoadServer(tlsconf.ServerOptions{SelfSignedDir: tb.TempDir(), Hosts: []string{"127.0.0.1"}})
		if err != nil {
			tb.Fatal(err)
		}
	}
	token := "bench-token"
	hash := crypt.HashToken(token)
	l := &benchLeaf{fp: cert.Fingerprint, token: token, cert: cert, linked: make(chan string, 4096)}
	var err error
	l.agents, err = leaf.NewAgents(leaf.AgentsOptions{
		Space: func(_ context.Context, id string) (*shared.Space, error) {
			return &shared.Space{Meta: shared.Meta{ID: id}, Location: "here", AgentTokenHash: hash}, nil
		},
		Location: "here", TLS: cert.Config, Version: "bench",
		Changed: func(id string) {
			if l.agents.Status(id).Connected {
				select {
				case l.linked <- id:
				default:
				}
			}
		},
		Lines:  func(string, agentwire.LogLine) {},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		tb.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		l.ln, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the old listener's port is released
	}
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.agents.Serve(ctx, l.ln); close(done) }()
	l.stop = func() { cancel(); <-done }
	return l
}

func percentile(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// BenchmarkAgentConnect measures an agent's connect time: from Run to the
// leaf's registration, through a srv+ lookup (a DNS server on loopback,
// TTL 0, so each agent resolves), TLS with the pinned fingerprint, and the
// Hello/Welcome exchange. Each iteration is a new agent.
func BenchmarkAgentConnect(b *testing.B) {
	l := startBenchLeaf(b, "127.0.0.1:0", nil)
	defer l.stop()
	_, port, _ := net.SplitHostPort(l.ln.Addr().String())
	p, _ := strconv.Atoi(port)
	dns := benchDNS(b, uint16(p))
	var times []time.Duration
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("connect-%d", i)
		a, err := agent.New(agent.Options{Endpoint: "srv+_knot-agent._tcp.knot.test", Nameservers: []string{dns}, SpaceID: id,
			Token: l.token, Fingerprint: l.fp, Version: "bench", Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		start := time.Now()
		go func() { a.Run(ctx); close(done) }()
		for got := ""; got != id; {
			got = <-l.linked
		}
		times = append(times, time.Since(start))
		cancel()
		<-done
	}
	b.ReportMetric(float64(percentile(times, 0.5).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(times, 0.99).Microseconds()), "p99-µs")
}

// benchDNS answers _knot-agent._tcp.knot.test with port on
// leaf.knot.test, 127.0.0.1, TTL 0.
func benchDNS(tb testing.TB, port uint16) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, q *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(q)
		qq := q.Question[0]
		switch qq.Qtype {
		case mdns.TypeSRV:
			m.Answer = append(m.Answer, &mdns.SRV{Hdr: mdns.RR_Header{Name: qq.Name, Rrtype: mdns.TypeSRV, Class: mdns.ClassINET},
				Priority: 1, Weight: 1, Port: port, Target: "leaf.knot.test."})
		case mdns.TypeA:
			m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: qq.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET}, A: net.IPv4(127, 0, 0, 1)})
		}
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	s.NotifyStartedFunc = func() { close(started) }
	go s.ActivateAndServe()
	<-started
	tb.Cleanup(func() { s.Shutdown() })
	return pc.LocalAddr().String()
}

// echoRTT sends one byte at a time on w and waits for it in r, n times,
// and returns the round trips.
func echoRTT(tb testing.TB, n int, send func(byte) error, wait func(byte) error) []time.Duration {
	out := make([]time.Duration, 0, n)
	for i := range n {
		c := byte('a' + i%26)
		start := time.Now()
		if err := send(c); err != nil {
			tb.Fatal(err)
		}
		if err := wait(c); err != nil {
			tb.Fatal(err)
		}
		out = append(out, time.Since(start))
	}
	return out
}

// BenchmarkKeystrokeEcho measures a keystroke's round trip to its echo:
// "leaf" through the leaf's terminal stream (yamux over TLS on loopback)
// to an agent's PTY running cat, and "direct" on the same kind of PTY
// opened in this process, the agent's side alone. 2,000 keystrokes a run.
func BenchmarkKeystrokeEcho(b *testing.B) {
	const keys = 2000
	b.Run("direct", func(b *testing.B) {
		var all []time.Duration
		for b.Loop() {
			cmd := exec.Command("cat")
			f, err := pty.Start(cmd)
			if err != nil {
				b.Fatal(err)
			}
			r := bufio.NewReader(f)
			all = append(all, echoRTT(b, keys, func(c byte) error { _, err := f.Write([]byte{c}); return err }, func(c byte) error {
				for {
					got, err := r.ReadByte()
					if err != nil || got == c {
						return err
					}
				}
			})...)
			f.Close()
			cmd.Process.Kill()
			cmd.Wait()
		}
		b.ReportMetric(float64(percentile(all, 0.5).Microseconds()), "p50-µs")
		b.ReportMetric(float64(percentile(all, 0.99).Microseconds()), "p99-µs")
	})
	b.Run("leaf", func(b *testing.B) {
		l := startBenchLeaf(b, "127.0.0.1:0", nil)
		defer l.stop()
		a, err := agent.New(agent.Options{Endpoint: l.ln.Addr().String(), SpaceID: "echo", Token: l.token, Fingerprint: l.fp,
			Version: "bench", Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { a.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		for <-l.linked != "echo" {
		}
		var all []time.Duration
		for b.Loop() {
			tm, err := l.agents.OpenTerminal(context.Background(), "echo", agentwire.Terminal{Command: []string{"cat"}, Cols: 80, Rows: 24})
			if err != nil {
				b.Fatal(err)
			}
			var pending []byte
			all = append(all, echoRTT(b, keys, func(c byte) error { return agentwire.WriteFrame(tm, agentwire.KindData, []byte{c}) }, func(c byte) error {
				for {
					for len(pending) > 0 {
						got := pending[0]
						pending = pending[1:]
						if got == c {
							return nil
						}
					}
					kind, p, err := agentwire.ReadFrame(tm)
					if err != nil {
						return err
					}
					if kind == agentwire.KindData {
						pending = append(pending, p...)
					}
				}
			})...)
			tm.Close()
		}
		b.ReportMetric(float64(percentile(all, 0.5).Microseconds()), "p50-µs")
		b.ReportMetric(float64(percentile(all, 0.99).Microseconds()), "p99-µs")
	})
}

// simAgentsEnv makes this test binary run simulated agents (see
// TestSimulatedAgents): "addr fingerprint token n".
const simAgentsEnv = "KNOT_BENCH_SIM_AGENTS"

// TestSimulatedAgents is not a test: started by BenchmarkIdleAgents with
// simAgentsEnv set, it runs n of knot's agents (package agent, with its
// backoff) against the leaf at addr, each for its own space, and prints
// "ready" and then runs until its input closes.
func TestSimulatedAgents(t *testing.T) {
	spec := os.Getenv(simAgentsEnv)
	if spec == "" {
		t.Skip("run by BenchmarkIdleAgents")
	}
	f := strings.Fields(spec)
	n, _ := strconv.Atoi(f[3])
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		a, err := agent.New(agent.Options{Endpoint: f[0], Fingerprint: f[1], Token: f[2], SpaceID: fmt.Sprintf("sim-%04d", i),
			Version: "bench", LogQueue: 16, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { a.Run(ctx) })
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	cancel()
	wg.Wait()
}

// restartGap is how long BenchmarkIdleAgents keeps the leaf away.
const restartGap = 3 * time.Second

// BenchmarkIdleAgents links 1,000 of knot's agents, run in a process of
// their own, to a leaf in this one; it reports the leaf's memory (heap
// and goroutine stacks after a GC) and goroutines per idle linked agent,
// then stops the leaf, and after restartGap starts a new endpoint on the
// same address and certificate, and reports the time from its start until
// all 1,000 are registered again.
func BenchmarkIdleAgents(b *testing.B) {
	const n = 1000
	for b.Loop() {
		l := startBenchLeaf(b, "127.0.0.1:0", nil)
		addr := l.ln.Addr().String()
		before, hb, sb := leafMemory()
		g0 := goruntime.NumGoroutine()
		cmd := exec.Command(os.Args[0], "-test.run=^TestSimulatedAgents$", "-test.count=1")
		cmd.Env = append(os.Environ(), simAgentsEnv+"="+addr+" "+l.fp+" "+l.token+" "+strconv.Itoa(n))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		waitAll := func(l *benchLeaf, limit time.Duration) time.Duration {
			start := time.Now()
			seen := map[string]bool{}
			for len(seen) < n {
				select {
				case id := <-l.linked:
					seen[id] = true
				case <-time.After(limit):
					b.Fatalf("%d of %d agents registered within %v", len(seen), n, limit)
				}
			}
			return time.Since(start)
		}
		waitAll(l, 2*time.Minute)
		// Idle: let every link settle (state, logs stream, first heartbeat).
		time.Sleep(2 * time.Second)
		after, ha, sa := leafMemory()
		b.ReportMetric(float64(goruntime.NumGoroutine()-g0)/n, "goroutines/agent")
		b.ReportMetric(float64(after-before)/n/1024, "KiB/agent")
		b.ReportMetric(float64(ha-hb)/n/1024, "heap-KiB/agent")
		b.ReportMetric(float64(sa-sb)/n/1024, "stack-KiB/agent")

		if p := os.Getenv("KNOT_BENCH_HEAPPROFILE"); p != "" {
			f, _ := os.Create(p)
			pprof.WriteHeapProfile(f)
			f.Close()
		}
		l.stop()
		// A restart keeps the leaf away for a while: its process stops,
		// starts and opens its store. The agents back off meanwhile.
		time.Sleep(restartGap)
		l2 := startBenchLeaf(b, addr, l.cert)
		took := waitAll(l2, time.Minute)
		b.ReportMetric(took.Seconds(), "s-reregister")
		stdin.Close()
		cmd.Wait()
		l2.stop()
	}
}

// leafMemory returns the heap in use and the goroutine stacks of this
// process after GC cycles (each may halve a goroutine's stack that uses
// less than a quarter of it, as an idle server's would be in time).
func leafMemory() (total, heap, stack uint64) {
	for range 6 {
		goruntime.GC()
	}
	var m goruntime.MemStats
	goruntime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse, m.HeapInuse, m.StackInuse
}
