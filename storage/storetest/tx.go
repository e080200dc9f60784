package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// The checks of Store.Update and storage.Tx.

func updateTests() []test {
	one := func(fn func(*testing.T, []storage.Store)) func(*testing.T, storage.Store) {
		return func(t *testing.T, s storage.Store) { fn(t, []storage.Store{s}) }
	}
	return []test{
		{"WritesCommitTogetherEachAtItsOwnRevisionInTheFeed", txFeed},
		{"AnErrorOfFnWritesNothingAndIsReturned", txFnError},
		{"AFailingPutRollsBackTheWritesBeforeIt", txFailingPut},
		{"AFailedWriteThatFnIgnoresWritesNothingItself", txIgnoredFailure},
		{"AWriteThatFailsAfterItsChecksWritesNothingItself", txHalfDone},
		{"ReadsSeeTheTransactionsOwnWrites", txOwnWrites},
		{"UniqueKeysHoldInsideATransaction", txUniqueInside},
		{"UniqueKeysHoldAgainstCommittedRecords", txUniqueAcross},
		{"WritesFollowTheRulesOfPutAndDelete", txRules},
		{"ARecordIsWrittenAtMostOnce", txTwice},
		{"AReadOnlyTransactionWritesNothing", txReadOnly},
		{"FailsAfterClose", txClosed},
		{"ConcurrentQuotaChecksNeverExceedTheLimit", one(txQuota)},
		{"ConcurrentClaimsOfOneNameHaveOneWinner", one(txClaims)},
	}
}

func update(t testing.TB, s storage.Store, fn func(tx storage.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

// txMust fails the test from inside a transaction's function.
func txMust(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func txFeed(t *testing.T, s storage.Store) {
	ctx := context.Background()
	old := newUser("old", "old")
	g := newGroup("g", "dev")
	mustPut(t, s, old)
	mustPut(t, s, g)
	base := mustHead(t, s).Revision
	a, b := newUser("a", "alice"), newUser("b", "bob")
	g.Name = "ops"
	update(t, s, func(tx storage.Tx) error {
		txMust(t, tx.Put(ctx, a), "put a")
		txMust(t, tx.Put(ctx, b), "put b")
		txMust(t, tx.Delete(ctx, shared.KindUser, "old"), "delete old")
		txMust(t, tx.Put(ctx, g), "put g")
		return nil
	})
	if a.Revision != base+1 || b.Revision != base+2 || g.Revision != base+4 {
		t.Fatalf("revisions after the commit: a %d, b %d, g %d; want %d, %d, %d", a.Revision, b.Revision, g.Revision, base+1, base+2, base+4)
	}
	if h := mustHead(t, s); h.Revision != base+4 {
		t.Fatalf("head revision %d, want %d", h.Revision, base+4)
	}
	cs := mustChanges(t, s, base, 0)
	want := []struct {
		kind    shared.Kind
		id      string
		deleted bool
	}{{shared.KindUser, "a", false}, {shared.KindUser, "b", false}, {shared.KindUser, "old", true}, {shared.KindGroup, "g", false}}
	if len(cs) != len(want) {
		t.Fatalf("changes after %d: %d entries %v, want %d", base, len(cs), cs, len(want))
	}
	for i, w := range want {
		c := cs[i]
		if c.Kind != w.kind || c.ID != w.id || c.Deleted != w.deleted || c.Revision != base+int64(i)+1 {
			t.Fatalf("change %d is %s %s (deleted %v) at %d, want %s %s (deleted %v) at %d", i, c.Kind, c.ID, c.Deleted, c.Revision, w.kind, w.id, w.deleted, base+int64(i)+1)
		}
	}
	if got := mustGetUser(t, s, "a"); got.Revision != a.Revision || got.Username != "alice" {
		t.Fatalf("stored a: %+v", got)
	}
	gg, err := storage.Get[shared.Group](ctx, s, "g")
	if err != nil || gg.Name != "ops" || gg.Revision != base+4 {
		t.Fatalf("stored g: %+v, %v", gg, err)
	}
	var stored shared.Group
	c, _ := s.Get(ctx, shared.KindGroup, "g")
	if err := json.Unmarshal(c.Data, &stored); err != nil || stored.Revision != base+4 {
		t.Fatalf("the JSON of g holds revision %d (%v), want %d", stored.Revision, err, base+4)
	}
}

func txFnError(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustPut(t, s, newUser("old", "old"))
	before := mustHead(t, s)
	boom := errors.New("boom")
	a := newUser("a", "alice")
	err := s.Update(ctx, func(tx storage.Tx) error {
		txMust(t, tx.Put(ctx, a), "put a")
		txMust(t, tx.Delete(ctx, shared.KindUser, "old"), "delete old")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update returned %v, want fn's error", err)
	}
	txNothingWritten(t, s, before)
	if a.Revision != 0 {
		t.Fatalf("a record of a failed transaction has revision %d, want its old 0", a.Revision)
	}
	mustGetUser(t, s, "old")
	if lookupID(t, s, shared.KindUser, "username:alice") != "" {
		t.Fatal("a failed transaction's unique key was claimed")
	}
}

// txNothingWritten fails unless the store is where before says.
func txNothingWritten(t *testing.T, s storage.Store, before storage.Head) {
	t.Helper()
	if h := mustHead(t, s); h != before {
		t.Fatalf("head %+v after a failed transaction, want %+v", h, before)
	}
	if cs := mustChanges(t, s, before.Revision, 0); len(cs) != 0 {
		t.Fatalf("a failed transaction left changes %v", cs)
	}
}

func txFailingPut(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustPut(t, s, newUser("x", "alice"))
	mustPut(t, s, newGroup("g", "dev"))
	before := mustHead(t, s)
	err := s.Update(ctx, func(tx storage.Tx) error {
		txMust(t, tx.Put(ctx, newUser("b", "bob")), "put b")
		txMust(t, tx.Delete(ctx, shared.KindGroup, "g"), "delete g")
		return tx.Put(ctx, newUser("c", "alice"))
	})
	wantCode(t, err, shared.ECONFLICT, "a transaction whose last put takes a held name")
	txNothingWritten(t, s, before)
	if _, err := s.Get(ctx, shared.KindUser, "b"); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Fatalf("user b of a rolled-back transaction: %v", err)
	}
	if _, err := s.Get(ctx, shared.KindGroup, "g"); err != nil {
		t.Fatalf("group g deleted by a rolled-back transaction: %v", err)
	}
}

func txIgnoredFailure(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustPut(t, s, newUser("x", "alice"))
	base := mustHead(t, s).Revision
	update(t, s, func(tx storage.Tx) error {
		wantCode(t, tx.Put(ctx, newUser("c", "alice")), shared.ECONFLICT, "put of a held name")
		wantCode(t, tx.Delete(ctx, shared.KindUser, "nobody"), shared.ENOTFOUND, "delete of a missing record")
		return tx.Put(ctx, newUser("b", "bob"))
	})
	cs := mustChanges(t, s, base, 0)
	if len(cs) != 1 || cs[0].ID != "b" || cs[0].Revision != base+1 {
		t.Fatalf("changes after %d: %v, want user b at %d alone", base, cs, base+1)
	}
}

// unencodable is a user whose JSON cannot be made: a Put of it passes its
// checks and fails when it encodes the record, after a driver may have
// claimed its unique keys.
type unencodable struct{ *shared.User }

func (unencodable) MarshalJSON() ([]byte, error) { return nil, errors.New("no JSON today") }

func txHalfDone(t *testing.T, s storage.Store) {
	ctx := context.Background()
	base := mustHead(t, s).Revision
	update(t, s, func(tx storage.Tx) error {
		txMust(t, tx.Put(ctx, newUser("a", "alice")), "put a")
		bad := unencodable{newUser("bad", "ann")}
		if err := tx.Put(ctx, bad); err == nil {
			t.Fatal("put of a user without JSON succeeded")
		}
		return tx.Put(ctx, newUser("b", "bob"))
	})
	cs := mustChanges(t, s, base, 0)
	if len(cs) != 2 || cs[0].ID != "a" || cs[1].ID != "b" || cs[1].Revision != base+2 {
		t.Fatalf("changes after %d: %v, want users a and b at %d and %d", base, cs, base+1, base+2)
	}
	if id := lookupID(t, s, shared.KindUser, "username:ann"); id != "" {
		t.Fatalf("the name of the user that failed to encode is held by %q", id)
	}
	if err := s.Put(ctx, newUser("ann", "ann")); err != nil {
		t.Fatalf("the name of the user that failed to encode cannot be claimed: %v", err)
	}
}

func txOwnWrites(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustPut(t, s, newUser("old", "olga"))
	mustPut(t, s, newUser("z", "zed"))
	update(t, s, func(tx storage.Tx) error {
		txMust(t, tx.Put(ctx, newUser("a", "alice")), "put a")
		txMust(t, tx.Delete(ctx, shared.KindUser, "old"), "delete old")
		u, err := storage.Lookup[shared.User](ctx, tx, "username:alice")
		if err != nil || u.ID != "a" || u.Username != "alice" {
			t.Fatalf("lookup of a name claimed in the transaction: %+v, %v", u, err)
		}
		if _, err := tx.Get(ctx, shared.KindUser, "old"); shared.ErrorCode(err) != shared.ENOTFOUND {
			t.Fatalf("get of a record deleted in the transaction: %v", err)
		}
		if _, err := tx.Lookup(ctx, shared.KindUser, "username:olga"); shared.ErrorCode(err) != shared.ENOTFOUND {
			t.Fatalf("lookup of the name of a record deleted in the transaction: %v", err)
		}
		cs, err := tx.List(ctx, shared.KindUser)
		txMust(t, err, "list")
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
		if fmt.Sprint(ids) != "[a z]" {
			t.Fatalf("list in the transaction: %v, want [a z]", ids)
		}
		return nil
	})
}

func txUniqueInside(t *testing.T, s storage.Store) {
	ctx := context.Background()
	holder := newUser("h", "held")
	mustPut(t, s, holder)
	renamed := newUser("r", "oldname")
	mustPut(t, s, renamed)
	update(t, s, func(tx storage.Tx) error {
		txMust(t, tx.Put(ctx, newUser("a", "alice")), "put a")
		wantCode(t, tx.Put(ctx, newUser("b", "alice")), shared.ECONFLICT, "second claim of a name in one transaction")
		// A name freed earlier in the transaction may be claimed again.
		txMust(t, tx.Delete(ctx, shared.KindUser, "h"), "delete h")
		txMust(t, tx.Put(ctx, newUser("c", "held")), "claim the name of a deleted record")
		renamed.Username, renamed.Email = "newname", "newname@example.com"
		txMust(t, tx.Put(ctx, renamed), "rename r")
		txMust(t, tx.Put(ctx, newUser("d", "oldname")), "claim the old name of a renamed record")
		return nil
	})
	for key, want := range map[string]string{"username:alice": "a", "username:held": "c", "username:newname": "r", "username:oldname": "d"} {
		if got := lookupID(t, s, shared.KindUser, key); got != want {
			t.Fatalf("%s is held by %q, want %q", key, got, want)
		}
	}
	if _, err := s.Get(ctx, shared.KindUser, "b"); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Fatalf("the refused user b: %v", err)
	}
}

func txUniqueAcross(t *testing.T, s storage.Store) {
	ctx := context.Background()
	update(t, s, func(tx storage.Tx) error { return tx.Put(ctx, newUser("a", "alice")) })
	before := mustHead(t, s)
	err := s.Update(ctx, func(tx storage.Tx) error { return tx.Put(ctx, newUser("b", "alice")) })
	wantCode(t, err, shared.ECONFLICT, "a transaction claiming a name a committed one holds")
	txNothingWritten(t, s, before)
	wantCode(t, s.Put(ctx, newUser("c", "alice")), shared.ECONFLICT, "a put claiming a name a transaction holds")
}

func txRules(t *testing.T, s storage.Store) {
	ctx := context.Background()
	u := newUser("u", "alice")
	mustPut(t, s, u)
	stale := *u
	mustPut(t, s, u)
	update(t, s, func(tx storage.Tx) error {
		wantCode(t, tx.Put(ctx, &stale), shared.ECONFLICT, "put at a stale revision")
		wantCode(t, tx.Put(ctx, newUser("u", "other")), shared.ECONFLICT, "put of a new record whose id exists")
		missing := newUser("m", "m")
		missing.Revision = 3
		wantCode(t, tx.Put(ctx, missing), shared.ENOTFOUND, "put at a revision of a missing record")
		wantCode(t, tx.Put(ctx, newUser("", "noid")), shared.EINVALID, "put without an id")
		wantCode(t, tx.Put(ctx, &bogus{shared.Meta{ID: "x"}}), shared.EINVALID, "put of an unknown kind")
		wantCode(t, tx.Delete(ctx, "bogus", "x"), shared.EINVALID, "delete of an unknown kind")
		_, err := tx.List(ctx, "bogus")
		wantCode(t, err, shared.EINVALID, "list of an unknown kind")
		_, err = tx.Get(ctx, shared.KindUser, "nobody")
		wantCode(t, err, shared.ENOTFOUND, "get of a missing record")
		u.Username = "alicia"
		return tx.Put(ctx, u)
	})
	if got := mustGetUser(t, s, "u"); got.Username != "alicia" || got.Revision != u.Revision {
		t.Fatalf("stored u: %+v, want alicia at %d", got, u.Revision)
	}
}

func txTwice(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustPut(t, s, newUser("old", "olga"))
	update(t, s, func(tx storage.Tx) error {
		a := newUser("a", "alice")
		txMust(t, tx.Put(ctx, a), "put a")
		wantCode(t, tx.Put(ctx, a), shared.EINVALID, "second put of a record")
		wantCode(t, tx.Delete(ctx, shared.KindUser, "a"), shared.EINVALID, "delete of a record put in the transaction")
		txMust(t, tx.Delete(ctx, shared.KindUser, "old"), "delete old")
		wantCode(t, tx.Put(ctx, newUser("old", "olga")), shared.EINVALID, "put of a record deleted in the transaction")
		return nil
	})
}

func txReadOnly(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustPut(t, s, newUser("a", "alice"))
	before := mustHead(t, s)
	var n int
	update(t, s, func(tx storage.Tx) error {
		us, err := storage.List[shared.User](ctx, tx)
		n = len(us)
		return err
	})
	if n != 1 {
		t.Fatalf("a transaction listed %d users, want 1", n)
	}
	if h := mustHead(t, s); h != before {
		t.Fatalf("head %+v after a read-only transaction, want %+v", h, before)
	}
}

func txClosed(t *testing.T, s storage.Store) {
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ran := false
	err := s.Update(context.Background(), func(storage.Tx) error { ran = true; return nil })
	wantCode(t, err, shared.EUNAVAILABLE, "update after close")
	if ran {
		t.Fatal("update ran its function on a closed store")
	}
}

var errQuota = errors.New("quota reached")

// txQuota runs workers that each add spaces for one owner in transactions
// that count the owner's spaces first, as a quota check does, until the
// count reaches the limit. However their transactions interleave, across
// stores too, exactly limit spaces exist at the end.
func txQuota(t *testing.T, stores []storage.Store) {
	const workers, limit, tries = 8, 5, 40
	ctx := context.Background()
	mustPut(t, stores[0], newSpace("other", "someone-else", "x"))
	var made atomic.Int64
	errs := make(chan error, workers)
	parallel(workers, func(w int) {
		s := stores[w%len(stores)]
		for i := range tries {
			sp := newSpace(fmt.Sprintf("s%d-%d", w, i), "owner", fmt.Sprintf("space%d-%d", w, i))
			err := s.Update(ctx, func(tx storage.Tx) error {
				own, err := storage.ListWhere(ctx, tx, func(sp *shared.Space) bool { return sp.UserID == "owner" })
				if err != nil {
					return err
				}
				if len(own) >= limit {
					return errQuota
				}
				runtime.Gosched() // let another transaction count meanwhile
				return tx.Put(ctx, sp)
			})
			switch {
			case errors.Is(err, errQuota):
				return
			case shared.ErrorCode(err) == shared.ECONFLICT:
				continue
			case err != nil:
				errs <- fmt.Errorf("worker %d: %w", w, err)
				return
			}
			made.Add(1)
		}
		errs <- fmt.Errorf("worker %d did not see the quota reached in %d transactions", w, tries)
	})
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, s := range stores {
		own, err := storage.ListWhere(ctx, s, func(sp *shared.Space) bool { return sp.UserID == "owner" })
		if err != nil {
			t.Fatal(err)
		}
		if len(own) != limit {
			t.Fatalf("store %d holds %d spaces of the owner, want the limit %d", i, len(own), limit)
		}
	}
	if made.Load() != limit {
		t.Fatalf("%d transactions reported a space made, want %d", made.Load(), limit)
	}
}

// txClaims runs workers that each claim one name in a transaction that
// looks it up first; exactly one claims it.
func txClaims(t *testing.T, stores []storage.Store) {
	const workers = 8
	ctx := context.Background()
	var won atomic.Int64
	var winner atomic.Value
	errs := make(chan error, workers)
	parallel(workers, func(w int) {
		s := stores[w%len(stores)]
		id := fmt.Sprintf("s%d", w)
		err := s.Update(ctx, func(tx storage.Tx) error {
			_, err := tx.Lookup(ctx, shared.KindSpace, "name:owner//dev")
			if err == nil {
				return errQuota
			}
			if shared.ErrorCode(err) != shared.ENOTFOUND {
				return err
			}
			runtime.Gosched()
			return tx.Put(ctx, newSpace(id, "owner", "dev"))
		})
		switch {
		case err == nil:
			won.Add(1)
			winner.Store(id)
		case errors.Is(err, errQuota), shared.ErrorCode(err) == shared.ECONFLICT:
		default:
			errs <- fmt.Errorf("worker %d: %w", w, err)
		}
	})
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if won.Load() != 1 {
		t.Fatalf("%d transactions claimed the name, want 1", won.Load())
	}
	for i, s := range stores {
		if got := lookupID(t, s, shared.KindSpace, "name:owner//dev"); got != winner.Load() {
			t.Fatalf("store %d: the name is held by %q, want the winner %q", i, got, winner.Load())
		}
		spaces, err := s.List(ctx, shared.KindSpace)
		if err != nil || len(spaces) != 1 {
			t.Fatalf("store %d holds %d spaces (%v), want 1", i, len(spaces), err)
		}
	}
}
