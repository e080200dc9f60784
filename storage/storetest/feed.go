package storetest

import (
	"context"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// history writes: x (never touched again), a, b, c, then updates a and
// deletes b. It returns the revision each step got.
type history struct {
	base                         int64 // head before the first write
	x, a, b, c, aUpdate, bDelete int64
}

func writeHistory(t *testing.T, s storage.Store) history {
	t.Helper()
	h := history{base: mustHead(t, s).Revision}
	x, a, b, c := newGroup("x", "x"), newGroup("a", "a"), newGroup("b", "b"), newGroup("c", "c")
	for _, g := range []*shared.Group{x, a, b, c} {
		mustPut(t, s, g)
	}
	h.x, h.a, h.b, h.c = x.Revision, a.Revision, b.Revision, c.Revision
	a.MaxSpaces = 9
	mustPut(t, s, a)
	h.aUpdate = a.Revision
	h.bDelete = mustDelete(t, s, shared.KindGroup, "b")
	return h
}

// wantFeed checks that cs names exactly the ids at the revisions given, in
// that order ("-" marks a tombstone).
func wantFeed(t *testing.T, cs []shared.Change, want ...any) {
	t.Helper()
	if len(cs) != len(want)/2 {
		t.Fatalf("feed is %s, want %v", describe(cs), want)
	}
	for i := range cs {
		id, rev := want[2*i].(string), want[2*i+1].(int64)
		deleted := false
		if id[0] == '-' {
			id, deleted = id[1:], true
		}
		if cs[i].ID != id || cs[i].Revision != rev || cs[i].Deleted != deleted {
			t.Fatalf("feed is %s, want %v", describe(cs), want)
		}
	}
}

func changesTests() []test {
	ctx := context.Background()
	return []test{
		{"HoldLatestStateOfEachRecordInRevisionOrder", func(t *testing.T, s storage.Store) {
			h := writeHistory(t, s)
			cs := mustChanges(t, s, h.base, 0)
			wantFeed(t, cs, "x", h.x, "c", h.c, "a", h.aUpdate, "-b", h.bDelete)
			for _, c := range cs {
				if c.Deleted {
					continue
				}
				got, err := s.Get(ctx, c.Kind, c.ID)
				if err != nil || !sameChange(got, c) {
					t.Fatalf("feed entry %s/%s@%d differs from get: %s@%d, %v", c.Kind, c.ID, c.Revision, got.ID, got.Revision, err)
				}
			}
			g, err := storage.Decode[shared.Group](cs[2])
			if err != nil || g.MaxSpaces != 9 || g.Revision != h.aUpdate {
				t.Fatalf("feed entry of a decodes to %+v, %v; want the update at %d", g, err, h.aUpdate)
			}
		}},
		{"TombstoneNamesTheDeletedRecord", func(t *testing.T, s storage.Store) {
			h := writeHistory(t, s)
			cs := mustChanges(t, s, h.c, 0)
			last := cs[len(cs)-1]
			if !last.Deleted || last.Kind != shared.KindGroup || last.ID != "b" || last.Revision != h.bDelete || len(last.Data) != 0 {
				t.Fatalf("last entry is %+v, want a tombstone of group b at %d without data", last, h.bDelete)
			}
		}},
		{"LimitKeepsTheOldest", func(t *testing.T, s storage.Store) {
			h := writeHistory(t, s)
			wantFeed(t, mustChanges(t, s, h.base, 2), "x", h.x, "c", h.c)
			wantFeed(t, mustChanges(t, s, h.base, 1), "x", h.x)
		}},
		{"AfterSkipsWhatWasSeen", func(t *testing.T, s storage.Store) {
			h := writeHistory(t, s)
			wantFeed(t, mustChanges(t, s, h.c, 2), "a", h.aUpdate, "-b", h.bDelete)
			wantFeed(t, mustChanges(t, s, h.aUpdate, 2), "-b", h.bDelete)
			// a revision that no longer is in the feed works as well
			wantFeed(t, mustChanges(t, s, h.a, 0), "c", h.c, "a", h.aUpdate, "-b", h.bDelete)
		}},
		{"PagingVisitsEveryEntryOnce", func(t *testing.T, s storage.Store) {
			h := writeHistory(t, s)
			all := mustChanges(t, s, h.base, 0)
			var paged []shared.Change
			after := h.base
			for range 10 {
				page := mustChanges(t, s, after, 2)
				if len(page) == 0 {
					break
				}
				paged = append(paged, page...)
				after = page[len(page)-1].Revision
			}
			if !sameChanges(paged, all) {
				t.Fatalf("paging by 2 gave %s, want %s", describe(paged), describe(all))
			}
		}},
		{"NegativeLimitMeansAll", func(t *testing.T, s storage.Store) {
			h := writeHistory(t, s)
			if cs := mustChanges(t, s, h.base, -1); len(cs) != 4 {
				t.Fatalf("limit -1 gave %s, want all 4 entries", describe(cs))
			}
		}},
		{"AfterHeadIsEmpty", func(t *testing.T, s storage.Store) {
			writeHistory(t, s)
			h := mustHead(t, s)
			if cs := mustChanges(t, s, h.Revision, 0); len(cs) != 0 {
				t.Fatalf("changes after head: %s, want none", describe(cs))
			}
		}},
		{"RecreatedRecordAppearsOnce", func(t *testing.T, s storage.Store) {
			base := mustHead(t, s).Revision
			mustPut(t, s, newGroup("g", "dev"))
			mustDelete(t, s, shared.KindGroup, "g")
			g := newGroup("g", "dev")
			mustPut(t, s, g)
			wantFeed(t, mustChanges(t, s, base, 0), "g", g.Revision)
		}},
		{"DeletedRecordAppearsOnceAsTombstone", func(t *testing.T, s storage.Store) {
			base := mustHead(t, s).Revision
			g := newGroup("g", "dev")
			mustPut(t, s, g)
			mustPut(t, s, g)
			rev := mustDelete(t, s, shared.KindGroup, "g")
			wantFeed(t, mustChanges(t, s, base, 0), "-g", rev)
		}},
	}
}

func headTests(open func(t *testing.T) storage.Store) []test {
	ctx := context.Background()
	return []test{
		{"NewStoreIsEmpty", func(t *testing.T, s storage.Store) {
			h := mustHead(t, s)
			if h.Epoch == "" || h.Revision != 0 || h.Horizon != 0 {
				t.Fatalf("new store has head %+v, want an epoch, revision 0 and horizon 0", h)
			}
			if cs := mustChanges(t, s, 0, 0); len(cs) != 0 {
				t.Fatalf("new store has feed %s", describe(cs))
			}
			for _, k := range shared.Kinds {
				if cs, err := s.List(ctx, k); err != nil || len(cs) != 0 {
					t.Fatalf("new store lists %s: %s, %v", k, describe(cs), err)
				}
			}
			if evs, total, err := s.ListAudit(ctx, 0, 0); err != nil || total != 0 || len(evs) != 0 {
				t.Fatalf("new store has audit %v (total %d), %v", evs, total, err)
			}
		}},
		{"EpochIsStable", func(t *testing.T, s storage.Store) {
			epoch := mustHead(t, s).Epoch
			writeHistory(t, s)
			if err := s.Compact(ctx, 2); err != nil {
				t.Fatal(err)
			}
			mustApply(t, s, storage.Batch{Epoch: "other", Applied: 3})
			if got := mustHead(t, s).Epoch; got != epoch {
				t.Fatalf("epoch changed from %q to %q", epoch, got)
			}
		}},
		{"NewStoreHasNewEpoch", func(t *testing.T, s storage.Store) {
			first := mustHead(t, s).Epoch
			if second := mustHead(t, open(t)).Epoch; second == first {
				t.Fatalf("two new stores share epoch %q", first)
			}
		}},
		{"RevisionGrowsByOnePerWrite", func(t *testing.T, s storage.Store) {
			rev := mustHead(t, s).Revision
			step := func(what string, grows bool, err error) {
				t.Helper()
				if grows && err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if grows {
					rev++
				}
				if got := mustHead(t, s).Revision; got != rev {
					t.Fatalf("head revision is %d after %s, want %d", got, what, rev)
				}
			}
			g := newGroup("g", "dev")
			step("create", true, s.Put(ctx, g))
			step("update", true, s.Put(ctx, g))
			step("failed create", false, s.Put(ctx, newGroup("g", "ops")))
			step("create of another", true, s.Put(ctx, newGroup("h", "ops")))
			_, err := s.Delete(ctx, shared.KindGroup, "g")
			step("delete", true, err)
			_, err = s.Delete(ctx, shared.KindGroup, "g")
			step("failed delete", false, err)
			step("apply", false, s.Apply(ctx, storage.Batch{Epoch: "e", Changes: []shared.Change{change(t, newRole("r", "x"), 1000)}, Applied: 1000}))
			step("audit", false, s.AppendAudit(ctx, &shared.AuditEvent{Event: "x"}))
			step("compact", false, s.Compact(ctx, rev))
		}},
	}
}

func compactTests() []test {
	ctx := context.Background()
	compacted := func(t *testing.T, s storage.Store) (history, int64) {
		h := writeHistory(t, s)
		cDelete := mustDelete(t, s, shared.KindGroup, "c")
		if err := s.Compact(ctx, h.bDelete); err != nil {
			t.Fatalf("compact up to %d: %v", h.bDelete, err)
		}
		return h, cDelete
	}
	return []test{
		{"DropsTombstonesAtOrBelow", func(t *testing.T, s storage.Store) {
			h, cDelete := compacted(t, s)
			wantFeed(t, mustChanges(t, s, h.base, 0), "x", h.x, "a", h.aUpdate, "-c", cDelete)
		}},
		{"RaisesTheHorizon", func(t *testing.T, s storage.Store) {
			h, _ := compacted(t, s)
			if hd := mustHead(t, s); hd.Horizon != h.bDelete {
				t.Fatalf("horizon is %d after compacting up to %d", hd.Horizon, h.bDelete)
			}
		}},
		{"LeavesRecordsAlone", func(t *testing.T, s storage.Store) {
			writeHistory(t, s)
			before := takeSnapshot(t, s, "group/name:a", "group/name:x")
			if err := s.Compact(ctx, before.head.Revision); err != nil {
				t.Fatal(err)
			}
			after := takeSnapshot(t, s, "group/name:a", "group/name:x")
			for _, k := range shared.Kinds {
				if !sameChanges(after.records[k], before.records[k]) {
					t.Fatalf("compact changed %s records from %s to %s", k, describe(before.records[k]), describe(after.records[k]))
				}
			}
			if after.lookups["group/name:a"] != "a" || after.lookups["group/name:x"] != "x" {
				t.Fatalf("compact changed unique keys: %v", after.lookups)
			}
			if after.head.Revision != before.head.Revision {
				t.Fatalf("compact moved the revision from %d to %d", before.head.Revision, after.head.Revision)
			}
		}},
		{"HorizonNeverGoesDown", func(t *testing.T, s storage.Store) {
			h, _ := compacted(t, s)
			if err := s.Compact(ctx, h.x); err != nil {
				t.Fatal(err)
			}
			if hd := mustHead(t, s); hd.Horizon != h.bDelete {
				t.Fatalf("horizon went from %d to %d", h.bDelete, hd.Horizon)
			}
		}},
		{"HorizonStopsAtHead", func(t *testing.T, s storage.Store) {
			writeHistory(t, s)
			head := mustHead(t, s).Revision
			if err := s.Compact(ctx, head+100); err != nil {
				t.Fatal(err)
			}
			hd := mustHead(t, s)
			if hd.Horizon != head || hd.Revision != head {
				t.Fatalf("after compacting beyond head %d: %+v, want horizon and revision %d", head, hd, head)
			}
			if cs := mustChanges(t, s, 0, 0); len(cs) != 3 {
				t.Fatalf("feed after full compaction is %s, want the 3 live records", describe(cs))
			}
			g := newGroup("new", "new")
			mustPut(t, s, g)
			if g.Revision != head+1 {
				t.Fatalf("first write after compaction got revision %d, want %d", g.Revision, head+1)
			}
		}},
	}
}
