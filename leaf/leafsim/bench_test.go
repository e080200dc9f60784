package leafsim_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	goruntime "runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf/leafsim"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/memory"
)

// The benchmarks run the origin in this process and the simulated leaves in
// a child process (this test binary again, told so by $LEAFSIM_CHILD), so
// that the origin's memory is measured alone and each process holds only
// its own side's sockets. They talk over the child's stdin and stdout, one
// line per request and per answer:
//
//	→ ready              ← after every leaf is current: "ok"
//	→ applied <rev>      ← "at <unix ns>" when the last leaf applied rev
//	→ mark               ← "ok" (the welcomes so far, for reconnected)
//	→ reconnected        ← "at <unix ns>" once every leaf was welcomed again
//	                       and is current
//	→ stats              ← "ok <leafsim.Stats>"
//	→ cpu                ← "at <ns>": the CPU time the child used so far
//
// An error is answered "error <message>". The child exits when its stdin
// closes.
//
// Run them with -run '^$' -bench Fanout1000 -benchtime=20x (20 updates).
// For profiles: LEAFSIM_ORIGIN_CPUPROFILE=file profiles the origin during
// the measured updates, LEAFSIM_CPUPROFILE=file the simulator process, and
// LEAFSIM_MEMSTATS=1 prints the origin's heap, stacks and goroutines at each
// memory reading (LEAFSIM_HEAPPROFILE=file also writes a heap profile).
func TestMain(m *testing.M) {
	if os.Getenv("LEAFSIM_CHILD") == "1" {
		os.Exit(simChild(os.Stdin, os.Stdout))
	}
	if os.Getenv("LEAFSIM_FLOOR") != "" {
		os.Exit(floorChild(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// simChild serves the requests of the parent process.
func simChild(in io.Reader, out io.Writer) int {
	n, err := strconv.Atoi(os.Getenv("LEAFSIM_LEAVES"))
	if err != nil {
		fmt.Fprintf(out, "error LEAFSIM_LEAVES: %v\n", err)
		return 1
	}
	sim, err := leafsim.New(leafsim.Options{
		OriginURL: os.Getenv("LEAFSIM_URL"), Token: sharedToken, Leaves: n, Logger: quiet(),
		MinBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second,
	})
	if err != nil {
		fmt.Fprintf(out, "error %v\n", err)
		return 1
	}
	if path := os.Getenv("LEAFSIM_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sim.Run(ctx) }()
	defer func() { cancel(); <-done }()
	wait := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 2*time.Minute) }
	var mark leafsim.Mark
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(sc.Text(), " ")
		wctx, wcancel := wait()
		answer := "ok"
		switch cmd {
		case "ready":
			if err := sim.WaitCurrent(wctx); err != nil {
				answer = "error " + err.Error()
			}
		case "applied":
			rev, _ := strconv.ParseInt(arg, 10, 64)
			at, err := sim.WaitApplied(wctx, rev)
			answer = fmt.Sprintf("at %d", at.UnixNano())
			if err != nil {
				answer = "error " + err.Error()
			}
		case "mark":
			mark = sim.Mark()
		case "reconnected":
			err := sim.WaitReconnected(wctx, mark)
			answer = fmt.Sprintf("at %d", time.Now().UnixNano())
			if err != nil {
				answer = "error " + err.Error()
			}
		case "stats":
			answer = fmt.Sprintf("ok %s", sim.Stats())
		case "cpu":
			answer = fmt.Sprintf("at %d", cpuTime())
		default:
			answer = "error unknown request " + cmd
		}
		wcancel()
		fmt.Fprintln(out, strings.ReplaceAll(answer, "\n", " "))
	}
	return 0
}

// child is a simulation running in a child process.
type child struct {
	tb    testing.TB
	in    io.WriteCloser
	lines chan string
}

func startChild(tb testing.TB, o *testOrigin, leaves int) *child {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "LEAFSIM_CHILD=1", "LEAFSIM_URL="+o.srv.URL, fmt.Sprintf("LEAFSIM_LEAVES=%d", leaves))
	return runChild(tb, cmd)
}

// runChild starts cmd as a child that answers requests on its stdin. It
// ends when the test does.
func runChild(tb testing.TB, cmd *exec.Cmd) *child {
	tb.Helper()
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	c := &child{tb: tb, in: in, lines: make(chan string)}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	tb.Cleanup(func() {
		in.Close()
		cmd.Wait()
	})
	return c
}

// ask sends a request and returns the answer, failing on an error answer.
func (c *child) ask(req string) string {
	c.tb.Helper()
	fmt.Fprintln(c.in, req)
	select {
	case line, ok := <-c.lines:
		if !ok {
			c.tb.Fatalf("%s: the simulator exited", req)
		}
		if msg, bad := strings.CutPrefix(line, "error "); bad {
			c.tb.Fatalf("%s: %s", req, msg)
		}
		return line
	case <-time.After(3 * time.Minute):
		c.tb.Fatalf("%s: no answer within 3 minutes", req)
	}
	return ""
}

// at asks for a time.
func (c *child) at(req string) time.Time {
	c.tb.Helper()
	ns, err := strconv.ParseInt(strings.TrimPrefix(c.ask(req), "at "), 10, 64)
	if err != nil {
		c.tb.Fatalf("%s: %v", req, err)
	}
	return time.Unix(0, ns)
}

// memory returns the heap in use and the goroutine stacks of this process
// after a full collection, and its resident set.
func memoryNow() (heapStack, rss uint64) {
	goruntime.GC()
	debug.FreeOSMemory()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	if os.Getenv("LEAFSIM_MEMSTATS") == "1" {
		fmt.Fprintf(os.Stderr, "heap in use %d, stacks %d, goroutines %d\n", ms.HeapInuse, ms.StackInuse, goruntime.NumGoroutine())
		if f, err := os.Create(os.Getenv("LEAFSIM_HEAPPROFILE")); err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	return ms.HeapInuse + ms.StackInuse, residentSet()
}

// cpuTime returns the CPU time, user and system, this process used so far.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// residentSet reads this process's resident set size from /proc, 0 where
// there is none.
func residentSet() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// acked waits until the hub knows n connected leaves that acknowledged
// its head: the links are idle.
func acked(tb testing.TB, o *testOrigin, n int) {
	tb.Helper()
	head := o.head().Revision
	ctx := within(tb, time.Minute)
	for {
		k := 0
		for _, in := range o.hub().Leaves() {
			if in.Connected && in.Applied == head {
				k++
			}
		}
		if k == n {
			return
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("the origin shows %d of %d leaves at revision %d", k, n, head)
		case <-time.After(10 * time.Millisecond): // polling interval
		}
	}
}

// benchFanout connects n leaves in a child process to an origin with a
// template of a 2 KiB spec and, b.N times, updates the spec and measures
// the time from the write until every leaf applied it. It reports the
// percentiles and the origin's memory per idle leaf.
func benchFanout(b *testing.B, n int) {
	o := startOrigin(b, memory.New())
	o.put(template(0, 2048))
	baseHeap, baseRSS := memoryNow()
	c := startChild(b, o, n)
	start := time.Now()
	c.ask("ready")
	connect := time.Since(start)
	acked(b, o, n)
	idleHeap, idleRSS := memoryNow()

	b.ResetTimer()
	var lat []time.Duration
	if path := os.Getenv("LEAFSIM_ORIGIN_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	cpu0, childCPU0 := cpuTime(), c.at("cpu").UnixNano()
	for i := range b.N {
		t0 := time.Now()
		rev := o.updateSpec("tpl-00000", 2048, fmt.Sprintf("b%d", i))
		lat = append(lat, c.at(fmt.Sprintf("applied %d", rev)).Sub(t0))
	}
	cpu, childCPU := time.Duration(cpuTime()-cpu0)/time.Duration(b.N), time.Duration(c.at("cpu").UnixNano()-childCPU0)/time.Duration(b.N)
	b.StopTimer()
	s := leafsim.Summarize(lat)
	b.ReportMetric(float64(s.P50)/1e6, "p50-ms")
	b.ReportMetric(float64(s.P99)/1e6, "p99-ms")
	b.ReportMetric(float64(s.Max)/1e6, "max-ms")
	b.ReportMetric(float64(int64(idleHeap)-int64(baseHeap))/float64(n), "heap+stack-B/leaf")
	b.ReportMetric(float64(int64(idleRSS)-int64(baseRSS))/float64(n), "rss-B/leaf")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d leaves connected and current in %s; fan-out %s; CPU per update: origin %s, simulator %s; origin heap+stack %d → %d bytes, RSS %d → %d bytes; %s",
		n, connect.Round(time.Millisecond), s, cpu.Round(10*time.Microsecond), childCPU.Round(10*time.Microsecond), baseHeap, idleHeap, baseRSS, idleRSS, strings.TrimPrefix(c.ask("stats"), "ok "))
}

// BenchmarkFanout1000 measures the fan-out of template updates to 1,000
// leaves. Run it with -benchtime=20x for the 20 updates of the target.
func BenchmarkFanout1000(b *testing.B) { benchFanout(b, 1000) }

// BenchmarkFanout10000 is BenchmarkFanout1000 with 10,000 leaves.
func BenchmarkFanout10000(b *testing.B) { benchFanout(b, 10000) }

// BenchmarkRestart10000 restarts the hub under 10,000 connected leaves and
// measures the time until every leaf is connected and current again.
func BenchmarkRestart10000(b *testing.B) {
	const n = 10000
	o := startOrigin(b, memory.New())
	o.put(template(0, 2048))
	c := startChild(b, o, n)
	c.ask("ready")
	b.ResetTimer()
	var ds []time.Duration
	for i := range b.N {
		c.ask("mark")
		t0 := time.Now()
		o.restart()
		o.updateSpec("tpl-00000", 2048, fmt.Sprintf("r%d", i))
		ds = append(ds, c.at("reconnected").Sub(t0))
	}
	b.StopTimer()
	s := leafsim.Summarize(ds)
	b.ReportMetric(float64(s.Max)/1e6, "max-ms")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d leaves current again after a restart: %s; %s", n, s, strings.TrimPrefix(c.ask("stats"), "ok "))
}

// seed fills st with users and templates of specSize bytes.
func seed(b *testing.B, o *testOrigin, users, templates, specSize int) {
	b.Helper()
	for i := range users {
		o.put(&shared.User{
			Meta: shared.Meta{ID: fmt.Sprintf("user-%05d", i)}, Username: fmt.Sprintf("user%05d", i), Email: fmt.Sprintf("user%05d@example.com", i),
			PasswordHash: "$2a$10$abcdefghijklmnopqrstuuN2OFtxgMRAYMg6hOiBJ3GgzhT2gn5qi", Roles: []string{}, Groups: []string{}, Active: true,
			Timezone: "UTC", PreferredShell: "bash",
		})
	}
	for i := range templates {
		o.put(template(i, specSize))
	}
}

// BenchmarkCatchUp10000 brings back a leaf that missed 10,000 changes, one
// to each of 10,000 templates with a 2 KiB spec, and measures the time until
// it is current and the bytes it received.
func BenchmarkCatchUp10000(b *testing.B) {
	const changes = 10000
	o := startOrigin(b, memory.New())
	seed(b, o, 0, changes, 2048)
	sim := runSim(b, o, leafsim.Options{Leaves: 2})
	if err := sim.WaitCurrent(within(b, time.Minute)); err != nil {
		b.Fatal(err)
	}
	snapshot := sim.Leaf(1).SnapshotBytes
	if path := os.Getenv("LEAFSIM_ORIGIN_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	b.ResetTimer()
	var ds []time.Duration
	var sent int64
	for i := range b.N {
		b.StopTimer()
		sim.Pause(1)
		before := sim.Leaf(1)
		for u := range changes {
			o.updateSpec(fmt.Sprintf("tpl-%05d", u), 2048, fmt.Sprintf("c%d-%d", i, u))
		}
		rev := o.head().Revision
		b.StartTimer()
		t0 := time.Now()
		sim.Resume(1)
		if _, err := sim.WaitApplied(within(b, time.Minute), rev); err != nil {
			b.Fatal(err)
		}
		at, _ := sim.AppliedAt(1, rev)
		ds = append(ds, at.Sub(t0))
		after := sim.Leaf(1)
		if after.Snapshots != before.Snapshots {
			b.Fatalf("the leaf took a snapshot to catch up")
		}
		sent = after.ChangeBytes - before.ChangeBytes
	}
	b.StopTimer()
	s := leafsim.Summarize(ds)
	b.ReportMetric(float64(s.Max)/1e6, "max-ms")
	b.ReportMetric(float64(sent)/changes, "B/change")
	b.ReportMetric(0, "ns/op")
	b.Logf("a leaf that missed %d changes was current in %s; it received %d bytes of changes (its snapshot was %d bytes)", changes, s, sent, snapshot)
}

// BenchmarkJoin: one new leaf joins an origin with 10,000 users and 1,000
// templates of 2 KiB.
func BenchmarkJoin(b *testing.B) { benchJoin(b, 1) }

// BenchmarkJoin100: 100 new leaves join that origin at once, as after an
// origin's store was replaced (a new epoch) and every leaf starts over.
func BenchmarkJoin100(b *testing.B) { benchJoin(b, 100) }

func benchJoin(b *testing.B, leaves int) {
	o := startOrigin(b, memory.New())
	seed(b, o, 10000, 1000, 2048)
	rev := o.head().Revision
	b.ResetTimer()
	var ds []time.Duration
	var bytes int64
	for i := range b.N {
		t0 := time.Now()
		sim := runSim(b, o, leafsim.Options{Leaves: leaves, Prefix: fmt.Sprintf("join%d", i)})
		at, err := sim.WaitApplied(within(b, time.Minute), rev)
		if err != nil {
			b.Fatal(err)
		}
		ds = append(ds, at.Sub(t0))
		bytes = sim.Leaf(0).SnapshotBytes
	}
	b.StopTimer()
	s := leafsim.Summarize(ds)
	b.ReportMetric(float64(s.Max)/1e6, "max-ms")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d new leaves were current in %s; a snapshot was %d bytes", leaves, s, bytes)
}
