package origin_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/badger"
	"github.com/knot-dev/knot/storage/memory"
)

var (
	seedFlag = flag.Uint64("seed", 0, "run TestReplicationConverges with this seed only (also KNOT_REPL_SEED)")
	runsFlag = flag.Int("runs", 8, "how many seeds TestReplicationConverges runs")
)

// seeds returns the seeds to run: the one asked for, or 1..runs.
func seeds(t *testing.T) []uint64 {
	if *seedFlag != 0 {
		return []uint64{*seedFlag}
	}
	if s := os.Getenv("KNOT_REPL_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("KNOT_REPL_SEED=%q: %v", s, err)
		}
		return []uint64{n}
	}
	var out []uint64
	for i := 1; i <= *runsFlag; i++ {
		out = append(out, uint64(i))
	}
	return out
}

// TestReplicationConverges runs a seeded random workload of writes and faults
// against an origin with three leaves (trusted by the shared token, trusted
// by a per-leaf token, restricted by a user's API token) and checks, at the
// end of every round, that each leaf's replica is at the origin's revision and
// equals the origin's filtered view for that leaf.
//
// Faults: connections cut mid-stream, leaves restarted with their store
// kept, leaves away while the origin changes (and compacts its tombstones),
// the hub restarted, and the origin's store replaced (a new epoch).
func TestReplicationConverges(t *testing.T) {
	for _, seed := range seeds(t) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("reproduce with: go test ./origin -run TestReplicationConverges -seed=%d (or KNOT_REPL_SEED=%d)", seed, seed)
				}
			}()
			newWorkload(t, seed).run(4, 25)
		})
	}
}

const (
	ownerID       = "owner"
	ownerLocation = "user:owner" // the owner's restricted location
	ownerSecret   = "api-token-secret-of-the-owner"
	leafSecret    = "leaf-token-secret-for-us"
)

type workload struct {
	t      *testing.T
	rng    *rand.Rand
	ctx    context.Context
	o      *testOrigin
	leaves []*testLeaf
	views  []viewer
	away   []bool
	reopen []func() storage.Store // for a leaf on badger: close and open its store again
	epochs int
	steps  []string // what happened, for the failure message
}

func newWorkload(t *testing.T, seed uint64) *workload {
	w := &workload{t: t, rng: rand.New(rand.NewPCG(seed, seed*7919)), ctx: context.Background()}
	var st storage.Store = memory.New()
	if seed%3 == 0 {
		st = openBadger(t, filepath.Join(t.TempDir(), "origin"))
	}
	w.seedCredentials(st)
	w.o = startOrigin(t, st, origin.Options{EnableLeafAPITokens: true})

	// Leaf "eu": shared token, memory store. Leaf "us": per-leaf token,
	// badger store (reopened on restart). Leaf of the owner: restricted.
	w.addLeaf(memory.New(), nil, leaf.Options{Token: sharedToken, Location: "eu", NodeID: "node-eu"}, viewer{})
	dir := filepath.Join(t.TempDir(), "leaf-us")
	var cur *badger.Store
	open := func() storage.Store {
		if cur != nil {
			cur.Close()
		}
		cur = openBadger(t, dir)
		return cur
	}
	w.addLeaf(open(), open, leaf.Options{Token: leafSecret, Location: "us", NodeID: "node-us"}, viewer{})
	w.addLeaf(memory.New(), nil, leaf.Options{Token: ownerSecret, Location: ownerLocation, NodeID: "node-owner"}, viewer{restricted: true, owner: ownerID})
	return w
}

func openBadger(t *testing.T, dir string) *badger.Store {
	t.Helper()
	s, err := badger.Open(badger.Options{Path: dir, Logger: quiet()})
	if err != nil {
		t.Fatalf("open badger in %s: %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func (w *workload) addLeaf(st storage.Store, reopen func() storage.Store, opts leaf.Options, v viewer) {
	w.leaves = append(w.leaves, startLeaf(w.t, w.o, st, opts))
	w.views = append(w.views, v)
	w.away = append(w.away, false)
	w.reopen = append(w.reopen, reopen)
}

// seedCredentials writes the records the leaves' credentials need: the
// owner and its API token, and the per-leaf token of "us".
func (w *workload) seedCredentials(st storage.Store) {
	w.t.Helper()
	now := time.Now().UTC()
	for _, rec := range []shared.Record{
		&shared.User{Meta: shared.Meta{ID: ownerID}, Username: "owner", Email: "owner@example.com", PasswordHash: "$2a$owner", TOTPSecret: "TOTP", Active: true},
		&shared.Token{Meta: shared.Meta{ID: crypt.HashToken(ownerSecret)}, UserID: ownerID, Name: "leaf"},
		&shared.LeafToken{Meta: shared.Meta{ID: crypt.HashToken(leafSecret), CreatedAt: now}, Location: "us", Name: "us"},
	} {
		if err := st.Put(w.ctx, rec); err != nil {
			w.t.Fatalf("seed %s: %v", rec.RecordKind(), err)
		}
	}
}

func (w *workload) logf(format string, args ...any) {
	w.steps = append(w.steps, fmt.Sprintf(format, args...))
}

func (w *workload) pick(prefix string, n int) string {
	return fmt.Sprintf("%s%d", prefix, w.rng.IntN(n)+1)
}

func (w *workload) subset(prefix string, n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		if w.rng.IntN(3) == 0 {
			out = append(out, fmt.Sprintf("%s%d", prefix, i))
		}
	}
	return out
}

// upsert writes rec over whatever the store holds under its id.
func (w *workload) upsert(st storage.Store, rec shared.Record) {
	w.t.Helper()
	c, err := st.Get(w.ctx, rec.RecordKind(), rec.RecordID())
	switch {
	case err == nil:
		rec.SetRevision(c.Revision)
	case shared.ErrorCode(err) == shared.ENOTFOUND:
		rec.SetRevision(0)
	default:
		w.t.Fatalf("get %s %s: %v", rec.RecordKind(), rec.RecordID(), err)
	}
	if err := st.Put(w.ctx, rec); err != nil {
		w.t.Fatalf("put %s %s: %v", rec.RecordKind(), rec.RecordID(), err)
	}
}

func (w *workload) remove(st storage.Store, kind shared.Kind, id string) {
	w.t.Helper()
	if _, err := st.Delete(w.ctx, kind, id); err != nil && shared.ErrorCode(err) != shared.ENOTFOUND {
		w.t.Fatalf("delete %s %s: %v", kind, id, err)
	}
}

// write makes one random write to st.
func (w *workload) write(st storage.Store) {
	r := w.rng.IntN(100)
	switch {
	case r < 12:
		id := w.pick("u", 6)
		w.logf("put user %s", id)
		w.upsert(st, &shared.User{Meta: shared.Meta{ID: id}, Username: "user-" + id, Email: id + "@example.com",
			PasswordHash: fmt.Sprintf("$2a$%d", w.rng.IntN(1000)), Groups: w.subset("g", 4), Roles: w.subset("r", 3), Active: true})
	case r < 16:
		id := w.pick("u", 6)
		w.logf("delete user %s", id)
		w.remove(st, shared.KindUser, id)
	case r < 28:
		groups, roles := w.subset("g", 4), w.subset("r", 3)
		w.logf("owner groups %v roles %v", groups, roles)
		w.upsert(st, &shared.User{Meta: shared.Meta{ID: ownerID}, Username: "owner", Email: "owner@example.com",
			PasswordHash: "$2a$owner", TOTPSecret: "TOTP", Groups: groups, Roles: roles, Active: true, MaxSpaces: w.rng.IntN(9)})
	case r < 36:
		id := w.pick("g", 4)
		if w.rng.IntN(4) == 0 {
			w.logf("delete group %s", id)
			w.remove(st, shared.KindGroup, id)
		} else {
			w.logf("put group %s", id)
			w.upsert(st, &shared.Group{Meta: shared.Meta{ID: id}, Name: "group-" + id, MaxSpaces: w.rng.IntN(5)})
		}
	case r < 42:
		id := w.pick("r", 3)
		if w.rng.IntN(4) == 0 {
			w.logf("delete role %s", id)
			w.remove(st, shared.KindRole, id)
		} else {
			w.logf("put role %s", id)
			w.upsert(st, &shared.Role{Meta: shared.Meta{ID: id}, Name: "role-" + id, Permissions: []shared.Permission{shared.Permission(w.rng.IntN(5))}})
		}
	case r < 56:
		id := w.pick("t", 6)
		if w.rng.IntN(5) == 0 {
			w.logf("delete template %s", id)
			w.remove(st, shared.KindTemplate, id)
		} else {
			groups := w.subset("g", 4)
			w.logf("put template %s groups %v", id, groups)
			w.upsert(st, &shared.Template{Meta: shared.Meta{ID: id}, Name: "template-" + id, Kind: shared.TemplateContainer,
				Spec: fmt.Sprintf("image: x:%d", w.rng.IntN(100)), Groups: groups})
		}
	case r < 70:
		id := w.pick("v", 6)
		if w.rng.IntN(5) == 0 {
			w.logf("delete var %s", id)
			w.remove(st, shared.KindTemplateVar, id)
		} else {
			// Some are scoped: to the owner's location (in either case), to
			// a trusted leaf's, to the origin's, or to another user's.
			scopes := []string{"", "", "", ownerLocation, "USER:Owner", "eu", "us", "origin", "owner", "user:u1"}
			v := &shared.TemplateVar{Meta: shared.Meta{ID: id}, Name: "var_" + id, Value: fmt.Sprint(w.rng.IntN(100)),
				Local: w.rng.IntN(4) == 0, Protected: w.rng.IntN(3) == 0, Restricted: w.rng.IntN(3) == 0, Location: scopes[w.rng.IntN(len(scopes))]}
			w.logf("put var %s local=%v protected=%v restricted=%v location=%q", id, v.Local, v.Protected, v.Restricted, v.Location)
			w.upsert(st, v)
		}
	case r < 80:
		id := w.pick("k", 5)
		if w.rng.IntN(4) == 0 {
			w.logf("delete token %s", id)
			w.remove(st, shared.KindToken, id)
			return
		}
		// A token keeps its owner for life: k1 and k2 are the owner's.
		user := w.pick("u", 6)
		if id <= "k2" {
			user = ownerID
		}
		w.logf("put token %s of %s", id, user)
		w.upsert(st, &shared.Token{Meta: shared.Meta{ID: id}, UserID: user, Name: "token-" + id + "-" + fmt.Sprint(w.rng.IntN(9))})
	case r < 92:
		// A space keeps its owner and location for life; some are at the
		// origin's location, some at a leaf's, which keeps its own.
		n := w.rng.IntN(6) + 1
		id := fmt.Sprintf("s%d", n)
		if w.rng.IntN(4) == 0 {
			w.logf("delete space %s", id)
			w.remove(st, shared.KindSpace, id)
			return
		}
		user, location := "u1", []string{"origin", "eu", "us"}[n%3]
		if n%2 == 0 {
			user = ownerID
		}
		if n == 6 {
			location = ownerLocation
		}
		w.logf("put space %s of %s at %s", id, user, location)
		w.upsert(st, &shared.Space{Meta: shared.Meta{ID: id}, UserID: user, Name: "space-" + id, Location: location, State: shared.SpaceStopped,
			Description: fmt.Sprint(w.rng.IntN(50)), AgentTokenHash: fmt.Sprintf("%064d", n)})
	default:
		head, err := st.Head(w.ctx)
		if err != nil {
			w.t.Fatal(err)
		}
		upTo := head.Revision - int64(w.rng.IntN(6))
		w.logf("compact up to %d", upTo)
		if err := st.Compact(w.ctx, upTo); err != nil {
			w.t.Fatalf("compact: %v", err)
		}
	}
}

// fault injects one random fault.
func (w *workload) fault() {
	i := w.rng.IntN(len(w.leaves))
	l := w.leaves[i]
	switch r := w.rng.IntN(100); {
	case r < 35:
		w.logf("cut %s", l.opts.NodeID)
		l.cut()
	case r < 55:
		w.logf("restart %s", l.opts.NodeID)
		w.stopLeaf(i)
		w.startLeaf(i)
	case r < 75:
		if !w.away[i] {
			w.logf("%s goes away", l.opts.NodeID)
			w.stopLeaf(i)
			w.away[i] = true
		}
	case r < 92:
		w.logf("restart hub")
		w.o.restart(w.o.Store())
	default:
		if w.epochs > 0 {
			return
		}
		w.epochs++
		w.logf("new origin store (new epoch)")
		var st storage.Store = memory.New()
		w.seedCredentials(st)
		for range 10 {
			w.write(st)
		}
		w.o.restart(st)
	}
}

func (w *workload) stopLeaf(i int) {
	w.leaves[i].stop()
	if w.reopen[i] != nil {
		w.leaves[i].store = w.reopen[i]()
	}
}

func (w *workload) startLeaf(i int) {
	w.leaves[i].start()
	w.away[i] = false
}

// run plays rounds of writes and faults; after each round every leaf must
// converge.
func (w *workload) run(rounds, steps int) {
	t := w.t
	for round := 1; round <= rounds; round++ {
		for range steps {
			if w.rng.IntN(5) == 0 {
				w.fault()
			} else {
				w.write(w.o.Store())
				w.o.hub().Notify()
			}
		}
		for i := range w.leaves {
			if w.away[i] {
				w.logf("%s comes back", w.leaves[i].opts.NodeID)
				w.startLeaf(i)
			}
		}
		for i, l := range w.leaves {
			deadline := 30 * time.Second // generous: CI runs other packages beside this one
			start := time.Now()
			for {
				msg := converged(t, w.o, l, w.views[i])
				if msg == "" {
					break
				}
				if time.Since(start) > deadline {
					t.Fatalf("round %d: %s\nsteps:\n%s", round, msg, fmt.Sprint(w.steps))
				}
				time.Sleep(2 * time.Millisecond) // polling interval
			}
		}
		w.checkFleet(round)
	}
}

// checkFleet checks the hub's registry: every leaf connected, with its
// location, and its acknowledged revision at the head.
func (w *workload) checkFleet(round int) {
	head, err := w.o.Store().Head(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	eventually(w.t, 10*time.Second, func() string {
		got := map[string]shared.LeafNode{}
		for _, in := range w.o.hub().Leaves() {
			got[in.NodeID] = in
		}
		for _, l := range w.leaves {
			in, ok := got[l.opts.NodeID]
			switch {
			case !ok:
				return fmt.Sprintf("round %d: %s missing from Leaves()", round, l.opts.NodeID)
			case !in.Connected:
				return fmt.Sprintf("round %d: %s not connected", round, l.opts.NodeID)
			case in.Applied != head.Revision || in.Lag != 0:
				return fmt.Sprintf("round %d: %s acknowledged %d (lag %d), head is %d", round, l.opts.NodeID, in.Applied, in.Lag, head.Revision)
			}
		}
		return ""
	})
}

// TestLongAbsenceCatchesUpInPagesAndFrames brings back a leaf after more
// changes than one page of the feed, some too large to share one frame.
func TestLongAbsenceCatchesUpInPagesAndFrames(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	o := startOrigin(t, st, origin.Options{})
	l := startLeaf(t, o, memory.New(), leaf.Options{Token: sharedToken, Location: "eu", NodeID: "n-eu"})
	eventually(t, 5*time.Second, func() string { return converged(t, o, l, viewer{}) })
	l.stop()
	big := strings.Repeat("x", 200<<10)
	for i := range 1200 {
		if err := st.Put(ctx, &shared.Group{Meta: shared.Meta{ID: fmt.Sprintf("g%04d", i)}, Name: fmt.Sprintf("group-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		if err := st.Put(ctx, &shared.Template{Meta: shared.Meta{ID: fmt.Sprintf("t%02d", i)}, Name: fmt.Sprintf("t%d", i), Spec: big}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 300 {
		if _, err := st.Delete(ctx, shared.KindGroup, fmt.Sprintf("g%04d", i*2)); err != nil {
			t.Fatal(err)
		}
	}
	l.start()
	// Generous: converged lists every record at each poll, and CI runs other
	// packages beside this one.
	eventually(t, 30*time.Second, func() string { return converged(t, o, l, viewer{}) })
}
