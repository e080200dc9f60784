// Package leafsim simulates many leaf servers in one process, to measure an
// origin: each simulated leaf is a real websocket client speaking the leaf
// protocol of shared/wire (hello with its epoch and applied revision,
// snapshots and change frames applied in order, acks spaced as a real leaf
// spaces them, pings answered), with its own node id and location, and all
// share one credential. A simulated leaf keeps no records: it applies a
// frame by checking that it follows the revision it holds and is whole,
// moving to the frame's revision, and counting the bytes. That keeps a leaf
// to a few KiB, so that ten thousand fit in one process.
//
// Every leaf remembers when it applied its last few frames, so that a driver
// can tell when all leaves had applied revision R. Leaf 0 is the probe: it
// decodes every frame in full and keeps its last changes, so that a driver
// can learn which revision one of its writes got (FindChange).
//
// A leaf whose link ends dials again after a capped, jittered exponential
// backoff, reset after a welcome, like a real leaf. A simulation stops by
// itself only when its context ends.
package leafsim

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
)

// Options configures a simulation. Each field says what its zero value
// means.
type Options struct {
	// OriginURL is the origin's base URL: http(s):// or ws(s)://host[:port]
	// with an optional path prefix. Required.
	OriginURL string
	// Token is the credential every leaf presents: the origin's shared
	// token. Required.
	Token string
	// Leaves is how many leaves to simulate, from 1 to 100000. Required.
	Leaves int
	// Prefix starts every node id and location: leaf i is
	// "<Prefix>-<i>" (six digits). "" means "sim".
	Prefix string
	// Version is the version the leaves announce; "" means "leafsim".
	Version string
	// Verify makes every leaf decode and validate every frame in full, as a
	// real leaf does; without it only the probe does, and the others read
	// the type and revisions at the start of a frame and check that a change
	// frame ends whole.
	Verify bool
	// MinBackoff and MaxBackoff bound the wait between attempts; 0 means
	// 100ms and 5s. Each wait is drawn between half the delay and the delay.
	MinBackoff, MaxBackoff time.Duration
	// DialConcurrency bounds the dials in flight; 0 means 128.
	DialConcurrency int
	// IdleTimeout ends a link on which the origin sent nothing for so long;
	// 0 means 60s.
	IdleTimeout time.Duration
	// HTTPClient is used for the websocket handshakes; nil means a client
	// of its own.
	HTTPClient *http.Client
	// Logger receives the simulation's log; nil means slog.Default().
	Logger *slog.Logger
}

// MaxLeaves is the most leaves one simulation runs.
const MaxLeaves = 100000

// Sim is a running set of simulated leaves. Create it with New and run it
// with Run; the other methods are safe for concurrent use while it runs.
type Sim struct {
	opts   Options
	url    string // the websocket URL of the leaf endpoint
	log    *slog.Logger
	start  time.Time // the clock of the leaves' timestamps
	leaves []*simLeaf
	dials  chan struct{} // semaphore of the dials in flight

	progress chan struct{} // buffered 1: some leaf applied a frame or connected

	epoch atomic.Pointer[string] // the epoch of the last welcome, shared by the leaves

	mu      sync.Mutex
	lastErr string    // guarded by mu: why the last link ended or a dial failed
	errs    int64     // guarded by mu: how many links ended or dials failed
	probe   []change  // guarded by mu: the probe's last changes, oldest first
	probeAt int64     // guarded by mu: revision the probe had applied when it logged the last change
	probeN  int64     // guarded by mu: changes the probe logged in all
	started bool      // guarded by mu
	runDone chan bool // closed when Run returns
}

// change is one change the probe applied.
type change struct {
	wire.Change
	frame int64 // revision of the frame that carried it
}

// probeLog is how many changes the probe keeps.
const probeLog = 1024

// New checks opts and returns a simulation. It starts nothing.
func New(opts Options) (*Sim, error) {
	switch {
	case opts.OriginURL == "":
		return nil, shared.Errorf(shared.EINVALID, "leafsim: the origin URL is required")
	case opts.Token == "":
		return nil, shared.Errorf(shared.EINVALID, "leafsim: a token for the origin is required")
	case opts.Leaves < 1 || opts.Leaves > MaxLeaves:
		return nil, shared.Errorf(shared.EINVALID, "leafsim: the number of leaves must be from 1 to %d, not %d", MaxLeaves, opts.Leaves)
	}
	u, err := wire.Endpoint(opts.OriginURL)
	if err != nil {
		return nil, err
	}
	if opts.Prefix == "" {
		opts.Prefix = "sim"
	}
	if len(opts.Prefix) > 50 || strings.ContainsFunc(opts.Prefix, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return nil, shared.Errorf(shared.EINVALID, "leafsim: the prefix %.60q must be at most 50 printable ASCII characters without spaces", opts.Prefix)
	}
	if opts.Version == "" {
		opts.Version = "leafsim"
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.MinBackoff)
	if opts.DialConcurrency <= 0 {
		opts.DialConcurrency = 128
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = time.Minute
	}
	if opts.HTTPClient == nil {
		tr := &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConns:        -1,
		}
		opts.HTTPClient = &http.Client{Transport: tr}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Sim{
		opts:     opts,
		url:      u,
		log:      opts.Logger,
		start:    time.Now(),
		dials:    make(chan struct{}, opts.DialConcurrency),
		progress: make(chan struct{}, 1),
		runDone:  make(chan bool),
	}
	s.leaves = make([]*simLeaf, opts.Leaves)
	for i := range s.leaves {
		s.leaves[i] = &simLeaf{sim: s, id: i, resume: make(chan struct{}, 1)}
	}
	s.leaves[0].probe = true
	return s, nil
}

// Name returns the node id and location of leaf i.
func (s *Sim) Name(i int) string { return fmt.Sprintf("%s-%06d", s.opts.Prefix, i) }

// Len returns the number of leaves.
func (s *Sim) Len() int { return len(s.leaves) }

// Run runs every leaf until ctx ends, then closes their links and returns
// nil once every leaf has stopped. A simulation runs once.
func (s *Sim) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return fmt.Errorf("leafsim: Run called twice")
	}
	s.started = true
	s.mu.Unlock()
	defer close(s.runDone)
	var wg sync.WaitGroup
	for _, l := range s.leaves {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.run(ctx)
		}()
	}
	wg.Wait()
	return nil
}

// failed records why a link ended or a dial failed.
func (s *Sim) failed(err error) {
	s.mu.Lock()
	s.lastErr = err.Error()
	s.errs++
	s.mu.Unlock()
}

// poke wakes the waiters.
func (s *Sim) poke() {
	select {
	case s.progress <- struct{}{}:
	default:
	}
}

// at turns a leaf timestamp back into a time.
func (s *Sim) at(ns int64) time.Time { return s.start.Add(time.Duration(ns)) }

// now is the leaves' clock: nanoseconds since the simulation was made.
func (s *Sim) now() int64 { return int64(time.Since(s.start)) }

// Pause closes leaf i's link and keeps it from dialing again until Resume.
// Waits leave a paused leaf out.
func (s *Sim) Pause(i int) {
	l := s.leaves[i]
	l.paused.Store(true)
	if c := l.conn.Load(); c != nil {
		c.CloseNow()
	}
}

// Resume lets leaf i dial again at once.
func (s *Sim) Resume(i int) {
	l := s.leaves[i]
	l.paused.Store(false)
	select {
	case l.resume <- struct{}{}:
	default:
	}
}

// Cut drops the link of leaf i without a close handshake; the leaf dials
// again after its backoff.
func (s *Sim) Cut(i int) {
	if c := s.leaves[i].conn.Load(); c != nil {
		c.CloseNow()
	}
}

// LeafStats is what one simulated leaf knows.
type LeafStats struct {
	Connected bool
	// Current is true when the leaf is connected, not in the middle of a
	// snapshot, and has applied the origin's head as last heard (welcome,
	// keep-alive or change frame).
	Current bool
	Epoch   string
	Applied int64
	Head    int64
	// Bytes and Frames count what the leaf received over all its links:
	// all frames, and change frames apart (ChangeBytes, ChangeFrames).
	Bytes, Frames             int64
	ChangeBytes, ChangeFrames int64
	// SnapshotBytes counts the bytes of snapshot frames; Snapshots the
	// snapshots applied; SnapshotRecords is the number of records of the
	// last one, as its end frame says.
	SnapshotBytes   int64
	Snapshots       int64
	SnapshotRecords int64
	// Sessions counts the welcomes the leaf received.
	Sessions int64
}

// Leaf returns the state of leaf i.
func (s *Sim) Leaf(i int) LeafStats {
	l := s.leaves[i]
	st := LeafStats{
		Connected:       l.connected.Load(),
		Applied:         l.applied.Load(),
		Head:            l.head.Load(),
		Bytes:           l.bytes.Load(),
		Frames:          l.frames.Load(),
		ChangeBytes:     l.changeBytes.Load(),
		ChangeFrames:    l.changeFrames.Load(),
		SnapshotBytes:   l.snapBytes.Load(),
		Snapshots:       l.snapshots.Load(),
		SnapshotRecords: l.snapRecords.Load(),
		Sessions:        l.sessions.Load(),
	}
	if e := l.epoch.Load(); e != nil {
		st.Epoch = *e
	}
	st.Current = st.Connected && !l.syncing.Load() && st.Applied >= st.Head
	return st
}

// Stats sums up the simulation.
type Stats struct {
	Leaves, Paused, Connected, Current int
	// MinApplied and MaxApplied range over the leaves that are not paused.
	MinApplied, MaxApplied int64
	Bytes, Frames          int64
	Snapshots, Sessions    int64
	// Errors counts the links that ended and the dials that failed;
	// LastError says why the last one did.
	Errors    int64
	LastError string
}

// Stats returns the state of the whole simulation.
func (s *Sim) Stats() Stats {
	st := Stats{Leaves: len(s.leaves), MinApplied: -1}
	for i, l := range s.leaves {
		if l.paused.Load() {
			st.Paused++
			continue
		}
		ls := s.Leaf(i)
		if ls.Connected {
			st.Connected++
		}
		if ls.Current {
			st.Current++
		}
		if st.MinApplied < 0 || ls.Applied < st.MinApplied {
			st.MinApplied = ls.Applied
		}
		st.MaxApplied = max(st.MaxApplied, ls.Applied)
		st.Bytes += ls.Bytes
		st.Frames += ls.Frames
		st.Snapshots += ls.Snapshots
		st.Sessions += ls.Sessions
	}
	st.MinApplied = max(st.MinApplied, 0)
	s.mu.Lock()
	st.Errors, st.LastError = s.errs, s.lastErr
	s.mu.Unlock()
	return st
}

func (st Stats) String() string {
	out := fmt.Sprintf("%d of %d leaves connected, %d current, applied %d..%d", st.Connected, st.Leaves-st.Paused, st.Current, st.MinApplied, st.MaxApplied)
	if st.Paused > 0 {
		out += fmt.Sprintf(", %d paused", st.Paused)
	}
	if st.LastError != "" {
		out += fmt.Sprintf("; %d link errors, the last: %s", st.Errors, st.LastError)
	}
	return out
}

// waitAll waits until done(i) holds for every leaf that is not paused,
// rechecking as leaves make progress, or until ctx ends; the error then
// describes the simulation.
func (s *Sim) waitAll(ctx context.Context, what string, done func(i int) bool) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	next := 0
	for {
		for next < len(s.leaves) && (s.leaves[next].paused.Load() || done(next)) {
			next++
		}
		if next == len(s.leaves) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("leafsim: %s: leaf %s is not there yet (%+v); %s: %w", what, s.Name(next), s.Leaf(next), s.Stats(), ctx.Err())
		case <-s.runDone:
			return fmt.Errorf("leafsim: %s: the simulation stopped", what)
		case <-s.progress:
		case <-tick.C:
		}
	}
}

// WaitCurrent waits until every leaf that is not paused is connected and
// has applied the origin's head as it last heard it.
func (s *Sim) WaitCurrent(ctx context.Context) error {
	return s.waitAll(ctx, "wait until every leaf is current", func(i int) bool { return s.Leaf(i).Current })
}

// Mark is the number of welcomes each leaf had at one moment.
type Mark []int64

// Mark returns the number of welcomes each leaf had so far.
func (s *Sim) Mark() Mark {
	m := make(Mark, len(s.leaves))
	for i, l := range s.leaves {
		m[i] = l.sessions.Load()
	}
	return m
}

// WaitReconnected waits until every leaf that is not paused was welcomed
// again since m and is current.
func (s *Sim) WaitReconnected(ctx context.Context, m Mark) error {
	return s.waitAll(ctx, "wait until every leaf reconnected", func(i int) bool {
		st := s.Leaf(i)
		return st.Sessions > m[i] && st.Current
	})
}

// WaitApplied waits until every leaf that is not paused has applied
// revision rev, and returns the time at which the last of them applied the
// frame that brought it there. It fails when a leaf no longer remembers when
// it did (it applied many frames since).
func (s *Sim) WaitApplied(ctx context.Context, rev int64) (time.Time, error) {
	if err := s.waitAll(ctx, fmt.Sprintf("wait until every leaf applied revision %d", rev), func(i int) bool { return s.leaves[i].applied.Load() >= rev }); err != nil {
		return time.Time{}, err
	}
	var last int64
	for i, l := range s.leaves {
		if l.paused.Load() {
			continue
		}
		at, ok := l.appliedAt(rev)
		if !ok {
			return time.Time{}, fmt.Errorf("leafsim: leaf %s no longer remembers when it applied revision %d", s.Name(i), rev)
		}
		last = max(last, at)
	}
	return s.at(last), nil
}

// AppliedAt returns when leaf i applied the frame that brought it to
// revision rev or beyond, and false if it has not or no longer remembers.
func (s *Sim) AppliedAt(i int, rev int64) (time.Time, bool) {
	at, ok := s.leaves[i].appliedAt(rev)
	return s.at(at), ok
}

// FindChange waits until the probe (leaf 0) applied a change for which match
// holds, and returns the change. The probe remembers its last 1024 changes.
// Each change is matched once: the waiter, which runs beside the leaves it
// measures, does not rescan the log every time a leaf makes progress.
func (s *Sim) FindChange(ctx context.Context, match func(wire.Change) bool) (wire.Change, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var checked int64 // changes logged before this count were matched
	for {
		s.mu.Lock()
		first := max(checked, s.probeN-int64(len(s.probe)))
		for n := s.probeN - 1; n >= first; n-- {
			c := s.probe[n-(s.probeN-int64(len(s.probe)))].Change
			if match(c) {
				s.mu.Unlock()
				return c, nil
			}
		}
		checked = s.probeN
		at := s.probeAt
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return wire.Change{}, fmt.Errorf("leafsim: the probe leaf (at revision %d) did not receive the change: %w", at, ctx.Err())
		case <-s.runDone:
			return wire.Change{}, fmt.Errorf("leafsim: the simulation stopped")
		case <-s.progress:
		case <-tick.C:
		}
	}
}

// logProbe keeps the changes of a frame the probe applied.
func (s *Sim) logProbe(rev int64, cs []wire.Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cs {
		s.probe = append(s.probe, change{Change: c, frame: rev})
	}
	s.probeN += int64(len(cs))
	if n := len(s.probe) - probeLog; n > 0 {
		s.probe = append(s.probe[:0], s.probe[n:]...)
	}
	s.probeAt = rev
}
