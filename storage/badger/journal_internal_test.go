package badger

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	bdb "github.com/dgraph-io/badger/v4"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/internal/driver"
)

// journalBatch is a batch of n users of about 2 KB each, bigger than one
// transaction for n = 3,000.
func journalBatch(t *testing.T, n int) storage.Batch {
	t.Helper()
	b := storage.Batch{Epoch: "E1", Applied: int64(n)}
	for i := range n {
		id := fmt.Sprintf("u-%d", i)
		data, err := json.Marshal(&shared.User{Meta: shared.Meta{ID: id, Revision: int64(i + 1)}, Username: id, Email: id + "@example.com", SSHPublicKey: strings.Repeat("k", 2000)})
		if err != nil {
			t.Fatal(err)
		}
		b.Changes = append(b.Changes, shared.Change{Kind: shared.KindUser, ID: id, Revision: int64(i + 1), Data: data})
	}
	return b
}

func openAt(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// journalKeys counts the keys of the journal, its head included.
func journalKeys(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	err := s.db.View(func(txn *bdb.Txn) error {
		if _, err := txn.Get(keyJournal); err == nil {
			n++
		}
		it := txn.NewIterator(bdb.IteratorOptions{Prefix: prefixJournal})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A crash after the journal of a big batch was complete, before or during
// its replay: Open finishes the batch.
func TestOpenFinishesACompleteJournal(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	b := journalBatch(t, 3000)
	if err := s.writeJournal(b); err != nil {
		t.Fatal(err)
	}
	// Half of it replayed, as a crash during the replay leaves it: in
	// pieces that each fit a transaction.
	for i := 0; i < 1500; i += 250 {
		part := storage.Batch{Epoch: "E0", Applied: 1500, Changes: b.Changes[i : i+250]}
		keys, err := driver.CheckBatch(part.Changes)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.applyOnce(part, keys); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	s = openAt(t, dir)
	defer s.Close()
	ctx := context.Background()
	if cs, err := s.List(ctx, shared.KindUser); err != nil || len(cs) != 3000 {
		t.Fatalf("after reopening: %d users, %v; want the batch's 3000", len(cs), err)
	}
	if epoch, applied, err := s.Replica(ctx); err != nil || epoch != "E1" || applied != 3000 {
		t.Fatalf("replica after reopening is (%q, %d), %v; want (E1, 3000)", epoch, applied, err)
	}
	if c, err := s.Lookup(ctx, shared.KindUser, "username:u-2999"); err != nil || c.ID != "u-2999" {
		t.Fatalf("lookup of the batch's last user: %+v, %v", c, err)
	}
	if n := journalKeys(t, s); n != 0 {
		t.Fatalf("%d keys of the journal are left", n)
	}
}

// A crash while the journal was written: Open drops it, and the store is
// as it was before the batch.
func TestOpenDropsAnIncompleteJournal(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	ctx := context.Background()
	if err := s.Apply(ctx, storage.Batch{Epoch: "E0", Applied: 7}); err != nil {
		t.Fatal(err)
	}
	if err := s.writeJournal(journalBatch(t, 3000)); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(txn *bdb.Txn) error { return txn.Delete(keyJournal) }); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openAt(t, dir)
	defer s.Close()
	if cs, err := s.List(ctx, shared.KindUser); err != nil || len(cs) != 0 {
		t.Fatalf("after reopening: %d users, %v; want none", len(cs), err)
	}
	if epoch, applied, err := s.Replica(ctx); err != nil || epoch != "E0" || applied != 7 {
		t.Fatalf("replica after reopening is (%q, %d), %v; want (E0, 7)", epoch, applied, err)
	}
	if n := journalKeys(t, s); n != 0 {
		t.Fatalf("%d keys of the journal are left", n)
	}
}

// A replay that failed in this process (a write error) leaves its journal:
// the next Apply finishes it before its own batch.
func TestApplyFinishesAJournalLeftBehind(t *testing.T) {
	s := openAt(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	if err := s.writeJournal(journalBatch(t, 3000)); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(&shared.Group{Meta: shared.Meta{ID: "g", Revision: 3001}, Name: "dev"})
	if err := s.Apply(ctx, storage.Batch{Epoch: "E1", Applied: 3001, Changes: []shared.Change{{Kind: shared.KindGroup, ID: "g", Revision: 3001, Data: data}}}); err != nil {
		t.Fatal(err)
	}
	if cs, err := s.List(ctx, shared.KindUser); err != nil || len(cs) != 3000 {
		t.Fatalf("%d users, %v; want the journal's 3000", len(cs), err)
	}
	if _, err := s.Get(ctx, shared.KindGroup, "g"); err != nil {
		t.Fatalf("the group of the later batch: %v", err)
	}
	if epoch, applied, err := s.Replica(ctx); err != nil || epoch != "E1" || applied != 3001 {
		t.Fatalf("replica is (%q, %d), %v; want (E1, 3001)", epoch, applied, err)
	}
	if n := journalKeys(t, s); n != 0 {
		t.Fatalf("%d keys of the journal are left", n)
	}
}
