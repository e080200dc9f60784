package badger

import (
	"context"
	"encoding/json"
	"errors"

	bdb "github.com/dgraph-io/badger/v4"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/internal/driver"
)

// Put writes rec at the next revision; see storage.Store.
func (s *Store) Put(ctx context.Context, rec shared.Record) error {
	kind, id := rec.RecordKind(), rec.RecordID()
	if err := s.life.Enter(kind); err != nil {
		return err
	}
	defer s.life.Exit()
	if id == "" {
		return shared.Errorf(shared.EINVALID, "%s has no id", kind)
	}
	keys := rec.UniqueKeys()
	if err := s.room(); err != nil {
		return err
	}

	s.wmu.Lock()
	defer s.wmu.Unlock()
	txn := s.db.NewTransaction(true)
	defer txn.Discard()

	old, exists, err := getEntry(txn, kind, id)
	if err != nil {
		return s.fail(err, "put %s %s", kind, id)
	}
	if err := driver.CheckRevision(kind, id, rec.GetRevision(), old.rev, exists); err != nil {
		return err
	}
	for _, k := range keys {
		holder, err := getBytes(txn, uniqKey(kind, k))
		switch {
		case errors.Is(err, bdb.ErrKeyNotFound):
		case err != nil:
			return s.fail(err, "put %s %s", kind, id)
		case string(holder) != id:
			return shared.Errorf(shared.ECONFLICT, "another %s already has %s", kind, k)
		}
	}
	rev, err := getInt(txn, keyRevision)
	if err != nil {
		return s.fail(err, "put %s %s", kind, id)
	}
	rev++

	prev := rec.GetRevision()
	rec.SetRevision(rev)
	data, err := json.Marshal(rec)
	if err != nil {
		rec.SetRevision(prev)
		return shared.Wrap(shared.EINTERNAL, err, "encode %s %s", kind, id)
	}
	err = s.writeRecord(txn, kind, id, old, exists, &entry{rev: rev, feed: rev, keys: keys, data: data})
	if err == nil {
		err = txn.Set(feedKey(rev), feedValue(kind, id, false))
	}
	if err == nil {
		err = txn.Set(keyRevision, encodeInt(rev))
	}
	if err == nil {
		err = txn.Commit()
	}
	if err != nil {
		rec.SetRevision(prev)
		return s.fail(err, "put %s %s", kind, id)
	}
	return nil
}

// writeRecord replaces the stored record of kind and id (old, when exists)
// with e, or removes it when e is nil: it frees the keys old held, takes the
// record's previous entry or tombstone out of the feed, and claims e's keys.
// The caller adds e's own feed entry, if any.
func (s *Store) writeRecord(txn *bdb.Txn, kind shared.Kind, id string, old entry, exists bool, e *entry) error {
	if exists {
		for _, k := range old.keys {
			holder, err := getBytes(txn, uniqKey(kind, k))
			if errors.Is(err, bdb.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if string(holder) == id {
				if err := txn.Delete(uniqKey(kind, k)); err != nil {
					return err
				}
			}
		}
		if old.feed > 0 {
			if err := txn.Delete(feedKey(old.feed)); err != nil {
				return err
			}
		}
	} else {
		b, err := getBytes(txn, tombKey(kind, id))
		switch {
		case errors.Is(err, bdb.ErrKeyNotFound):
		case err != nil:
			return err
		default:
			rev, err := decodeInt(b)
			if err != nil {
				return err
			}
			if err := txn.Delete(feedKey(rev)); err != nil {
				return err
			}
			if err := txn.Delete(tombKey(kind, id)); err != nil {
				return err
			}
		}
	}
	if e == nil {
		if !exists {
			return nil
		}
		return txn.Delete(recKey(kind, id))
	}
	for _, k := range e.keys {
		if err := txn.Set(uniqKey(kind, k), []byte(id)); err != nil {
			return err
		}
	}
	return txn.Set(recKey(kind, id), e.encode())
}

// Delete removes a record and leaves a tombstone; see storage.Store.
func (s *Store) Delete(ctx context.Context, kind shared.Kind, id string) (int64, error) {
	if err := s.life.Enter(kind); err != nil {
		return 0, err
	}
	defer s.life.Exit()
	if err := s.room(); err != nil {
		return 0, err
	}

	s.wmu.Lock()
	defer s.wmu.Unlock()
	txn := s.db.NewTransaction(true)
	defer txn.Discard()

	old, exists, err := getEntry(txn, kind, id)
	if err != nil {
		return 0, s.fail(err, "delete %s %s", kind, id)
	}
	if !exists {
		return 0, shared.Errorf(shared.ENOTFOUND, "%s %s not found", kind, id)
	}
	rev, err := getInt(txn, keyRevision)
	if err != nil {
		return 0, s.fail(err, "delete %s %s", kind, id)
	}
	rev++
	err = s.writeRecord(txn, kind, id, old, true, nil)
	if err == nil {
		err = txn.Set(feedKey(rev), feedValue(kind, id, true))
	}
	if err == nil {
		err = txn.Set(tombKey(kind, id), encodeInt(rev))
	}
	if err == nil {
		err = txn.Set(keyRevision, encodeInt(rev))
	}
	if err == nil {
		err = txn.Commit()
	}
	if err != nil {
		return 0, s.fail(err, "delete %s %s", kind, id)
	}
	return rev, nil
}

// Get returns a record; see storage.Store.
func (s *Store) Get(ctx context.Context, kind shared.Kind, id string) (shared.Change, error) {
	if err := s.life.Enter(kind); err != nil {
		return shared.Change{}, err
	}
	defer s.life.Exit()
	var c shared.Change
	err := s.view(func(txn *bdb.Txn) error {
		e, ok, err := getEntry(txn, kind, id)
		if err != nil {
			return err
		}
		if !ok {
			return shared.Errorf(shared.ENOTFOUND, "%s %s not found", kind, id)
		}
		c = shared.Change{Kind: kind, ID: id, Revision: e.rev, Data: e.data}
		return nil
	})
	return c, s.fail(err, "get %s %s", kind, id)
}

// Lookup returns the record holding a unique key; see storage.Store.
func (s *Store) Lookup(ctx context.Context, kind shared.Kind, key string) (shared.Change, error) {
	if err := s.life.Enter(kind); err != nil {
		return shared.Change{}, err
	}
	defer s.life.Exit()
	var c shared.Change
	err := s.view(func(txn *bdb.Txn) error {
		holder, err := getBytes(txn, uniqKey(kind, key))
		if errors.Is(err, bdb.ErrKeyNotFound) {
			return shared.Errorf(shared.ENOTFOUND, "no %s with %s", kind, key)
		}
		if err != nil {
			return err
		}
		id := string(holder)
		e, ok, err := getEntry(txn, kind, id)
		if err != nil {
			return err
		}
		if !ok {
			return shared.Errorf(shared.ENOTFOUND, "no %s with %s", kind, key)
		}
		c = shared.Change{Kind: kind, ID: id, Revision: e.rev, Data: e.data}
		return nil
	})
	return c, s.fail(err, "lookup %s %s", kind, key)
}

// List returns every record of kind ordered by id; see storage.Store.
func (s *Store) List(ctx context.Context, kind shared.Kind) ([]shared.Change, error) {
	if err := s.life.Enter(kind); err != nil {
		return nil, err
	}
	defer s.life.Exit()
	out := []shared.Change{}
	err := s.view(func(txn *bdb.Txn) error {
		prefix := recPrefix(kind)
		it := txn.NewIterator(bdb.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: prefix})
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			id := string(item.Key()[len(prefix):])
			b, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			e, err := decodeEntry(b)
			if err != nil {
				return err
			}
			out = append(out, shared.Change{Kind: kind, ID: id, Revision: e.rev, Data: e.data})
		}
		return nil
	})
	if err != nil {
		return nil, s.fail(err, "list %s", kind)
	}
	return out, nil
}
