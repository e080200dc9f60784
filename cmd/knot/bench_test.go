package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

const benchSharedToken = "shared-token-of-the-bench-origin"

// benchOrigin is an origin (a web server with a hub over the memory store)
// on a loopback port, with an admin's API token. It can be restarted on the
// same port with the same store.
type benchOrigin struct {
	t          *testing.T
	url, admin string
	addr       string
	store      *memory.Store
	stop       func()
}

func startBenchOrigin(t *testing.T) *benchOrigin {
	t.Helper()
	o := &benchOrigin{t: t, store: memory.New(), addr: "127.0.0.1:0"}
	o.start()
	t.Cleanup(func() { o.stop() })
	o.call(t, "POST", "/api/users", "", map[string]any{"username": "admin", "email": "admin@example.com", "password": "admin-password"}, nil)
	var login, tok struct{ Token string }
	o.call(t, "POST", "/api/auth", "", map[string]any{"email": "admin@example.com", "password": "admin-password"}, &login)
	o.call(t, "POST", "/api/tokens", login.Token, map[string]any{"name": "bench"}, &tok)
	o.admin = tok.Token
	return o
}

func (o *benchOrigin) start() {
	t := o.t
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub, err := origin.New(origin.Options{Store: o.store, Logger: quiet, SharedTokenHash: crypt.HashToken(benchSharedToken)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Options{Store: o.store, Logger: quiet, Location: "origin", Hub: hub, ValidateTemplate: runtime.ValidateTemplate})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		t.Fatal(err)
	}
	o.addr = ln.Addr().String()
	o.url = "http://" + o.addr
	ctx, cancel := context.WithCancel(context.Background())
	hubDone, srvDone := make(chan error, 1), make(chan error, 1)
	go func() { hubDone <- hub.Run(ctx) }()
	go func() { srvDone <- srv.Run(ctx, ln) }()
	o.stop = func() {
		cancel()
		if err := <-srvDone; err != nil {
			t.Errorf("web server: %v", err)
		}
		<-hubDone
	}
}

// call sends a JSON request and fails the test unless it succeeds.
func (o *benchOrigin) call(t *testing.T, method, path, token string, in, out any) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, o.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
}

// templateNames lists the names of the origin's templates.
func (o *benchOrigin) templateNames(t *testing.T) []string {
	t.Helper()
	var list struct {
		Templates []struct{ Name string }
	}
	o.call(t, "GET", "/api/templates", o.admin, nil, &list)
	var names []string
	for _, tp := range list.Templates {
		names = append(names, tp.Name)
	}
	return names
}

// runKnot runs knot in this process with args and returns the exit status,
// stdout and stderr.
func runKnot(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, append([]string{"knot"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func (o *benchOrigin) bench(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := runKnot(t, append([]string{"bench", "replication", "--origin", o.url, "--shared-token", benchSharedToken, "--admin-token", o.admin, "--timeout", "2m"}, args...)...)
	if code != 0 {
		t.Fatalf("knot bench exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	return out
}

// mustMatch returns the submatches of re in out, failing when it does not
// match.
func mustMatch(t *testing.T, out, re string) []string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("output does not match %q:\n%s", re, out)
	}
	return m
}

func TestBenchFanoutReportsEveryUpdateAndTheMemory(t *testing.T) {
	o := startBenchOrigin(t)
	// The origin runs in this process: a GC cycle every 200 ms stands in for
	// the one Go forces every 2 minutes, which the bench waits for.
	gcs := time.NewTicker(200 * time.Millisecond)
	stopGC := make(chan struct{})
	go func() {
		for {
			select {
			case <-gcs.C:
				goruntime.GC()
			case <-stopGC:
				return
			}
		}
	}()
	defer func() { gcs.Stop(); close(stopGC) }()
	out := o.bench(t, "--leaves", "40", "--updates", "6", "--spec-size", "2048", "--gc-wait", "30s")
	mustMatch(t, out, `40 leaves connected and current at revision \d+`)
	var revs []int
	for i := 1; i <= 6; i++ {
		m := mustMatch(t, out, fmt.Sprintf(`update %d: revision (\d+) applied by all 40 leaves [0-9.]+ ms after the write call`, i))
		rev, _ := strconv.Atoi(m[1])
		revs = append(revs, rev)
	}
	for i := 1; i < len(revs); i++ {
		if revs[i] <= revs[i-1] {
			t.Errorf("update %d has revision %d, not after %d", i+1, revs[i], revs[i-1])
		}
	}
	m := mustMatch(t, out, `fan-out, write call until every leaf applied it: p50 ([0-9.]+) ms, p99 ([0-9.]+) ms, max ([0-9.]+) ms \(min [0-9.]+ ms, mean [0-9.]+ ms, 6 updates\)`)
	p50, _ := strconv.ParseFloat(m[1], 64)
	p99, _ := strconv.ParseFloat(m[2], 64)
	maxv, _ := strconv.ParseFloat(m[3], 64)
	if !(p50 > 0 && p50 <= p99 && p99 == maxv) {
		t.Errorf("p50 %v, p99 %v, max %v: with 6 updates p99 is the max and p50 below it", p50, p99, maxv)
	}
	mustMatch(t, out, `the write calls themselves \(PUT /api/templates/\{id\} until its answer\): p50 [0-9.]+ ms`)
	mustMatch(t, out, `origin memory by process_resident_memory_bytes: .+ before the leaves, .+ with 40 idle leaves: .+ per leaf`)
	mustMatch(t, out, `origin memory by go_memstats_heap_inuse_bytes \+ go_memstats_stack_inuse_bytes: .+ before the leaves, .+ with 40 idle leaves: .+ per leaf`)
	mustMatch(t, out, `origin memory by go_gc_heap_live_bytes \+ go_memstats_stack_inuse_bytes: .+ before the leaves, .+ with 40 idle leaves: .+ per leaf`)
	mustMatch(t, out, `deleted the 1 templates made for the run`)
	if names := o.templateNames(t); len(names) != 0 {
		t.Errorf("the run left templates behind: %v", names)
	}
}

func TestBenchCatchUpReceivesOnlyTheMissedChanges(t *testing.T) {
	o := startBenchOrigin(t)
	out := o.bench(t, "--scenario", "catchup", "--leaves", "3", "--changes", "40", "--spec-size", "1024")
	mustMatch(t, out, `leaf bench-000002, back after missing 40 changes, was current at revision \d+ [0-9.]+ ms after it was let back \(it resumed\)`)
	m := mustMatch(t, out, `it received ([0-9.]+) (B|KiB) in \d+ change frame\(s\) \(([0-9.]+) (B|KiB) per change\); its first snapshot, the whole data set then, was ([0-9.]+) (B|KiB) in (\d+) records`)
	if n, _ := strconv.Atoi(m[7]); n < 40 {
		t.Errorf("the first snapshot held %d records, fewer than the 40 templates", n)
	}
	perChange, _ := strconv.ParseFloat(m[3], 64)
	if m[4] == "KiB" {
		perChange *= 1024
	}
	if perChange < 1024 || perChange > 2048 {
		t.Errorf("%v bytes per change of a template with a 1024-byte spec", perChange)
	}
	// The templates stay for the next run, which changes them again.
	if names := o.templateNames(t); len(names) != 40 {
		t.Errorf("%d templates after the run, want the 40 kept", len(names))
	}
	out = o.bench(t, "--scenario", "catchup", "--leaves", "2", "--changes", "40", "--spec-size", "1024")
	mustMatch(t, out, `seeding 0 templates with 1024-byte specs \(40 there already\)`)
	mustMatch(t, out, `back after missing 40 changes, was current at revision \d+ [0-9.]+ ms after it was let back \(it resumed\)`)
}

func TestBenchJoinSeedsOnceAndMeasuresTheSnapshot(t *testing.T) {
	o := startBenchOrigin(t)
	out := o.bench(t, "--scenario", "join", "--leaves", "3", "--seed-users", "2", "--seed-templates", "5")
	mustMatch(t, out, `seeding 2 users \(0 there already\)`)
	mustMatch(t, out, `seeding 5 templates with 2048-byte specs \(0 there already\)`)
	// The admin, its token, 2 users and 5 templates at least.
	m := mustMatch(t, out, `3 new leaves were current [0-9.]+ ms after they started; a snapshot was .+ in (\d+) records`)
	if n, _ := strconv.Atoi(m[1]); n < 9 {
		t.Errorf("the snapshot held %d records", n)
	}
	out = o.bench(t, "--scenario", "join", "--leaves", "1", "--seed-users", "2", "--seed-templates", "5")
	mustMatch(t, out, `seeding 0 users \(2 there already\)`)
	mustMatch(t, out, `seeding 0 templates with 2048-byte specs \(5 there already\)`)
	if names := o.templateNames(t); len(names) != 5 {
		t.Errorf("seeded templates %v, want 5 kept", names)
	}
}

func TestBenchRestartWaitsForTheLeavesToComeBack(t *testing.T) {
	o := startBenchOrigin(t)
	// The restart command signals this process, which restarts the origin.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	defer signal.Stop(sig)
	restarted := make(chan struct{})
	go func() {
		select {
		case <-sig:
			o.stop()
			o.start()
			close(restarted)
		case <-time.After(2 * time.Minute):
		}
	}()
	out := o.bench(t, "--scenario", "restart", "--leaves", "30", "--restart-command", fmt.Sprintf("kill -USR1 %d", os.Getpid()))
	select {
	case <-restarted:
	default:
		t.Fatalf("the origin was not restarted:\n%s", out)
	}
	mustMatch(t, out, `restarting the origin: kill -USR1`)
	mustMatch(t, out, `all 30 leaves connected and current again [0-9.]+ m?s after the first one lost the origin, [0-9.]+ m?s after the origin welcomed the first one back \(0 new snapshots\)`)
}

func TestBenchStopsAtOnceWhenTheOriginRefusesTheLeaves(t *testing.T) {
	o := startBenchOrigin(t)
	start := time.Now()
	code, out, errs := runKnot(t, "bench", "replication", "--origin", o.url, "--shared-token", "not-the-token", "--admin-token", o.admin, "--leaves", "5", "--timeout", "1m")
	if code != 1 || !strings.Contains(errs, "the origin refuses the leaves") || !strings.Contains(errs, "not a valid token") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("it took %s to give up", d)
	}
}

func TestBenchFlagErrors(t *testing.T) {
	base := []string{"bench", "replication", "--origin", "http://127.0.0.1:1", "--shared-token", "s", "--admin-token", "a"}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"NoSharedToken", []string{"bench", "replication", "--origin", "http://127.0.0.1:1", "--admin-token", "a"}, "--shared-token"},
		{"NoAdminToken", []string{"bench", "replication", "--origin", "http://127.0.0.1:1", "--shared-token", "s"}, "--admin-token"},
		{"OriginNotHTTP", []string{"bench", "replication", "--origin", "ftp://x", "--shared-token", "s", "--admin-token", "a"}, `--origin "ftp://x" must be an http://`},
		{"NoLeaves", append(base, "--leaves", "0"), "--leaves must be from 1 to 100000, not 0"},
		{"TooManyUpdates", append(base, "--updates", "10001"), "--updates must be from 1 to 10000"},
		{"SpecTooSmall", append(base, "--spec-size", "10"), "--spec-size must be from 64"},
		{"UnknownScenario", append(base, "--scenario", "storm"), `--scenario "storm" is not one of`},
		{"CatchUpWithOneLeaf", append(base, "--scenario", "catchup", "--leaves", "1"), "needs at least 2 leaves"},
		{"BadPrefix", append(base, "--prefix", "a b"), "--prefix"},
		{"NoTimeout", append(base, "--timeout", "0s"), "--timeout must be positive"},
		{"NegativeGCWait", append(base, "--gc-wait", "-1s"), "--gc-wait must not be negative, not -1s"},
		{"ExtraArgument", append(base, "now"), `unexpected argument "now"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runKnot(t, tt.args...)
			if code != exitUsage || !strings.Contains(errs, tt.want) || !strings.Contains(errs, "knot bench replication") {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errs, exitUsage, tt.want)
			}
		})
	}
}

func TestPickMemoryFindsEverySeriesShown(t *testing.T) {
	const text = `# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2e+08
go_memstats_heap_inuse_bytes 5000
go_memstats_stack_inuse_bytes 700
go_memstats_heap_alloc_bytes 4000
go_memstats_sys_bytes 9000
knot_http_requests_total{route="/x",method="GET",status="200"} 3
not a sample
`
	all, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	without := func(names ...string) map[string]float64 {
		m := map[string]float64{}
		for k, v := range all {
			m[k] = v
		}
		for _, n := range names {
			delete(m, n)
		}
		return m
	}
	for _, tt := range []struct {
		name   string
		values map[string]float64
		want   []string // series and bytes
	}{
		{"EveryChoiceResidentSetFirst", all, []string{"process_resident_memory_bytes=1.2e+08", "go_memstats_heap_inuse_bytes+go_memstats_stack_inuse_bytes=5700", "go_memstats_heap_alloc_bytes+go_memstats_stack_inuse_bytes=4700", "go_memstats_sys_bytes=9000"}},
		{"HeapWithoutStacks", without("process_resident_memory_bytes", "go_memstats_stack_inuse_bytes", "go_memstats_sys_bytes"), []string{"go_memstats_heap_inuse_bytes=5000", "go_memstats_heap_alloc_bytes=4000"}},
		{"SysAlone", map[string]float64{"go_memstats_sys_bytes": 9000}, []string{"go_memstats_sys_bytes=9000"}},
		{"NoneIsNothing", map[string]float64{"knot_store_errors_total": 0}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, v := range pickMemory(tt.values) {
				got = append(got, strings.Join(v.series, "+")+"="+strconv.FormatFloat(v.bytes, 'g', -1, 64))
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("pickMemory = %v, want %v", got, tt.want)
			}
		})
	}
	if _, ok := all["knot_http_requests_total"]; ok {
		t.Error("a labelled sample was read as a plain one")
	}
}
