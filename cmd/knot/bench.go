package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/knot-dev/knot/leaf/leafsim"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/wire"
)

const benchHelp = `knot bench replication drives a running origin with simulated leaves:
real websocket clients of the leaf protocol, run in this process, each with
its own node id and location (<prefix>-000000, ...), all presenting the
origin's shared token. It makes its changes through the REST API with an
admin's API token (Manage Templates, and Manage Users to seed users), and
measures on the leaves. Run it on a test origin: it creates templates and
users named after --prefix.

Scenarios:
  fanout   connect the leaves, then update a template's spec --updates times,
           one after another, and report for each update the time from the
           write call until every leaf applied it (p50, p99, max), and the
           origin's memory before the leaves and with them idle (the heap
           found live only after a GC cycle of the origin: see --gc-wait).
  restart  connect the leaves, then wait for the origin to restart (run
           --restart-command, or restart it by hand) and report the time
           until every leaf is connected and current again.
  catchup  make sure --changes templates exist, connect the leaves, take one
           leaf away, update every template once, bring the leaf back, and
           report the time until it is current and the bytes it received,
           beside the bytes of its first snapshot (the whole data set).
  join     optionally seed --seed-users users and --seed-templates templates,
           then connect the leaves as new leaves and report the time until
           all are current and the size of the snapshot.

Templates made for catchup and join (<prefix>-catchup-N, <prefix>-seed-N)
and seeded users (<prefix>-user-N) are kept, so that the next run finds
them; the template of fanout is deleted unless --keep is given.

The origin's memory is read from its /metrics, which names the series used.
Every wait is bounded by --timeout; the command stops by itself.`

// benchOptions are the flags of knot bench replication.
type benchOptions struct {
	origin         string
	sharedToken    string
	adminToken     string
	leaves         int
	updates        int
	specSize       int
	scenario       string
	changes        int
	seedUsers      int
	seedTemplates  int
	prefix         string
	timeout        time.Duration
	gcWait         time.Duration
	restartCommand string
	keep           bool
}

// Bounds of the flags.
const (
	maxBenchUpdates  = 10000
	maxBenchChanges  = 100000
	maxBenchSpecSize = 512 << 10
	minBenchSpecSize = 64
	benchWorkers     = 8 // REST calls in flight while seeding and changing
)

func benchCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:      "bench",
		Usage:     "Measure a running knot server",
		UsageText: "knot bench COMMAND [options]",
		Action:    unknownCommand,
		Subcommands: []*cli.Command{
			{
				Name:        "replication",
				Usage:       "Drive an origin with simulated leaves and measure how fast changes reach them",
				UsageText:   "knot bench replication --origin URL --shared-token TOKEN --admin-token TOKEN [options]",
				Description: benchHelp,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "origin", Usage: "the origin's URL, http(s)://host:port", Required: true},
					&cli.StringFlag{Name: "shared-token", Usage: "the origin's shared token, presented by every simulated leaf", EnvVars: []string{"KNOT_BENCH_SHARED_TOKEN"}},
					&cli.StringFlag{Name: "admin-token", Usage: "an API token of an admin of the origin, for the REST calls", EnvVars: []string{"KNOT_BENCH_ADMIN_TOKEN"}},
					&cli.IntFlag{Name: "leaves", Value: 1000, Usage: fmt.Sprintf("simulated leaves, 1 to %d", leafsim.MaxLeaves)},
					&cli.IntFlag{Name: "updates", Value: 20, Usage: fmt.Sprintf("fanout: template updates, 1 to %d", maxBenchUpdates)},
					&cli.IntFlag{Name: "spec-size", Value: 2048, Usage: fmt.Sprintf("bytes of the container spec of each template, %d to %d", minBenchSpecSize, maxBenchSpecSize)},
					&cli.StringFlag{Name: "scenario", Value: "fanout", Usage: "fanout, restart, catchup or join"},
					&cli.IntFlag{Name: "changes", Value: 10000, Usage: fmt.Sprintf("catchup: changes the absent leaf misses, 1 to %d", maxBenchChanges)},
					&cli.IntFlag{Name: "seed-users", Usage: fmt.Sprintf("join: make sure the origin holds this many bench users, 0 to %d (each hashes a password: slow)", maxBenchChanges)},
					&cli.IntFlag{Name: "seed-templates", Usage: fmt.Sprintf("join: make sure the origin holds this many bench templates, 0 to %d", maxBenchChanges)},
					&cli.StringFlag{Name: "prefix", Value: "bench", Usage: "starts the names of the simulated leaves and of the records made"},
					&cli.DurationFlag{Name: "timeout", Value: 10 * time.Minute, Usage: "the longest the whole run may take"},
					&cli.DurationFlag{Name: "gc-wait", Value: 150 * time.Second, Usage: "fanout: how long to wait, with the leaves idle, for a GC cycle of the origin, which tells its live heap (Go forces one every 2 minutes); 0 skips it; --timeout bounds it too"},
					&cli.StringFlag{Name: "restart-command", Usage: "restart: a shell command that restarts the origin; without it, restart the origin by hand when asked"},
					&cli.BoolFlag{Name: "keep", Usage: "keep the templates made for the run"},
				},
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					opts, err := benchFlags(c)
					if err != nil {
						return err
					}
					return runBench(c.Context, opts, s.stdout, s.stderr)
				},
			},
		},
	}
}

// benchFlags reads and checks the flags.
func benchFlags(c *cli.Context) (benchOptions, error) {
	o := benchOptions{
		origin: strings.TrimRight(c.String("origin"), "/"), sharedToken: c.String("shared-token"), adminToken: c.String("admin-token"),
		leaves: c.Int("leaves"), updates: c.Int("updates"), specSize: c.Int("spec-size"), scenario: c.String("scenario"),
		changes: c.Int("changes"), seedUsers: c.Int("seed-users"), seedTemplates: c.Int("seed-templates"),
		prefix: c.String("prefix"), timeout: c.Duration("timeout"), gcWait: c.Duration("gc-wait"), restartCommand: c.String("restart-command"), keep: c.Bool("keep"),
	}
	u, err := url.Parse(o.origin)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return o, usagef(c, "--origin %q must be an http:// or https:// URL with a host", o.origin)
	case o.sharedToken == "":
		return o, usagef(c, "--shared-token (or $KNOT_BENCH_SHARED_TOKEN) is required: the simulated leaves present it")
	case o.adminToken == "":
		return o, usagef(c, "--admin-token (or $KNOT_BENCH_ADMIN_TOKEN) is required: the changes go through the REST API")
	case o.leaves < 1 || o.leaves > leafsim.MaxLeaves:
		return o, usagef(c, "--leaves must be from 1 to %d, not %d", leafsim.MaxLeaves, o.leaves)
	case o.updates < 1 || o.updates > maxBenchUpdates:
		return o, usagef(c, "--updates must be from 1 to %d, not %d", maxBenchUpdates, o.updates)
	case o.specSize < minBenchSpecSize || o.specSize > maxBenchSpecSize:
		return o, usagef(c, "--spec-size must be from %d to %d bytes, not %d", minBenchSpecSize, maxBenchSpecSize, o.specSize)
	case o.changes < 1 || o.changes > maxBenchChanges:
		return o, usagef(c, "--changes must be from 1 to %d, not %d", maxBenchChanges, o.changes)
	case o.seedUsers < 0 || o.seedUsers > maxBenchChanges || o.seedTemplates < 0 || o.seedTemplates > maxBenchChanges:
		return o, usagef(c, "--seed-users and --seed-templates must be from 0 to %d", maxBenchChanges)
	case !shared.ValidName(o.prefix) || len(o.prefix) > 24:
		return o, usagef(c, "--prefix %q must start with a letter and hold 2 to 24 letters, digits or single dashes", o.prefix)
	case o.timeout <= 0:
		return o, usagef(c, "--timeout must be positive")
	case o.gcWait < 0:
		return o, usagef(c, "--gc-wait must not be negative, not %s", o.gcWait)
	}
	switch o.scenario {
	case "fanout", "restart", "join":
	case "catchup":
		if o.leaves < 2 {
			return o, usagef(c, "--scenario catchup needs at least 2 leaves: one is taken away")
		}
	default:
		return o, usagef(c, "--scenario %q is not one of fanout, restart, catchup, join", o.scenario)
	}
	return o, nil
}

// bench is one run of knot bench replication.
type bench struct {
	opts   benchOptions
	out    io.Writer
	api    *apiClient
	nonce  string
	logger *slog.Logger

	sim     *leafsim.Sim
	stopSim func()

	mu      sync.Mutex
	created []string // guarded by mu: ids of the templates made
}

func runBench(ctx context.Context, opts benchOptions, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	b := &bench{
		opts: opts, out: stdout, api: newAPIClient(opts.origin, opts.adminToken),
		nonce:  strconv.FormatInt(time.Now().UnixNano(), 36),
		logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	b.api.http.Timeout = time.Minute
	defer b.cleanup()
	fmt.Fprintf(b.out, "knot bench replication: scenario %s, %d leaves, origin %s\n", opts.scenario, opts.leaves, opts.origin)
	var err error
	switch opts.scenario {
	case "fanout":
		err = b.fanout(ctx)
	case "restart":
		err = b.restart(ctx)
	case "catchup":
		err = b.catchup(ctx)
	case "join":
		err = b.join(ctx)
	}
	if err != nil && ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (--timeout %s)", err, opts.timeout)
	}
	return err
}

// startSim connects the leaves and waits until all are current.
func (b *bench) startSim(ctx context.Context, leaves int, prefix string) error {
	sim, err := leafsim.New(leafsim.Options{
		OriginURL: b.opts.origin, Token: b.opts.sharedToken, Leaves: leaves, Prefix: prefix,
		Version: "bench-" + version, Logger: b.logger,
	})
	if err != nil {
		return err
	}
	simCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		sim.Run(simCtx)
	}()
	b.sim = sim
	b.stopSim = func() {
		cancel()
		<-done
	}
	start := time.Now()
	for {
		wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		err := sim.WaitCurrent(wctx)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("connect the leaves: %w", err)
		}
		// A refused credential does not get better by waiting.
		if st := sim.Stats(); st.Connected == 0 && st.Errors >= int64(leaves) && strings.Contains(st.LastError, " 401 ") {
			return fmt.Errorf("the origin refuses the leaves: %s", st.LastError)
		}
	}
	st := sim.Leaf(0)
	fmt.Fprintf(b.out, "%d leaves connected and current at revision %d in %s\n", leaves, st.Applied, round(time.Since(start)))
	return nil
}

// cleanup stops the leaves and deletes the templates made.
func (b *bench) cleanup() {
	if b.stopSim != nil {
		b.stopSim()
	}
	b.mu.Lock()
	ids := b.created
	b.mu.Unlock()
	if b.opts.keep || len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	err := b.parallel(ctx, len(ids), func(ctx context.Context, i int) error {
		return b.api.do(ctx, "DELETE", "/api/templates/"+escape(ids[i]), nil, nil)
	})
	if err != nil {
		fmt.Fprintf(b.out, "could not delete every template made (%d): %v\n", len(ids), err)
		return
	}
	fmt.Fprintf(b.out, "deleted the %d templates made for the run\n", len(ids))
}

// parallel calls f for 0..n-1 with benchWorkers calls in flight, and
// returns the first error.
func (b *bench) parallel(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(benchWorkers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(ctx, i); err != nil {
					cancel(err)
				}
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// templateName names the i-th template of the run.
func (b *bench) templateName(i int) string {
	return fmt.Sprintf("%s-%s-%d", b.opts.prefix, b.nonce, i)
}

// createTemplate makes a container template with a spec of --spec-size
// bytes and returns its id.
func (b *bench) createTemplate(ctx context.Context, name string) (string, error) {
	var resp struct {
		ID string `json:"template_id"`
	}
	req := map[string]any{
		"name": name, "kind": "container", "description": "made by knot bench replication",
		"spec": leafsim.ContainerSpec(b.opts.specSize, name), "groups": []string{}, "locations": []string{},
	}
	if err := b.api.do(ctx, "POST", "/api/templates", req, &resp); err != nil {
		return "", fmt.Errorf("create template %s: %w", name, err)
	}
	if resp.ID == "" {
		return "", fmt.Errorf("create template %s: the origin answered no template_id", name)
	}
	b.mu.Lock()
	b.created = append(b.created, resp.ID)
	b.mu.Unlock()
	return resp.ID, nil
}

// updateSpec gives template id a new spec that names mark.
func (b *bench) updateSpec(ctx context.Context, id, mark string) error {
	req := map[string]any{"spec": leafsim.ContainerSpec(b.opts.specSize, mark)}
	if err := b.api.do(ctx, "PUT", "/api/templates/"+escape(id), req, nil); err != nil {
		return fmt.Errorf("update template %s: %w", id, err)
	}
	return nil
}

// marked matches the change of template id whose spec names mark.
func marked(id, mark string) func(wire.Change) bool {
	want := []byte("KNOT_BENCH_MARK=" + mark + `\n`)
	return func(c wire.Change) bool {
		return c.Kind == shared.KindTemplate && c.ID == id && bytes.Contains(c.Data, want)
	}
}

// revisionOf waits until the probe leaf received the change that names
// mark, and returns its revision.
func (b *bench) revisionOf(ctx context.Context, id, mark string) (int64, error) {
	c, err := b.sim.FindChange(ctx, marked(id, mark))
	if err != nil {
		return 0, err
	}
	return c.Revision, nil
}

func (b *bench) fanout(ctx context.Context) error {
	o := b.opts
	id, err := b.createTemplate(ctx, b.templateName(0))
	if err != nil {
		return err
	}
	before, merr := b.memory(ctx)
	if err := b.startSim(ctx, o.leaves, o.prefix); err != nil {
		return err
	}
	idle, merr2 := b.idleMemory(ctx)
	lat := make([]time.Duration, 0, o.updates)
	writes := make([]time.Duration, 0, o.updates)
	fmt.Fprintf(b.out, "updating the %d-byte spec of template %s %d times, one after another\n", o.specSize, b.templateName(0), o.updates)
	for i := range o.updates {
		mark := fmt.Sprintf("%s-%s-u%d", o.prefix, b.nonce, i+1)
		start := time.Now()
		if err := b.updateSpec(ctx, id, mark); err != nil {
			return err
		}
		writes = append(writes, time.Since(start))
		rev, err := b.revisionOf(ctx, id, mark)
		if err != nil {
			return err
		}
		at, err := b.sim.WaitApplied(ctx, rev)
		if err != nil {
			return err
		}
		lat = append(lat, at.Sub(start))
		fmt.Fprintf(b.out, "  update %d: revision %d applied by all %d leaves %s after the write call\n", i+1, rev, o.leaves, round(at.Sub(start)))
	}
	s := leafsim.Summarize(lat)
	w := leafsim.Summarize(writes)
	fmt.Fprintf(b.out, "fan-out, write call until every leaf applied it: p50 %s, p99 %s, max %s (min %s, mean %s, %d updates)\n",
		round(s.P50), round(s.P99), round(s.Max), round(s.Min), round(s.Mean), s.N)
	fmt.Fprintf(b.out, "the write calls themselves (PUT /api/templates/{id} until its answer): p50 %s, p99 %s, max %s\n", round(w.P50), round(w.P99), round(w.Max))
	b.reportMemory(before, merr, idle, merr2)
	return nil
}

func (b *bench) restart(ctx context.Context) error {
	o := b.opts
	if err := b.startSim(ctx, o.leaves, o.prefix); err != nil {
		return err
	}
	mark := b.sim.Mark()
	snapshots := b.sim.Stats().Snapshots
	if o.restartCommand != "" {
		fmt.Fprintf(b.out, "restarting the origin: %s\n", o.restartCommand)
		cmd := exec.CommandContext(ctx, "sh", "-c", o.restartCommand)
		cmd.Stdout, cmd.Stderr = b.out, b.out
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("--restart-command: %w", err)
		}
		defer cmd.Wait()
	} else {
		fmt.Fprintf(b.out, "restart the origin now; waiting up to %s\n", round(time.Until(deadline(ctx))))
	}
	// Wait for the leaves to lose the origin, then to be back.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var down, back time.Time
	for down.IsZero() || back.IsZero() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the origin to restart: %s: %w", b.sim.Stats(), ctx.Err())
		case <-tick.C:
		}
		st := b.sim.Stats()
		if down.IsZero() && st.Connected < o.leaves {
			down = time.Now()
		}
		if !down.IsZero() && back.IsZero() && st.Sessions > sum(mark) {
			back = time.Now()
		}
	}
	if err := b.sim.WaitReconnected(ctx, mark); err != nil {
		return err
	}
	all := time.Now()
	st := b.sim.Stats()
	fmt.Fprintf(b.out, "all %d leaves connected and current again %s after the first one lost the origin, %s after the origin welcomed the first one back (%d new snapshots)\n",
		o.leaves, round(all.Sub(down)), round(all.Sub(back)), st.Snapshots-snapshots)
	return nil
}

func sum(m leafsim.Mark) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func (b *bench) catchup(ctx context.Context) error {
	o := b.opts
	ids, err := b.seedTemplates(ctx, "catchup", o.changes)
	if err != nil {
		return err
	}
	if err := b.startSim(ctx, o.leaves, o.prefix); err != nil {
		return err
	}
	away := o.leaves - 1
	b.sim.Pause(away)
	before := b.sim.Leaf(away)
	fmt.Fprintf(b.out, "leaf %s is away; updating each of the %d templates once\n", b.sim.Name(away), o.changes)
	err = b.parallel(ctx, o.changes-1, func(ctx context.Context, i int) error {
		return b.updateSpec(ctx, ids[i], fmt.Sprintf("%s-%s-c%d", o.prefix, b.nonce, i))
	})
	if err != nil {
		return err
	}
	// The last change, made after all the others, tells the revision to
	// reach.
	last := ids[o.changes-1]
	mark := fmt.Sprintf("%s-%s-c%d", o.prefix, b.nonce, o.changes-1)
	if err := b.updateSpec(ctx, last, mark); err != nil {
		return err
	}
	rev, err := b.revisionOf(ctx, last, mark)
	if err != nil {
		return err
	}
	if _, err := b.sim.WaitApplied(ctx, rev); err != nil {
		return err
	}
	start := time.Now()
	b.sim.Resume(away)
	if _, err := b.sim.WaitApplied(ctx, rev); err != nil {
		return err
	}
	at, ok := b.sim.AppliedAt(away, rev)
	if !ok {
		return fmt.Errorf("leaf %s does not remember when it applied revision %d", b.sim.Name(away), rev)
	}
	after := b.sim.Leaf(away)
	got, frames := after.ChangeBytes-before.ChangeBytes, after.ChangeFrames-before.ChangeFrames
	how := "resumed"
	if after.Snapshots != before.Snapshots {
		how = "took a new snapshot"
	}
	fmt.Fprintf(b.out, "leaf %s, back after missing %d changes, was current at revision %d %s after it was let back (it %s)\n",
		b.sim.Name(away), o.changes, rev, round(at.Sub(start)), how)
	fmt.Fprintf(b.out, "it received %s in %d change frame(s) (%s per change); its first snapshot, the whole data set then, was %s in %d records\n",
		size(got), frames, size(got/int64(o.changes)), size(before.SnapshotBytes), before.SnapshotRecords)
	return nil
}

func (b *bench) join(ctx context.Context) error {
	o := b.opts
	if err := b.seed(ctx); err != nil {
		return err
	}
	prefix := fmt.Sprintf("%s-j%s", o.prefix, b.nonce)
	start := time.Now()
	if err := b.startSim(ctx, o.leaves, prefix); err != nil {
		return err
	}
	var last time.Time
	for i := range o.leaves {
		st := b.sim.Leaf(i)
		at, ok := b.sim.AppliedAt(i, st.Applied)
		if !ok {
			at = time.Now()
		}
		if at.After(last) {
			last = at
		}
	}
	st := b.sim.Leaf(0)
	fmt.Fprintf(b.out, "%d new leaves were current %s after they started; a snapshot was %s in %d records, at revision %d\n",
		o.leaves, round(last.Sub(start)), size(st.SnapshotBytes), st.SnapshotRecords, st.Applied)
	return nil
}

// seed makes sure the origin holds --seed-users users and --seed-templates
// templates named after the prefix, making the missing ones. Seeded records
// are kept.
func (b *bench) seed(ctx context.Context) error {
	o := b.opts
	if o.seedUsers > 0 {
		var list struct {
			Users []struct {
				Username string `json:"username"`
			} `json:"users"`
		}
		if err := b.api.do(ctx, "GET", "/api/users", nil, &list); err != nil {
			return fmt.Errorf("list users: %w", err)
		}
		have := map[string]bool{}
		for _, u := range list.Users {
			have[u.Username] = true
		}
		var missing []string
		for i := range o.seedUsers {
			if name := fmt.Sprintf("%s-user-%d", o.prefix, i); !have[name] {
				missing = append(missing, name)
			}
		}
		fmt.Fprintf(b.out, "seeding %d users (%d there already)\n", len(missing), o.seedUsers-len(missing))
		err := b.parallel(ctx, len(missing), func(ctx context.Context, i int) error {
			req := map[string]any{"username": missing[i], "email": missing[i] + "@bench.invalid", "password": crypt.NewToken()[:40]}
			if err := b.api.do(ctx, "POST", "/api/users", req, nil); err != nil {
				return fmt.Errorf("create user %s: %w", missing[i], err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if o.seedTemplates > 0 {
		if _, err := b.seedTemplates(ctx, "seed", o.seedTemplates); err != nil {
			return err
		}
	}
	return nil
}

// seedTemplates makes sure the origin holds n templates named
// <prefix>-<kind>-<i>, making the missing ones with a spec of --spec-size
// bytes, and returns their ids in order. They are kept for the next run:
// deleting thousands of templates takes an origin long.
func (b *bench) seedTemplates(ctx context.Context, kind string, n int) ([]string, error) {
	var list struct {
		Templates []struct {
			ID   string `json:"template_id"`
			Name string `json:"name"`
		} `json:"templates"`
	}
	if err := b.api.do(ctx, "GET", "/api/templates", nil, &list); err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	have := map[string]string{}
	for _, t := range list.Templates {
		have[t.Name] = t.ID
	}
	ids := make([]string, n)
	var missing []int
	for i := range n {
		if ids[i] = have[fmt.Sprintf("%s-%s-%d", b.opts.prefix, kind, i)]; ids[i] == "" {
			missing = append(missing, i)
		}
	}
	fmt.Fprintf(b.out, "seeding %d templates with %d-byte specs (%d there already)\n", len(missing), b.opts.specSize, n-len(missing))
	err := b.parallel(ctx, len(missing), func(ctx context.Context, j int) error {
		i := missing[j]
		id, err := b.createTemplate(ctx, fmt.Sprintf("%s-%s-%d", b.opts.prefix, kind, i))
		ids[i] = id
		return err
	})
	b.mu.Lock()
	b.created = nil // seeded templates stay for the next run
	b.mu.Unlock()
	return ids, err
}

// memorySeries are the series of /metrics that tell the origin's memory,
// best first: the resident set, the heap in use (with the goroutine stacks
// when shown), the bytes of live and unswept heap objects, the heap the last
// GC cycle found live (with the stacks), what the Go runtime obtained from
// the system.
var memorySeries = [][]string{
	{"process_resident_memory_bytes"},
	{"go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes"},
	{"go_memstats_heap_alloc_bytes", "go_memstats_stack_inuse_bytes"},
	{"go_gc_heap_live_bytes", "go_memstats_stack_inuse_bytes"},
	{"go_memstats_sys_bytes"},
}

// memorySample is the origin's memory by each choice of memorySeries that
// its /metrics show, best first.
type memorySample []memoryValue

// memoryValue is one choice of memorySeries.
type memoryValue struct {
	series []string // the series found and summed
	bytes  float64
}

// memory reads the origin's memory from /metrics: for each series, the
// smallest of a few readings, since the heap goes up and down with garbage
// collection.
func (b *bench) memory(ctx context.Context) (memorySample, error) {
	var best memorySample
	for i := range 5 {
		if i > 0 {
			select {
			case <-ctx.Done():
				return best, ctx.Err()
			case <-time.After(200 * time.Millisecond): // between readings
			}
		}
		values, err := b.metrics(ctx)
		if err != nil {
			return best, err
		}
		s := pickMemory(values)
		if len(s) == 0 {
			return best, errors.New("its /metrics show none of process_resident_memory_bytes, go_memstats_heap_inuse_bytes, go_memstats_heap_alloc_bytes, go_memstats_sys_bytes")
		}
		if i == 0 || len(s) != len(best) {
			best = s
			continue
		}
		for j := range s {
			best[j].bytes = min(best[j].bytes, s[j].bytes)
		}
	}
	return best, nil
}

// idleMemory waits until the origin shows the leaves connected (when it
// shows knot_leaves_connected) and reads its memory.
func (b *bench) idleMemory(ctx context.Context) (memorySample, error) {
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		values, err := b.metrics(wait)
		if err != nil {
			break
		}
		if n, ok := values["knot_leaves_connected"]; !ok || int(n) >= b.opts.leaves {
			break
		}
		select {
		case <-wait.Done():
		case <-time.After(100 * time.Millisecond): // polling interval
		}
		if wait.Err() != nil {
			break
		}
	}
	// The heap the last GC cycle found live leaves out the garbage of the
	// leaves' start, but only a cycle that ran after they connected counts
	// them all: wait for one, or leave that series out.
	live := false
	if values, err := b.metrics(ctx); err == nil && b.opts.gcWait > 0 {
		if first, ok := values["go_gc_cycles_total"]; ok {
			fmt.Fprintf(b.out, "waiting up to %s for a GC cycle of the origin with the leaves idle\n", b.opts.gcWait)
			wait, cancel := context.WithTimeout(ctx, b.opts.gcWait)
			defer cancel()
			for !live && wait.Err() == nil {
				select {
				case <-wait.Done():
				case <-time.After(500 * time.Millisecond): // polling interval
				}
				values, err := b.metrics(ctx)
				live = err == nil && values["go_gc_cycles_total"] > first
			}
		}
	}
	m, err := b.memory(ctx)
	if !live {
		m = slices.DeleteFunc(m, func(v memoryValue) bool { return v.series[0] == "go_gc_heap_live_bytes" })
	}
	return m, err
}

// pickMemory returns the choices of memorySeries that values hold.
func pickMemory(values map[string]float64) memorySample {
	var out memorySample
	for _, names := range memorySeries {
		v, ok := values[names[0]]
		if !ok {
			continue
		}
		s := memoryValue{series: names[:1], bytes: v}
		for _, extra := range names[1:] {
			if w, ok := values[extra]; ok {
				s.series = append(s.series, extra)
				s.bytes += w
			}
		}
		out = append(out, s)
	}
	return out
}

// reportMemory prints, for each series the origin shows, its memory before
// the leaves and with them idle, and the difference per leaf.
func (b *bench) reportMemory(before memorySample, err1 error, idle memorySample, err2 error) {
	if err1 != nil || err2 != nil {
		fmt.Fprintf(b.out, "origin memory: not available: %v\n", errors.Join(err1, err2))
		return
	}
	for _, after := range idle {
		name := strings.Join(after.series, " + ")
		found := false
		for _, first := range before {
			if strings.Join(first.series, " + ") != name {
				continue
			}
			found = true
			per := (after.bytes - first.bytes) / float64(b.opts.leaves)
			fmt.Fprintf(b.out, "origin memory by %s: %s before the leaves, %s with %d idle leaves: %s per leaf\n",
				name, size(int64(first.bytes)), size(int64(after.bytes)), b.opts.leaves, size(int64(per)))
		}
		if !found {
			fmt.Fprintf(b.out, "origin memory by %s: %s with %d idle leaves (not shown before them)\n", name, size(int64(after.bytes)), b.opts.leaves)
		}
	}
}

// metrics reads the origin's /metrics.
func (b *bench) metrics(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", b.opts.origin+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.opts.adminToken)
	resp, err := b.api.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read the origin's /metrics: %w", b.api.unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the origin's /metrics answered %s", resp.Status)
	}
	return parseMetrics(io.LimitReader(resp.Body, 16<<20))
}

// parseMetrics reads the samples without labels of a Prometheus text
// exposition: "name value" lines. Comments, labelled samples and lines it
// does not understand are skipped.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(fields[1], 64)
		if err != nil {
			continue
		}
		out[fields[0]] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the origin's /metrics: %w", err)
	}
	return out, nil
}

// deadline returns ctx's deadline, or a day from now.
func deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(24 * time.Hour)
}

// round shows a duration in milliseconds, with two decimals below 10 ms.
func round(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 10000:
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.2f s", ms/1000)
}

// size shows a number of bytes in B, KiB or MiB.
func size(n int64) string {
	switch {
	case n < 0:
		return "-" + size(-n)
	case n < 10<<10:
		return fmt.Sprintf("%d B", n)
	case n < 10<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
