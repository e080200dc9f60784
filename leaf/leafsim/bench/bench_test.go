package bench_test

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

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/leaf/leafsim/bench"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

// The tests run the engine against a real origin: the hub of origin behind
// the REST API of web, over the memory store, on a loopback port. Only the
// tests import web; the engine itself stays below it (layout_test.go).

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
	srv, err := o.server(hub, quiet)
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

// server returns the origin's web server with hub, wired as cmd/knot
// wires one: the origin's services and package leaf's space service over
// one observed store.
func (o *benchOrigin) server(hub *origin.Hub, log *slog.Logger) (*web.Server, error) {
	const location = "origin"
	obs := origin.Observe(o.store, hub)
	logins := origin.NewLogins(origin.LoginsOptions{})
	audit := origin.NewAuditService(obs, location, origin.ServiceOptions{})
	local, err := leaf.NewLocal(leaf.LocalOptions{SpaceOptions: leaf.SpaceOptions{Store: obs, Location: location, Logger: log, Audit: audit}, Hub: hub})
	if err != nil {
		return nil, err
	}
	auth := origin.NewAuthService(obs, origin.AuthOptions{Logins: logins, Audit: origin.RecordAudit(audit, log), Logger: log})
	svcs := origin.NewServices(obs, origin.ServicesOptions{Location: location, Hub: hub, Spaces: local.Spaces, Audit: audit, Auth: auth,
		Validate: runtime.ValidateTemplate})
	return web.New(web.Options{Services: svcs, Local: local, Store: obs, Location: location, Hub: hub, Logger: log})
}

// call sends in, if not nil, as JSON with token, if not empty, and decodes
// the answer into out, if not nil; it fails the test unless the call
// succeeds.
func (o *benchOrigin) call(t *testing.T, method, path, token string, in, out any) {
	t.Helper()
	var body bytes.Buffer
	if in != nil {
		json.NewEncoder(&body).Encode(in)
	}
	req, err := http.NewRequest(method, o.url+path, &body)
	if err == nil && token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	var resp *http.Response
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		resp, err = http.DefaultClient.Do(req)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode >= 300:
		t.Fatalf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, data)
	case out != nil && json.Unmarshal(data, out) != nil:
		t.Fatalf("%s %s: the answer is not the JSON expected: %s", method, path, data)
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

// options are the defaults of knot bench replication's flags, against o,
// with a timeout of 2 minutes.
func (o *benchOrigin) options() bench.Options {
	return bench.Options{
		Origin: o.url, SharedToken: benchSharedToken, AdminToken: o.admin,
		Leaves: 1000, Updates: 20, SpecSize: 2048, Scenario: "fanout", Changes: 10000, Prefix: "bench",
		Timeout: 2 * time.Minute, GCWait: 150 * time.Second, Version: "test",
	}
}

// run runs the bench with o's options as set changes them, and returns its
// output and error.
func (o *benchOrigin) run(t *testing.T, set func(*bench.Options)) (string, string, error) {
	t.Helper()
	opts := o.options()
	set(&opts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	err := bench.Run(ctx, opts, &out, &errb)
	return out.String(), errb.String(), err
}

// bench runs the bench with o's options as set changes them, and returns
// its output; it fails the test when the run fails.
func (o *benchOrigin) bench(t *testing.T, set func(*bench.Options)) string {
	t.Helper()
	out, errs, err := o.run(t, set)
	if err != nil {
		t.Fatalf("bench: %v\nstdout:\n%s\nstderr:\n%s", err, out, errs)
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
	out := o.bench(t, func(b *bench.Options) { b.Leaves, b.Updates, b.SpecSize, b.GCWait = 40, 6, 2048, 30*time.Second })
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
	out := o.bench(t, func(b *bench.Options) { b.Scenario, b.Leaves, b.Changes, b.SpecSize = "catchup", 3, 40, 1024 })
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
	out = o.bench(t, func(b *bench.Options) { b.Scenario, b.Leaves, b.Changes, b.SpecSize = "catchup", 2, 40, 1024 })
	mustMatch(t, out, `seeding 0 templates with 1024-byte specs \(40 there already\)`)
	mustMatch(t, out, `back after missing 40 changes, was current at revision \d+ [0-9.]+ ms after it was let back \(it resumed\)`)
}

func TestBenchJoinSeedsOnceAndMeasuresTheSnapshot(t *testing.T) {
	o := startBenchOrigin(t)
	out := o.bench(t, func(b *bench.Options) { b.Scenario, b.Leaves, b.SeedUsers, b.SeedTemplates = "join", 3, 2, 5 })
	mustMatch(t, out, `seeding 2 users \(0 there already\)`)
	mustMatch(t, out, `seeding 5 templates with 2048-byte specs \(0 there already\)`)
	// The admin, its token, 2 users and 5 templates at least.
	m := mustMatch(t, out, `3 new leaves were current [0-9.]+ ms after they started; a snapshot was .+ in (\d+) records`)
	if n, _ := strconv.Atoi(m[1]); n < 9 {
		t.Errorf("the snapshot held %d records", n)
	}
	out = o.bench(t, func(b *bench.Options) { b.Scenario, b.Leaves, b.SeedUsers, b.SeedTemplates = "join", 1, 2, 5 })
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
	out := o.bench(t, func(b *bench.Options) {
		b.Scenario, b.Leaves, b.RestartCommand = "restart", 30, fmt.Sprintf("kill -USR1 %d", os.Getpid())
	})
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
	out, errs, err := o.run(t, func(b *bench.Options) { b.SharedToken, b.Leaves, b.Timeout = "not-the-token", 5, time.Minute })
	if err == nil || !strings.Contains(err.Error(), "the origin refuses the leaves") || !strings.Contains(err.Error(), "not a valid token") {
		t.Fatalf("error %v\nstdout:\n%s\nstderr:\n%s", err, out, errs)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("it took %s to give up", d)
	}
}
