// Package bench is the engine of knot bench replication: it drives a
// running origin with the simulated leaves of leafsim, makes its changes
// through the origin's REST API with an admin's API token, measures on the
// leaves and reports in plain text. cmd/knot turns the command's flags into
// Options and calls Run; the flags are checked there, since their messages
// name them.
//
// The scenarios (Scenarios) are fanout, restart, catchup and join. Every
// wait is bounded by Options.Timeout, so a run stops by itself. The engine
// sits below web and cmd, so it calls the REST API with a small client of
// its own (api.go) whose errors read as those of the knot CLI.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/knot-dev/knot/leaf/leafsim"
	"github.com/knot-dev/knot/shared/client"
)

// Scenarios are the scenarios Run knows.
var Scenarios = []string{"fanout", "restart", "catchup", "join"}

// Options configure one run. cmd/knot fills them from the flags of knot
// bench replication, whose names the fields follow.
type Options struct {
	Origin         string        // the origin's base URL, http(s)://host:port
	SharedToken    string        // the origin's shared token, presented by every simulated leaf
	AdminToken     string        // an API token of an admin of the origin, for the REST calls
	Leaves         int           // simulated leaves, 1 to leafsim.MaxLeaves
	Updates        int           // fanout: template updates, 1 to MaxUpdates
	SpecSize       int           // bytes of each template's container spec, MinSpecSize to MaxSpecSize
	Scenario       string        // one of Scenarios
	Changes        int           // catchup: changes the absent leaf misses, 1 to MaxChanges
	SeedUsers      int           // join: bench users the origin is to hold, 0 to MaxChanges
	SeedTemplates  int           // join: bench templates the origin is to hold, 0 to MaxChanges
	Prefix         string        // starts the names of the simulated leaves and of the records made
	Timeout        time.Duration // the longest the whole run may take (--timeout)
	GCWait         time.Duration // fanout: the longest wait for a GC cycle of the origin with the leaves idle; 0 skips it
	RestartCommand string        // restart: a shell command that restarts the origin; "" asks for it by hand
	Keep           bool          // keep the templates made for the run
	Version        string        // knot's version: the simulated leaves report "bench-<Version>"
}

// Bounds of the options.
const (
	MaxUpdates  = 10000
	MaxChanges  = 100000
	MaxSpecSize = 512 << 10
	MinSpecSize = 64
	workers     = 8 // REST calls in flight while seeding and changing
)

// bench is one run of knot bench replication.
type bench struct {
	opts   Options
	out    io.Writer
	api    *client.Client
	nonce  string
	logger *slog.Logger

	sim     *leafsim.Sim
	stopSim func()

	mu      sync.Mutex
	created []string // guarded by mu: ids of the templates made
}

// Run runs the scenario of opts against the origin, reporting on stdout and
// logging the simulation's warnings on stderr. It returns once the scenario
// has been measured and what the run made has been deleted (unless
// opts.Keep), or at the first error. cmd/knot checks the options first.
func Run(ctx context.Context, opts Options, stdout, stderr io.Writer) error {
	if !slices.Contains(Scenarios, opts.Scenario) {
		return fmt.Errorf("scenario %q is not one of %s", opts.Scenario, strings.Join(Scenarios, ", "))
	}
	c, err := newAPI(opts.Origin, opts.AdminToken, opts.Version)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	b := &bench{
		opts: opts, out: stdout, api: c,
		nonce:  strconv.FormatInt(time.Now().UnixNano(), 36),
		logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	defer b.cleanup()
	fmt.Fprintf(b.out, "knot bench replication: scenario %s, %d leaves, origin %s\n", opts.Scenario, opts.Leaves, opts.Origin)
	switch opts.Scenario {
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
		return fmt.Errorf("%w (--timeout %s)", err, opts.Timeout)
	}
	return err
}

// startSim connects the leaves and waits until all are current.
func (b *bench) startSim(ctx context.Context, leaves int, prefix string) error {
	sim, err := leafsim.New(leafsim.Options{
		OriginURL: b.opts.Origin, Token: b.opts.SharedToken, Leaves: leaves, Prefix: prefix,
		Version: "bench-" + b.opts.Version, Logger: b.logger,
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
	if b.opts.Keep || len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	err := b.parallel(ctx, len(ids), func(ctx context.Context, i int) error {
		return b.api.Templates().Delete(ctx, ids[i])
	})
	if err != nil {
		fmt.Fprintf(b.out, "could not delete every template made (%d): %v\n", len(ids), err)
		return
	}
	fmt.Fprintf(b.out, "deleted the %d templates made for the run\n", len(ids))
}

// parallel calls f for 0..n-1 with workers calls in flight, and
// returns the first error.
func (b *bench) parallel(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
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
