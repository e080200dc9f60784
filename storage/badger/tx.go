package badger

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	bdb "github.com/dgraph-io/badger/v4"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/internal/driver"
)

// Update runs fn in a transaction; see storage.Store and storage.Tx.
//
// One process at a time opens a Badger directory, and every write of the
// store holds wmu. Update holds it too, from before fn's first read until
// the commit, and runs fn in one Badger read-write transaction: nothing else
// writes meanwhile, so what fn read still holds when it commits and fn runs
// once. The transaction reads its own writes (Badger's iterators include
// them), and each write takes the next revision as it is made.
func (s *Store) Update(ctx context.Context, fn func(tx storage.Tx) error) error {
	if err := s.life.Enter(""); err != nil {
		return err
	}
	defer s.life.Exit()

	s.wmu.Lock()
	defer s.wmu.Unlock()
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	rev, err := getInt(txn, keyRevision)
	if err != nil {
		return s.fail(err, "begin a transaction")
	}
	t := &tx{s: s, txn: txn, rev: rev}
	if err := fn(t); err != nil {
		return err
	}
	if t.broken != nil {
		return s.fail(t.broken, "write a transaction")
	}
	if t.rev == rev {
		return nil
	}
	// The writes wait in txn until the commit: refuse them there below the
	// watermark (space.go), as every other write is refused.
	if err := s.room(); err != nil {
		return err
	}
	err = txn.Set(keyRevision, encodeInt(t.rev))
	if err == nil {
		err = txn.Commit()
	}
	if err != nil {
		return s.fail(err, "commit a transaction of %d writes", t.written.Count())
	}
	t.written.Commit()
	return nil
}

// tx is a transaction of Update.
type tx struct {
	s       *Store
	txn     *bdb.Txn
	rev     int64 // the revision of the transaction's latest write
	written driver.Written
	broken  error // a failure of Badger in a write, which fails the commit
}

// fail keeps a failure of Badger in a write, after which the transaction
// may hold half the write, so that it does not commit.
func (t *tx) fail(err error, format string, args ...any) error {
	var se *shared.Error
	if !errors.As(err, &se) && t.broken == nil {
		t.broken = err
	}
	return t.s.fail(err, format, args...)
}

func (t *tx) Get(ctx context.Context, kind shared.Kind, id string) (shared.Change, error) {
	if !kind.Valid() {
		return shared.Change{}, shared.Errorf(shared.EINVALID, "unknown record kind %q", kind)
	}
	e, ok, err := getEntry(t.txn, kind, id)
	if err != nil {
		return shared.Change{}, t.s.fail(err, "get %s %s", kind, id)
	}
	if !ok {
		return shared.Change{}, shared.Errorf(shared.ENOTFOUND, "%s %s not found", kind, id)
	}
	return shared.Change{Kind: kind, ID: id, Revision: e.rev, Data: e.data}, nil
}

func (t *tx) Lookup(ctx context.Context, kind shared.Kind, key string) (shared.Change, error) {
	if !kind.Valid() {
		return shared.Change{}, shared.Errorf(shared.EINVALID, "unknown record kind %q", kind)
	}
	holder, err := getBytes(t.txn, uniqKey(kind, key))
	if errors.Is(err, bdb.ErrKeyNotFound) {
		return shared.Change{}, shared.Errorf(shared.ENOTFOUND, "no %s with %s", kind, key)
	}
	if err != nil {
		return shared.Change{}, t.s.fail(err, "lookup %s %s", kind, key)
	}
	c, err := t.Get(ctx, kind, string(holder))
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		return shared.Change{}, shared.Errorf(shared.ENOTFOUND, "no %s with %s", kind, key)
	}
	return c, err
}

func (t *tx) List(ctx context.Context, kind shared.Kind) ([]shared.Change, error) {
	if !kind.Valid() {
		return nil, shared.Errorf(shared.EINVALID, "unknown record kind %q", kind)
	}
	out := []shared.Change{}
	prefix := recPrefix(kind)
	it := t.txn.NewIterator(bdb.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: prefix})
	defer it.Close()
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		id := string(item.Key()[len(prefix):])
		b, err := item.ValueCopy(nil)
		if err != nil {
			return nil, t.s.fail(err, "list %s", kind)
		}
		e, err := decodeEntry(b)
		if err != nil {
			return nil, t.s.fail(err, "list %s", kind)
		}
		out = append(out, shared.Change{Kind: kind, ID: id, Revision: e.rev, Data: slices.Clip(e.data)})
	}
	return out, nil
}

// Put writes rec at the transaction's next revision, as Store.Put does.
func (t *tx) Put(ctx context.Context, rec shared.Record) error {
	kind, id := rec.RecordKind(), rec.RecordID()
	if !kind.Valid() {
		return shared.Errorf(shared.EINVALID, "unknown record kind %q", kind)
	}
	if id == "" {
		return shared.Errorf(shared.EINVALID, "%s has no id", kind)
	}
	if err := t.written.Check(kind, id); err != nil {
		return err
	}
	keys := rec.UniqueKeys()
	old, exists, err := getEntry(t.txn, kind, id)
	if err != nil {
		return t.s.fail(err, "put %s %s", kind, id)
	}
	if err := driver.CheckRevision(kind, id, rec.GetRevision(), old.rev, exists); err != nil {
		return err
	}
	for _, k := range keys {
		holder, err := getBytes(t.txn, uniqKey(kind, k))
		switch {
		case errors.Is(err, bdb.ErrKeyNotFound):
		case err != nil:
			return t.s.fail(err, "put %s %s", kind, id)
		case string(holder) != id:
			return shared.Errorf(shared.ECONFLICT, "another %s already has %s", kind, k)
		}
	}
	rev := t.rev + 1
	prev := rec.GetRevision()
	rec.SetRevision(rev)
	data, err := json.Marshal(rec)
	rec.SetRevision(prev)
	if err != nil {
		return shared.Wrap(shared.EINTERNAL, err, "encode %s %s", kind, id)
	}
	err = t.s.writeRecord(t.txn, kind, id, old, exists, &entry{rev: rev, feed: rev, keys: keys, data: data})
	if err == nil {
		err = t.txn.Set(feedKey(rev), feedValue(kind, id, false))
	}
	if err != nil {
		return t.fail(err, "put %s %s", kind, id)
	}
	t.rev = rev
	t.written.Add(kind, id, rec, rev)
	return nil
}

// Delete removes a record at the transaction's next revision, as
// Store.Delete does.
func (t *tx) Delete(ctx context.Context, kind shared.Kind, id string) error {
	if !kind.Valid() {
		return shared.Errorf(shared.EINVALID, "unknown record kind %q", kind)
	}
	if err := t.written.Check(kind, id); err != nil {
		return err
	}
	old, exists, err := getEntry(t.txn, kind, id)
	if err != nil {
		return t.s.fail(err, "delete %s %s", kind, id)
	}
	if !exists {
		return shared.Errorf(shared.ENOTFOUND, "%s %s not found", kind, id)
	}
	rev := t.rev + 1
	err = t.s.writeRecord(t.txn, kind, id, old, true, nil)
	if err == nil {
		err = t.txn.Set(feedKey(rev), feedValue(kind, id, true))
	}
	if err == nil {
		err = t.txn.Set(tombKey(kind, id), encodeInt(rev))
	}
	if err != nil {
		return t.fail(err, "delete %s %s", kind, id)
	}
	t.rev = rev
	t.written.Add(kind, id, nil, rev)
	return nil
}
