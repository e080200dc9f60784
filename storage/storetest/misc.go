package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

func appendEvents(t *testing.T, s storage.Store, n int) []shared.AuditEvent {
	t.Helper()
	var out []shared.AuditEvent
	for i := range n {
		ev := &shared.AuditEvent{
			At:    time.Date(2025, 1, 2, 3, 4, 5, i, time.UTC),
			Actor: "ann", ActorType: "user", Event: fmt.Sprintf("event %d", i),
		}
		if err := s.AppendAudit(context.Background(), ev); err != nil {
			t.Fatalf("append audit event %d: %v", i, err)
		}
		out = append(out, *ev)
	}
	return out
}

func auditIDs(evs []shared.AuditEvent) []int64 {
	var ids []int64
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	return ids
}

func auditTests() []test {
	ctx := context.Background()
	return []test{
		{"IDsGrow", func(t *testing.T, s storage.Store) {
			evs := appendEvents(t, s, 3)
			if evs[0].ID <= 0 || evs[1].ID <= evs[0].ID || evs[2].ID <= evs[1].ID {
				t.Fatalf("audit ids %v do not grow", auditIDs(evs))
			}
		}},
		{"ListIsNewestFirst", func(t *testing.T, s storage.Store) {
			evs := appendEvents(t, s, 5)
			got, total, err := s.ListAudit(ctx, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := auditIDs(evs)
			slices.Reverse(want)
			if total != 5 || !slices.Equal(auditIDs(got), want) {
				t.Fatalf("list audit gave %v (total %d), want %v (total 5)", auditIDs(got), total, want)
			}
			if got[0].Event != "event 4" {
				t.Fatalf("newest event is %q, want \"event 4\"", got[0].Event)
			}
		}},
		{"OffsetAndLimitPage", func(t *testing.T, s storage.Store) {
			ids := auditIDs(appendEvents(t, s, 5))
			for _, tt := range []struct {
				offset, limit int
				want          []int64
			}{
				{0, 2, []int64{ids[4], ids[3]}},
				{1, 2, []int64{ids[3], ids[2]}},
				{4, 10, []int64{ids[0]}},
				{5, 10, nil},
				{50, 1, nil},
				{3, 0, []int64{ids[1], ids[0]}},
			} {
				got, total, err := s.ListAudit(ctx, tt.offset, tt.limit)
				if err != nil || total != 5 || !slices.Equal(auditIDs(got), tt.want) {
					t.Errorf("list audit offset %d limit %d gave %v (total %d), %v; want %v (total 5)", tt.offset, tt.limit, auditIDs(got), total, err, tt.want)
				}
			}
		}},
		{"PruneDeletesTheOldestEvents", func(t *testing.T, s storage.Store) {
			evs := appendEvents(t, s, 1200) // more than one batch of a driver
			cut := evs[1100].At
			n, err := s.PruneAudit(ctx, cut)
			if err != nil || n != 1100 {
				t.Fatalf("prune before event 1100 deleted %d, %v; want 1100", n, err)
			}
			got, total, err := s.ListAudit(ctx, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := auditIDs(evs[1100:])
			slices.Reverse(want)
			if total != 100 || !slices.Equal(auditIDs(got), want) {
				t.Fatalf("after the prune, list audit gave %d events (total %d), want ids %v..%v (total 100)", len(got), total, want[0], want[len(want)-1])
			}
			if page, _, err := s.ListAudit(ctx, 99, 5); err != nil || len(page) != 1 || page[0].ID != evs[1100].ID || page[0].Event != evs[1100].Event {
				t.Fatalf("last page after the prune = %+v, %v; want event %d", page, err, evs[1100].ID)
			}
			if n, err := s.PruneAudit(ctx, cut); err != nil || n != 0 {
				t.Fatalf("second prune deleted %d, %v; want 0", n, err)
			}
			more := appendEvents(t, s, 2)
			if more[0].ID <= evs[len(evs)-1].ID || more[1].ID != more[0].ID+1 {
				t.Fatalf("ids after a prune: %v after %d", auditIDs(more), evs[len(evs)-1].ID)
			}
			if got, total, err := s.ListAudit(ctx, 0, 1); err != nil || total != 102 || got[0].ID != more[1].ID {
				t.Fatalf("newest after the prune = %v (total %d), %v", auditIDs(got), total, err)
			}
			// Everything goes; then an event older than the cut that comes
			// after a newer one stays, as the newer one stops the prune.
			if n, err := s.PruneAudit(ctx, cut.Add(time.Hour)); err != nil || n != 102 {
				t.Fatalf("prune of every event deleted %d, %v; want 102", n, err)
			}
			newer := &shared.AuditEvent{At: cut.Add(2 * time.Hour), Event: "newer"}
			older := &shared.AuditEvent{At: cut, Event: "older"}
			for _, ev := range []*shared.AuditEvent{newer, older} {
				if err := s.AppendAudit(ctx, ev); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := s.PruneAudit(ctx, cut.Add(time.Hour)); err != nil || n != 0 {
				t.Fatalf("prune behind a newer event deleted %d, %v; want 0", n, err)
			}
			if got, total, err := s.ListAudit(ctx, 0, 0); err != nil || total != 2 || len(got) != 2 || got[0].ID != older.ID {
				t.Fatalf("after the last prune: %v (total %d), %v", auditIDs(got), total, err)
			}
		}},
		{"KeepsEveryField", func(t *testing.T, s storage.Store) {
			at := time.Date(2025, 6, 7, 8, 9, 10, 123456789, time.UTC)
			ev := &shared.AuditEvent{
				At: at, Actor: "ann", ActorType: "user", Event: "space.start", Details: "started space dev",
				Location: "eu", Properties: map[string]string{"space_id": "s1", "ip": "127.0.0.1", "": "empty key"},
			}
			if err := s.AppendAudit(ctx, ev); err != nil {
				t.Fatal(err)
			}
			ev.Properties["space_id"] = "changed by the caller"
			got, _, err := s.ListAudit(ctx, 0, 1)
			if err != nil || len(got) != 1 {
				t.Fatalf("list audit: %v, %v", got, err)
			}
			g := got[0]
			if g.ID != ev.ID || !g.At.Equal(at) || g.Actor != "ann" || g.ActorType != "user" || g.Event != "space.start" ||
				g.Details != ev.Details || g.Location != "eu" || len(g.Properties) != 3 ||
				g.Properties["space_id"] != "s1" || g.Properties["ip"] != "127.0.0.1" || g.Properties[""] != "empty key" {
				t.Fatalf("stored event is %+v, want %+v with space_id s1", g, ev)
			}
		}},
	}
}

// parallel runs fn(worker) in n goroutines and waits for them.
func parallel(n int, fn func(worker int)) {
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() { fn(w) })
	}
	wg.Wait()
}

func concurrencyTests() []test {
	one := func(fn func(*testing.T, []storage.Store)) func(*testing.T, storage.Store) {
		return func(t *testing.T, s storage.Store) { fn(t, []storage.Store{s}) }
	}
	return []test{
		{"ParallelPutsGetDistinctContiguousRevisions", one(parallelPuts)},
		{"CompareAndSetLosesNoUpdate", one(compareAndSet)},
		{"ParallelClaimsOfOneKeyHaveOneWinner", one(parallelClaims)},
		{"FeedReaderNeverSeesAGap", one(feedReader)},
	}
}

// The concurrency checks run their workers on stores that share one backend;
// worker w uses stores[w % len(stores)]. Run passes one store, RunShared two.

func parallelPuts(t *testing.T, stores []storage.Store) {
	const workers, each = 8, 50
	ctx := context.Background()
	base := mustHead(t, stores[0]).Revision
	revs := make([][]int64, workers)
	errs := make(chan error, workers)
	parallel(workers, func(w int) {
		s := stores[w%len(stores)]
		for i := range each {
			u := newUser(fmt.Sprintf("u%02d-%02d", w, i), fmt.Sprintf("user%d-%d", w, i))
			if err := s.Put(ctx, u); err != nil {
				errs <- fmt.Errorf("worker %d put %d: %w", w, i, err)
				return
			}
			revs[w] = append(revs[w], u.Revision)
		}
	})
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all := slices.Concat(revs...)
	slices.Sort(all)
	for i, r := range all {
		if r != base+int64(i)+1 {
			t.Fatalf("revision #%d is %d, want %d: revisions are not distinct and contiguous", i, r, base+int64(i)+1)
		}
	}
	for i, s := range stores {
		if h := mustHead(t, s); h.Revision != base+workers*each {
			t.Fatalf("head revision of store %d is %d, want %d", i, h.Revision, base+workers*each)
		}
		cs := mustChanges(t, s, base, 0)
		seen := map[string]bool{}
		for i, c := range cs {
			if seen[c.ID] {
				t.Fatalf("feed holds %s twice", c.ID)
			}
			seen[c.ID] = true
			if i > 0 && c.Revision <= cs[i-1].Revision {
				t.Fatalf("feed is out of order at %d: %d after %d", i, c.Revision, cs[i-1].Revision)
			}
		}
		if len(seen) != workers*each {
			t.Fatalf("feed of store %d holds %d records, want %d", i, len(seen), workers*each)
		}
	}
}

func compareAndSet(t *testing.T, stores []storage.Store) {
	const workers, each, maxTries = 4, 25, 2000
	ctx := context.Background()
	mustPut(t, stores[0], newGroup("counter", "counter"))
	deadline := time.Now().Add(60 * time.Second)
	errs := make(chan error, workers)
	parallel(workers, func(w int) {
		s := stores[w%len(stores)]
		done, tries := 0, 0
		for done < each {
			if tries++; tries > maxTries || time.Now().After(deadline) {
				errs <- fmt.Errorf("worker %d made %d of %d increments in %d tries", w, done, each, tries)
				return
			}
			g, err := storage.Get[shared.Group](ctx, s, "counter")
			if err != nil {
				errs <- err
				return
			}
			g.MaxSpaces++
			switch err := s.Put(ctx, g); shared.ErrorCode(err) {
			case "":
				done++
			case shared.ECONFLICT:
			default:
				errs <- err
				return
			}
		}
	})
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, s := range stores {
		g, err := storage.Get[shared.Group](ctx, s, "counter")
		if err != nil || g.MaxSpaces != workers*each {
			t.Fatalf("counter read through store %d is %v, %v; want %d: an update was lost", i, g, err, workers*each)
		}
	}
}

func parallelClaims(t *testing.T, stores []storage.Store) {
	const workers = 8
	ctx := context.Background()
	codes := make([]string, workers)
	parallel(workers, func(w int) {
		codes[w] = shared.ErrorCode(stores[w%len(stores)].Put(ctx, newUser(fmt.Sprintf("u%d", w), "ann")))
	})
	won := 0
	for w, code := range codes {
		switch code {
		case "":
			won++
		case shared.ECONFLICT:
		default:
			t.Errorf("worker %d got code %q", w, code)
		}
	}
	if won != 1 {
		t.Fatalf("%d writers got username ann, want exactly 1 (codes %v)", won, codes)
	}
}

// feedReader follows the feed of the first store while workers write
// through all of them.
func feedReader(t *testing.T, stores []storage.Store) {
	const workers, each = 4, 50
	ctx := context.Background()
	reader := stores[0]
	base := mustHead(t, reader).Revision
	var readErr error
	var wg sync.WaitGroup
	writersDone := make(chan struct{})
	wg.Go(func() {
		after, deadline := base, time.Now().Add(60*time.Second)
		for after < base+workers*each && time.Now().Before(deadline) {
			finished := false
			select {
			case <-writersDone:
				finished = true
			default:
			}
			cs, err := reader.Changes(ctx, after, 0)
			if err != nil {
				readErr = err
				return
			}
			if finished && len(cs) == 0 {
				break
			}
			for _, c := range cs {
				if c.Revision != after+1 {
					readErr = fmt.Errorf("reader at revision %d got %d next: the feed showed a later write before an earlier one", after, c.Revision)
					return
				}
				after = c.Revision
			}
		}
		if after != base+workers*each {
			readErr = fmt.Errorf("reader reached revision %d of %d before its deadline", after, base+workers*each)
		}
	})
	parallel(workers, func(w int) {
		s := stores[w%len(stores)]
		for i := range each {
			if err := s.Put(ctx, newGroup(fmt.Sprintf("g%d-%d", w, i), fmt.Sprintf("group%d-%d", w, i))); err != nil {
				t.Errorf("worker %d put %d: %v", w, i, err)
				return
			}
		}
	})
	close(writersDone)
	wg.Wait()
	if readErr != nil {
		t.Fatal(readErr)
	}
}

func closeTests() []test {
	ctx := context.Background()
	return []test{
		{"EveryMethodFailsAfterClose", func(t *testing.T, s storage.Store) {
			g := newGroup("g", "dev")
			mustPut(t, s, g)
			if err := s.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			rev := g.Revision
			wantCode(t, s.Put(ctx, g), shared.EUNAVAILABLE, "put after close")
			if g.Revision != rev {
				t.Errorf("put after close changed the revision from %d to %d", rev, g.Revision)
			}
			_, err := s.Delete(ctx, shared.KindGroup, "g")
			wantCode(t, err, shared.EUNAVAILABLE, "delete after close")
			_, err = s.Get(ctx, shared.KindGroup, "g")
			wantCode(t, err, shared.EUNAVAILABLE, "get after close")
			_, err = s.Lookup(ctx, shared.KindGroup, "name:dev")
			wantCode(t, err, shared.EUNAVAILABLE, "lookup after close")
			_, err = s.List(ctx, shared.KindGroup)
			wantCode(t, err, shared.EUNAVAILABLE, "list after close")
			_, err = s.Changes(ctx, 0, 0)
			wantCode(t, err, shared.EUNAVAILABLE, "changes after close")
			_, err = s.Head(ctx)
			wantCode(t, err, shared.EUNAVAILABLE, "head after close")
			wantCode(t, s.Compact(ctx, 1), shared.EUNAVAILABLE, "compact after close")
			wantCode(t, s.Apply(ctx, storage.Batch{Epoch: "e", Applied: 1}), shared.EUNAVAILABLE, "apply after close")
			_, _, err = s.Replica(ctx)
			wantCode(t, err, shared.EUNAVAILABLE, "replica after close")
			ev := &shared.AuditEvent{Event: "x"}
			wantCode(t, s.AppendAudit(ctx, ev), shared.EUNAVAILABLE, "append audit after close")
			if ev.ID != 0 {
				t.Errorf("append audit after close set id %d", ev.ID)
			}
			_, _, err = s.ListAudit(ctx, 0, 0)
			wantCode(t, err, shared.EUNAVAILABLE, "list audit after close")
			wantCode(t, s.Ping(ctx), shared.EUNAVAILABLE, "ping after close")
		}},
		{"SecondCloseReturnsNil", func(t *testing.T, s storage.Store) {
			if err := s.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("second close: %v", err)
			}
		}},
	}
}
