package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// RunPersistence checks that a store keeps everything across a restart. open
// opens the store kept in dir (an empty dir gives a new store) and need not
// close it: the suite closes every store it opens before it opens the next,
// and may close one twice.
func RunPersistence(t *testing.T, open func(t *testing.T, dir string) storage.Store) {
	ctx := context.Background()
	keys := []string{
		"user/username:ann", "user/username:bob", "user/email:ann@example.com",
		"group/name:dev", "template/name:base", "template/name:old",
	}

	// fill writes one of everything a store keeps.
	fill := func(t *testing.T, s storage.Store) {
		t.Helper()
		ann, bob := newUser("u1", "ann"), newUser("u2", "bob")
		mustPut(t, s, ann)
		mustPut(t, s, bob)
		mustPut(t, s, newGroup("g1", "dev"))
		mustPut(t, s, &shared.Token{Meta: shared.Meta{ID: "t1"}, UserID: "u1", Name: "ci"})
		ann.MaxSpaces = 2
		mustPut(t, s, ann)
		mustDelete(t, s, shared.KindUser, "u2")
		mustPut(t, s, newRole("r1", "ops"))
		gone := mustDelete(t, s, shared.KindRole, "r1")
		if err := s.Compact(ctx, gone-1); err != nil {
			t.Fatalf("compact: %v", err)
		}
		mustApply(t, s, storage.Batch{Epoch: "origin-epoch", Applied: 77, Changes: []shared.Change{
			change(t, newTemplate("tp1", "old"), 70), change(t, newTemplate("tp1", "base"), 76), tombstone(shared.KindTemplate, "tp2", 77),
		}})
		for i, name := range []string{"login", "space.create"} {
			ev := &shared.AuditEvent{
				At:    time.Date(2025, 2, 3, 4, 5, 6, i, time.UTC),
				Actor: "ann", ActorType: "user", Event: name, Location: "eu",
				Properties: map[string]string{"n": name},
			}
			if err := s.AppendAudit(ctx, ev); err != nil {
				t.Fatalf("append audit: %v", err)
			}
		}
	}

	reopen := func(t *testing.T, dir string, s storage.Store) storage.Store {
		t.Helper()
		if err := s.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		return open(t, dir)
	}

	listAudit := func(t *testing.T, s storage.Store) ([]shared.AuditEvent, int) {
		t.Helper()
		evs, total, err := s.ListAudit(ctx, 0, 0)
		if err != nil {
			t.Fatalf("list audit: %v", err)
		}
		return evs, total
	}

	t.Run("EverythingSurvivesReopen", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		fill(t, s)
		before := takeSnapshot(t, s, keys...)
		auditBefore, _ := listAudit(t, s)
		s = reopen(t, dir, s)
		wantUnchanged(t, s, before, keys...)
		if before.head.Horizon == 0 || before.applied != 77 || before.repEpoch != "origin-epoch" {
			t.Fatalf("test setup wrote head %+v replica (%q, %d)", before.head, before.repEpoch, before.applied)
		}
		auditAfter, total := listAudit(t, s)
		if total != 2 || len(auditAfter) != 2 {
			t.Fatalf("audit after reopen has %d events (total %d), want 2", len(auditAfter), total)
		}
		for i := range auditAfter {
			a, b := auditAfter[i], auditBefore[i]
			if a.ID != b.ID || !a.At.Equal(b.At) || a.Event != b.Event || a.Properties["n"] != b.Properties["n"] {
				t.Fatalf("audit event %d was %+v, is %+v after reopen", i, b, a)
			}
		}
	})

	t.Run("WritesContinueWhereTheyStopped", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		fill(t, s)
		head := mustHead(t, s)
		last, _ := listAudit(t, s)
		s = reopen(t, dir, s)

		wantCode(t, s.Put(ctx, newUser("u9", "ann")), shared.ECONFLICT, "create with a username taken before the reopen")
		ann := mustGetUser(t, s, "u1")
		ann.Timezone = "UTC"
		mustPut(t, s, ann)
		if ann.Revision != head.Revision+1 {
			t.Fatalf("first write after reopen got revision %d, want %d", ann.Revision, head.Revision+1)
		}
		ev := &shared.AuditEvent{Event: "after"}
		if err := s.AppendAudit(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if ev.ID <= last[0].ID {
			t.Fatalf("audit id after reopen is %d, not above %d", ev.ID, last[0].ID)
		}
		if err := s.Compact(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if h := mustHead(t, s); h.Horizon != head.Horizon {
			t.Fatalf("horizon went from %d to %d after reopen", head.Horizon, h.Horizon)
		}
	})

	t.Run("EpochIsKeptAcrossReopens", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		epoch := mustHead(t, s).Epoch
		for i := range 3 {
			s = reopen(t, dir, s)
			if got := mustHead(t, s).Epoch; got != epoch {
				t.Fatalf("epoch after reopen %d is %q, want %q", i+1, got, epoch)
			}
		}
		other := open(t, t.TempDir())
		if got := mustHead(t, other).Epoch; got == epoch {
			t.Fatalf("a store in another dir has the same epoch %q", got)
		}
	})

	t.Run("FeedSurvivesReopen", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		h := writeHistory(t, s)
		want := mustChanges(t, s, h.base, 0)
		s = reopen(t, dir, s)
		got := mustChanges(t, s, h.base, 0)
		if !sameChanges(got, want) {
			t.Fatalf("feed after reopen is %s, want %s", describe(got), describe(want))
		}
		if !slices.IsSortedFunc(got, func(a, b shared.Change) int { return int(a.Revision - b.Revision) }) {
			t.Fatalf("feed after reopen is out of order: %s", describe(got))
		}
	})
}

// Named adapts RunPersistence to a driver whose stores live in named places
// on a server (databases, key prefixes) rather than in directories: each
// directory of the suite stands for the place that newName makes when the
// directory is first seen, and open opens the store in a place.
func Named(newName func(t *testing.T) string, open func(t *testing.T, name string) storage.Store) func(t *testing.T, dir string) storage.Store {
	var mu sync.Mutex
	names := map[string]string{}
	return func(t *testing.T, dir string) storage.Store {
		mu.Lock()
		name, ok := names[dir]
		if !ok {
			name = newName(t)
			names[dir] = name
		}
		mu.Unlock()
		return open(t, name)
	}
}
