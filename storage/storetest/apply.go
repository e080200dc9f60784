package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

func applyTests() []test {
	ctx := context.Background()
	tests := []test{
		{"WritesRecordsAtTheirOwnRevisions", func(t *testing.T, s storage.Store) {
			u, g := change(t, newUser("u1", "ann"), 10), change(t, newGroup("g1", "dev"), 11)
			mustApply(t, s, storage.Batch{Epoch: "E1", Changes: []shared.Change{u, g}, Applied: 11})
			for _, want := range []shared.Change{u, g} {
				got, err := s.Get(ctx, want.Kind, want.ID)
				if err != nil || !sameChange(got, want) {
					t.Fatalf("get %s/%s after apply: %s@%d %s, %v; want revision %d %s", want.Kind, want.ID, got.ID, got.Revision, got.Data, err, want.Revision, want.Data)
				}
			}
			if id := lookupID(t, s, shared.KindUser, "username:ann"); id != "u1" {
				t.Fatalf("username:ann belongs to %q after apply, want u1", id)
			}
			typed, err := storage.Get[shared.Group](ctx, s, "g1")
			if err != nil || typed.Revision != 11 || typed.Name != "dev" {
				t.Fatalf("typed get of an applied group: %+v, %v", typed, err)
			}
		}},
		{"AppliesChangesInOrder", func(t *testing.T, s storage.Store) {
			mustApply(t, s, storage.Batch{Epoch: "E1", Applied: 14, Changes: []shared.Change{
				change(t, newGroup("a", "dev"), 10),
				change(t, newGroup("b", "ops"), 11),
				change(t, newGroup("a", "devs"), 12),
				tombstone(shared.KindGroup, "b", 13),
				change(t, newGroup("c", "ops"), 14),
			}})
			cs, err := s.List(ctx, shared.KindGroup)
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != 2 || cs[0].ID != "a" || cs[0].Revision != 12 || cs[1].ID != "c" || cs[1].Revision != 14 {
				t.Fatalf("groups after apply: %s, want a@12 c@14", describe(cs))
			}
			for key, want := range map[string]string{"name:dev": "", "name:devs": "a", "name:ops": "c"} {
				if id := lookupID(t, s, shared.KindGroup, key); id != want {
					t.Errorf("lookup %s gives %q, want %q", key, id, want)
				}
			}
		}},
		{"TombstoneDeletesRecordAndFreesItsKeys", func(t *testing.T, s storage.Store) {
			mustApply(t, s, storage.Batch{Epoch: "E1", Applied: 10, Changes: []shared.Change{change(t, newUser("u1", "ann"), 10)}})
			mustApply(t, s, storage.Batch{Epoch: "E1", Applied: 11, Changes: []shared.Change{tombstone(shared.KindUser, "u1", 11)}})
			_, err := s.Get(ctx, shared.KindUser, "u1")
			wantCode(t, err, shared.ENOTFOUND, "get of a record deleted by apply")
			if id := lookupID(t, s, shared.KindUser, "username:ann"); id != "" {
				t.Fatalf("username:ann still belongs to %q", id)
			}
		}},
		{"TombstoneOfMissingRecordIsHarmless", func(t *testing.T, s storage.Store) {
			mustApply(t, s, storage.Batch{Epoch: "E1", Applied: 5, Changes: []shared.Change{tombstone(shared.KindUser, "nobody", 5)}})
			if epoch, applied, err := s.Replica(ctx); err != nil || epoch != "E1" || applied != 5 {
				t.Fatalf("replica is (%q, %d), %v; want (E1, 5)", epoch, applied, err)
			}
		}},
		{"RecordsReplicaState", func(t *testing.T, s storage.Store) {
			if epoch, applied, err := s.Replica(ctx); err != nil || epoch != "" || applied != 0 {
				t.Fatalf("replica before any apply is (%q, %d), %v; want (\"\", 0)", epoch, applied, err)
			}
			mustApply(t, s, storage.Batch{Epoch: "E1", Applied: 11, Changes: []shared.Change{change(t, newGroup("g", "dev"), 11)}})
			if epoch, applied, err := s.Replica(ctx); err != nil || epoch != "E1" || applied != 11 {
				t.Fatalf("replica is (%q, %d), %v; want (E1, 11)", epoch, applied, err)
			}
			mustApply(t, s, storage.Batch{Epoch: "E2", Applied: 3})
			if epoch, applied, err := s.Replica(ctx); err != nil || epoch != "E2" || applied != 3 {
				t.Fatalf("replica after an empty batch is (%q, %d), %v; want (E2, 3)", epoch, applied, err)
			}
		}},
		{"DoesNotMoveHeadOrFeed", func(t *testing.T, s storage.Store) {
			mustPut(t, s, newRole("local", "local"))
			before := mustHead(t, s)
			feed := mustChanges(t, s, 0, 0)
			mustApply(t, s, storage.Batch{Epoch: "E1", Applied: 500, Changes: []shared.Change{
				change(t, newGroup("g", "dev"), 499), change(t, newUser("u", "ann"), 500), tombstone(shared.KindTemplate, "t", 498),
			}})
			if after := mustHead(t, s); after != before {
				t.Fatalf("head went from %+v to %+v", before, after)
			}
			if after := mustChanges(t, s, 0, 0); !sameChanges(after, feed) {
				t.Fatalf("feed went from %s to %s", describe(feed), describe(after))
			}
			g := newGroup("local", "local")
			mustPut(t, s, g)
			if g.Revision != before.Revision+1 {
				t.Fatalf("local write after apply got revision %d, want %d", g.Revision, before.Revision+1)
			}
		}},
		{"TakesTouchedRecordsOutOfTheFeed", func(t *testing.T, s storage.Store) {
			for _, g := range []*shared.Group{newGroup("a", "a"), newGroup("b", "b"), newGroup("c", "c"), newGroup("keep", "keep")} {
				mustPut(t, s, g)
			}
			mustDelete(t, s, shared.KindGroup, "b")
			mustApply(t, s, storage.Batch{Epoch: "E1", Applied: 102, Changes: []shared.Change{
				change(t, newGroup("a", "a"), 100), change(t, newGroup("b", "b"), 101), tombstone(shared.KindGroup, "c", 102),
			}})
			cs := mustChanges(t, s, 0, 0)
			if len(cs) != 1 || cs[0].ID != "keep" {
				t.Fatalf("feed after apply is %s, want only keep", describe(cs))
			}
		}},
		{"UniqueKeysFollowTheLastWriter", func(t *testing.T, s storage.Store) {
			mustApply(t, s, storage.Batch{Epoch: "E1", Applied: 10, Changes: []shared.Change{change(t, newGroup("g1", "dev"), 10)}})
			mustApply(t, s, storage.Batch{Epoch: "E1", Applied: 11, Changes: []shared.Change{change(t, newGroup("g2", "dev"), 11)}})
			if id := lookupID(t, s, shared.KindGroup, "name:dev"); id != "g2" {
				t.Fatalf("name:dev belongs to %q, want the last writer g2", id)
			}
			for _, id := range []string{"g1", "g2"} {
				if _, err := s.Get(ctx, shared.KindGroup, id); err != nil {
					t.Fatalf("group %s after both claimed name:dev: %v", id, err)
				}
			}
			// g1 moving away must not free the key that g2 now holds.
			mustApply(t, s, storage.Batch{Epoch: "E1", Applied: 12, Changes: []shared.Change{change(t, newGroup("g1", "ops"), 12)}})
			if id := lookupID(t, s, shared.KindGroup, "name:dev"); id != "g2" {
				t.Fatalf("name:dev belongs to %q after g1 was renamed, want g2", id)
			}
			if id := lookupID(t, s, shared.KindGroup, "name:ops"); id != "g1" {
				t.Fatalf("name:ops belongs to %q, want g1", id)
			}
			mustApply(t, s, storage.Batch{Epoch: "E1", Applied: 13, Changes: []shared.Change{tombstone(shared.KindGroup, "g2", 13)}})
			if id := lookupID(t, s, shared.KindGroup, "name:dev"); id != "" {
				t.Fatalf("name:dev belongs to %q after its holder was deleted", id)
			}
		}},
		{"UniqueKeysFollowTheLastWriterWithinABatch", func(t *testing.T, s storage.Store) {
			mustApply(t, s, storage.Batch{Epoch: "E1", Applied: 11, Changes: []shared.Change{
				change(t, newGroup("g1", "dev"), 10), change(t, newGroup("g2", "dev"), 11),
			}})
			if id := lookupID(t, s, shared.KindGroup, "name:dev"); id != "g2" {
				t.Fatalf("name:dev belongs to %q, want the last writer g2", id)
			}
		}},
		{"ReplacedRecordFreesItsOldKeys", func(t *testing.T, s storage.Store) {
			mustApply(t, s, storage.Batch{Epoch: "E1", Applied: 10, Changes: []shared.Change{change(t, newGroup("g1", "dev"), 10)}})
			mustApply(t, s, storage.Batch{Epoch: "E1", Applied: 11, Changes: []shared.Change{change(t, newGroup("g1", "ops"), 11)}})
			if id := lookupID(t, s, shared.KindGroup, "name:dev"); id != "" {
				t.Fatalf("name:dev still belongs to %q", id)
			}
			if id := lookupID(t, s, shared.KindGroup, "name:ops"); id != "g1" {
				t.Fatalf("name:ops belongs to %q, want g1", id)
			}
		}},
	}

	// A bad change anywhere in a batch fails all of it.
	userData := func(id, name string) json.RawMessage {
		b, _ := json.Marshal(newUser(id, name))
		return b
	}
	for _, bad := range []struct {
		name   string
		change shared.Change
	}{
		{"UnknownKind", shared.Change{Kind: "bogus", ID: "x", Revision: 22, Data: json.RawMessage(`{"id":"x"}`)}},
		{"UnknownKindTombstone", shared.Change{Kind: "bogus", ID: "x", Revision: 22, Deleted: true}},
		{"MissingID", shared.Change{Kind: shared.KindUser, Revision: 22, Data: userData("", "zed")}},
		{"MissingIDTombstone", shared.Change{Kind: shared.KindUser, Revision: 22, Deleted: true}},
		{"BadJSON", shared.Change{Kind: shared.KindUser, ID: "x", Revision: 22, Data: json.RawMessage(`{"id":"x",`)}},
		{"WrongJSONType", shared.Change{Kind: shared.KindUser, ID: "x", Revision: 22, Data: json.RawMessage(`["x"]`)}},
		{"NoData", shared.Change{Kind: shared.KindUser, ID: "x", Revision: 22}},
		{"IDMismatch", shared.Change{Kind: shared.KindUser, ID: "x", Revision: 22, Data: userData("y", "zed")}},
	} {
		tests = append(tests, test{bad.name + "FailsTheWholeBatch", func(t *testing.T, s storage.Store) {
			mustPut(t, s, newRole("local", "local"))
			mustApply(t, s, storage.Batch{Epoch: "E1", Applied: 11, Changes: []shared.Change{
				change(t, newUser("u1", "ann"), 10), change(t, newGroup("g1", "dev"), 11),
			}})
			keys := []string{"user/username:ann", "user/username:anne", "user/username:bob", "group/name:dev"}
			before := takeSnapshot(t, s, keys...)
			err := s.Apply(ctx, storage.Batch{Epoch: "E2", Applied: 30, Changes: []shared.Change{
				change(t, newUser("u1", "anne"), 20),
				change(t, newUser("u2", "bob"), 21),
				tombstone(shared.KindGroup, "g1", 21),
				bad.change,
				change(t, newUser("u3", "cid"), 23),
			}})
			wantCode(t, err, shared.EINVALID, "apply of a batch with a bad change")
			wantUnchanged(t, s, before, keys...)
		}})
	}
	tests = append(tests, test{"AppliesABatchBiggerThanATransaction", bigBatch}, test{"ReadersSeeABigBatchWholeOrNotAtAll", bigBatchReaders})
	return tests
}

// bigUsers returns n changes of users with about 2 KB of data each, the
// ids and names "<prefix>-N", at revisions from rev on. 3,000 of them are a
// batch of a leaf's first snapshot of a large origin: 6 MB, more than some
// stores hold in one transaction.
func bigUsers(t *testing.T, prefix string, n int, rev int64) []shared.Change {
	t.Helper()
	cs := make([]shared.Change, n)
	for i := range cs {
		u := newUser(fmt.Sprintf("%s-%d", prefix, i), fmt.Sprintf("%s-%d", prefix, i))
		u.SSHPublicKey = strings.Repeat("k", 2000)
		cs[i] = change(t, u, rev+int64(i))
	}
	return cs
}

// usersNamed counts the users whose id starts with prefix.
func usersNamed(t *testing.T, s storage.Store, prefix string) int {
	t.Helper()
	cs, err := s.List(context.Background(), shared.KindUser)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cs {
		if strings.HasPrefix(c.ID, prefix) {
			n++
		}
	}
	return n
}

func bigBatch(t *testing.T, s storage.Store) {
	ctx := context.Background()
	first := bigUsers(t, "a", 3000, 1)
	mustApply(t, s, storage.Batch{Epoch: "E1", Applied: 3000, Changes: first})
	if n := usersNamed(t, s, "a-"); n != 3000 {
		t.Fatalf("%d users after applying 3,000 in one batch", n)
	}
	if epoch, applied, err := s.Replica(ctx); err != nil || epoch != "E1" || applied != 3000 {
		t.Fatalf("replica is (%q, %d), %v; want (E1, 3000)", epoch, applied, err)
	}
	// The next: every user of the first deleted, and as many others.
	var next []shared.Change
	for i, c := range first {
		next = append(next, tombstone(shared.KindUser, c.ID, int64(3001+i)))
	}
	next = append(next, bigUsers(t, "b", 3000, 6001)...)
	mustApply(t, s, storage.Batch{Epoch: "E2", Applied: 9000, Changes: next})
	if a, b := usersNamed(t, s, "a-"), usersNamed(t, s, "b-"); a != 0 || b != 3000 {
		t.Fatalf("after the second batch: %d of the first users and %d of the second; want 0 and 3000", a, b)
	}
	if id := lookupID(t, s, shared.KindUser, "username:b-2999"); id != "b-2999" {
		t.Fatalf("username:b-2999 belongs to %q", id)
	}
	if id := lookupID(t, s, shared.KindUser, "username:a-0"); id != "" {
		t.Fatalf("username:a-0 still belongs to %q", id)
	}
	if epoch, applied, err := s.Replica(ctx); err != nil || epoch != "E2" || applied != 9000 {
		t.Fatalf("replica is (%q, %d), %v; want (E2, 9000)", epoch, applied, err)
	}
	mustPut(t, s, newGroup("local", "local"))
}

func bigBatchReaders(t *testing.T, s storage.Store) {
	mustApply(t, s, storage.Batch{Epoch: "E1", Applied: 1, Changes: []shared.Change{change(t, newGroup("g", "dev"), 1)}})
	done := make(chan error, 1)
	go func() {
		done <- s.Apply(context.Background(), storage.Batch{Epoch: "E1", Applied: 3001, Changes: bigUsers(t, "a", 3000, 2)})
	}()
	seen := map[int]bool{}
	for applied := false; !applied; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			applied = true
		default:
		}
		seen[usersNamed(t, s, "a-")] = true
	}
	for n := range seen {
		if n != 0 && n != 3000 {
			t.Fatalf("a reader saw %d of the batch's 3,000 users", n)
		}
	}
	if !seen[3000] {
		t.Fatal("no reader saw the batch once it was applied")
	}
}
