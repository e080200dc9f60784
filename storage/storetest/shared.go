package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// RunShared checks two stores that share one backend, as several origin
// servers share one MySQL database or one Redis: each sees the other's
// writes at once, and revisions, unique keys, compare-and-set and the feed
// hold across them as they do within one store. open must return two stores
// on a new, empty backend, opened separately (two connection pools, as two
// processes would have), and close both when t ends; the suite closes some
// itself first.
func RunShared(t *testing.T, open func(t *testing.T) (storage.Store, storage.Store)) {
	both := func(fn func(*testing.T, []storage.Store)) func(*testing.T, storage.Store, storage.Store) {
		return func(t *testing.T, a, b storage.Store) { fn(t, []storage.Store{a, b}) }
	}
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, a, b storage.Store)
	}{
		{"OneEpochAndHead", sharedHead},
		{"WritesThroughOneAreReadThroughTheOther", sharedReads},
		{"UniqueKeysHoldAcrossStores", sharedKeys},
		{"StaleRevisionFromTheOtherStoreConflicts", sharedStale},
		{"ApplyThroughOneIsSeenByTheOther", sharedApply},
		{"AuditIDsAreDistinctAcrossStores", sharedAudit},
		{"ClosingOneLeavesTheOtherWorking", sharedClose},
		{"ParallelPutsGetDistinctContiguousRevisions", both(parallelPuts)},
		{"CompareAndSetLosesNoUpdate", both(compareAndSet)},
		{"ParallelClaimsOfOneKeyHaveOneWinner", both(parallelClaims)},
		{"FeedReaderNeverSeesAGap", both(feedReader)},
		{"ConcurrentQuotaChecksNeverExceedTheLimit", both(txQuota)},
		{"ConcurrentTransactionsClaimingOneNameHaveOneWinner", both(txClaims)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := open(t)
			if a == nil || b == nil {
				t.Fatal("open returned a nil store")
			}
			tt.fn(t, a, b)
		})
	}
}

func sharedHead(t *testing.T, a, b storage.Store) {
	if ea, eb := mustHead(t, a).Epoch, mustHead(t, b).Epoch; ea != eb || ea == "" {
		t.Fatalf("stores on one backend have epochs %q and %q, want one", ea, eb)
	}
	mustPut(t, a, newGroup("g", "dev"))
	mustDelete(t, a, shared.KindGroup, "g")
	if err := a.Compact(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if ha, hb := mustHead(t, a), mustHead(t, b); ha != hb || ha.Revision != 2 || ha.Horizon != 1 {
		t.Fatalf("heads are %+v and %+v, want both at revision 2 with horizon 1", ha, hb)
	}
}

func sharedReads(t *testing.T, a, b storage.Store) {
	ctx := context.Background()
	mustPut(t, a, newUser("u1", "ann"))
	u := mustGetUser(t, b, "u1")
	if id := lookupID(t, b, shared.KindUser, "username:ann"); id != "u1" {
		t.Fatalf("lookup through the other store gives %q, want u1", id)
	}
	u.MaxSpaces = 7
	mustPut(t, b, u)
	if got := mustGetUser(t, a, "u1"); got.MaxSpaces != 7 || got.Revision != u.Revision {
		t.Fatalf("update through the other store reads back as %+v, want max_spaces 7 at %d", got, u.Revision)
	}
	rev := mustDelete(t, a, shared.KindUser, "u1")
	_, err := b.Get(ctx, shared.KindUser, "u1")
	wantCode(t, err, shared.ENOTFOUND, "get through one store of a record deleted through the other")
	if cs := mustChanges(t, b, 0, 0); len(cs) != 1 || !cs[0].Deleted || cs[0].Revision != rev {
		t.Fatalf("feed through the other store is %s, want the tombstone at %d", describe(cs), rev)
	}
}

func sharedKeys(t *testing.T, a, b storage.Store) {
	mustPut(t, a, newUser("u1", "ann"))
	wantCode(t, b.Put(context.Background(), newUser("u2", "ann")), shared.ECONFLICT, "create through one store with a username taken through the other")
	wantCode(t, b.Put(context.Background(), newUser("u1", "bob")), shared.ECONFLICT, "create through one store of an id created through the other")
}

func sharedStale(t *testing.T, a, b storage.Store) {
	mustPut(t, a, newGroup("g", "dev"))
	ga, gb := mustGetGroup(t, a, "g"), mustGetGroup(t, b, "g")
	ga.MaxSpaces = 1
	mustPut(t, a, ga)
	gb.MaxSpaces = 2
	wantCode(t, b.Put(context.Background(), gb), shared.ECONFLICT, "put through one store of a revision the other store replaced")
	if got := mustGetGroup(t, b, "g"); got.MaxSpaces != 1 {
		t.Fatalf("group has max_spaces %d, want the first writer's 1", got.MaxSpaces)
	}
}

func sharedApply(t *testing.T, a, b storage.Store) {
	mustApply(t, a, storage.Batch{Epoch: "E1", Applied: 9, Changes: []shared.Change{change(t, newGroup("g", "dev"), 9)}})
	epoch, applied, err := b.Replica(context.Background())
	if err != nil || epoch != "E1" || applied != 9 {
		t.Fatalf("replica through the other store is (%q, %d), %v; want (E1, 9)", epoch, applied, err)
	}
	if id := lookupID(t, b, shared.KindGroup, "name:dev"); id != "g" {
		t.Fatalf("name:dev through the other store belongs to %q, want g", id)
	}
}

func sharedAudit(t *testing.T, a, b storage.Store) {
	const workers, each = 4, 10
	ctx := context.Background()
	stores := []storage.Store{a, b}
	ids := make([][]int64, workers)
	errs := make(chan error, workers)
	parallel(workers, func(w int) {
		for i := range each {
			ev := &shared.AuditEvent{At: time.Now(), Event: fmt.Sprintf("event %d-%d", w, i)}
			if err := stores[w%2].AppendAudit(ctx, ev); err != nil {
				errs <- err
				return
			}
			ids[w] = append(ids[w], ev.ID)
		}
	})
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all := slices.Concat(ids...)
	slices.Sort(all)
	if len(slices.Compact(all)) != workers*each {
		t.Fatalf("audit ids %v are not distinct", all)
	}
	for i, s := range stores {
		evs, total, err := s.ListAudit(ctx, 0, 0)
		if err != nil || total != workers*each || len(evs) != total {
			t.Fatalf("audit through store %d has %d events (total %d), %v; want %d", i, len(evs), total, err, workers*each)
		}
	}
}

func sharedClose(t *testing.T, a, b storage.Store) {
	mustPut(t, a, newGroup("g", "dev"))
	if err := a.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := b.Ping(context.Background()); err != nil {
		t.Fatalf("ping of the other store: %v", err)
	}
	g := mustGetGroup(t, b, "g")
	mustPut(t, b, g)
}

func mustGetGroup(t testing.TB, s storage.Store, id string) *shared.Group {
	t.Helper()
	g, err := storage.Get[shared.Group](context.Background(), s, id)
	if err != nil {
		t.Fatalf("get group %s: %v", id, err)
	}
	return g
}
