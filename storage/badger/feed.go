package badger

import (
	"context"
	"errors"
	"fmt"

	bdb "github.com/dgraph-io/badger/v4"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/internal/driver"
)

// Changes returns the feed after a revision; see storage.Store.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]shared.Change, error) {
	if err := s.life.Enter(""); err != nil {
		return nil, err
	}
	defer s.life.Exit()
	out := []shared.Change{}
	err := s.view(func(txn *bdb.Txn) error {
		it := txn.NewIterator(bdb.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: prefixFeed})
		defer it.Close()
		for it.Seek(feedKey(max(after+1, 0))); it.ValidForPrefix(prefixFeed); it.Next() {
			if limit > 0 && len(out) >= limit {
				break
			}
			item := it.Item()
			rev, err := parseFeedKey(item.Key())
			if err != nil {
				return err
			}
			var kind shared.Kind
			var id string
			var deleted bool
			err = item.Value(func(v []byte) error {
				kind, id, deleted, err = parseFeedValue(v)
				return err
			})
			if err != nil {
				return err
			}
			if deleted {
				out = append(out, shared.Change{Kind: kind, ID: id, Revision: rev, Deleted: true})
				continue
			}
			e, ok, err := getEntry(txn, kind, id)
			if err != nil {
				return err
			}
			if !ok || e.feed != rev {
				s.log.Warn("feed entry without its record", "revision", rev, "kind", kind, "id", id)
				continue
			}
			out = append(out, shared.Change{Kind: kind, ID: id, Revision: e.rev, Data: e.data})
		}
		return nil
	})
	if err != nil {
		return nil, s.fail(err, "read the changes after %d", after)
	}
	return out, nil
}

func parseFeedKey(k []byte) (int64, error) {
	digits := k[len(prefixFeed):]
	if len(digits) != 20 {
		return 0, errors.New("corrupt feed key")
	}
	var n int64
	for _, d := range digits {
		if d < '0' || d > '9' {
			return 0, errors.New("corrupt feed key")
		}
		n = n*10 + int64(d-'0')
	}
	return n, nil
}

// Head returns the position of the feed; see storage.Store.
func (s *Store) Head(ctx context.Context) (storage.Head, error) {
	if err := s.life.Enter(""); err != nil {
		return storage.Head{}, err
	}
	defer s.life.Exit()
	h := storage.Head{Epoch: s.epoch}
	err := s.view(func(txn *bdb.Txn) error {
		var err error
		if h.Revision, err = getInt(txn, keyRevision); err != nil {
			return err
		}
		h.Horizon, err = getInt(txn, keyHorizon)
		return err
	})
	return h, s.fail(err, "read the head")
}

// compactChunk is how many tombstones one transaction of Compact drops.
const compactChunk = 10000

// Compact drops old tombstones; see storage.Store. The horizon is raised in
// the first transaction, so a crash halfway leaves a horizon that is already
// high enough for the tombstones that are gone.
func (s *Store) Compact(ctx context.Context, upTo int64) error {
	if err := s.life.Enter(""); err != nil {
		return err
	}
	defer s.life.Exit()
	if err := s.room(); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()

	err := s.db.Update(func(txn *bdb.Txn) error {
		rev, err := getInt(txn, keyRevision)
		if err != nil {
			return err
		}
		horizon, err := getInt(txn, keyHorizon)
		if err != nil {
			return err
		}
		upTo = min(upTo, rev)
		if upTo <= horizon {
			upTo = horizon
			return nil
		}
		return txn.Set(keyHorizon, encodeInt(upTo))
	})
	if err != nil {
		return s.fail(err, "compact up to %d", upTo)
	}
	// Drop tombstones from the start of the feed: one a crash left behind
	// below the horizon goes now.
	from := int64(0)
	for {
		var done bool
		err := s.db.Update(func(txn *bdb.Txn) error {
			it := txn.NewIterator(bdb.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: prefixFeed})
			defer it.Close()
			dropped := 0
			for it.Seek(feedKey(from)); ; it.Next() {
				if !it.ValidForPrefix(prefixFeed) {
					done = true
					return nil
				}
				item := it.Item()
				rev, err := parseFeedKey(item.Key())
				if err != nil {
					return err
				}
				if rev > upTo {
					done = true
					return nil
				}
				if dropped == compactChunk {
					from = rev
					return nil
				}
				v, err := item.ValueCopy(nil)
				if err != nil {
					return err
				}
				kind, id, deleted, err := parseFeedValue(v)
				if err != nil {
					return err
				}
				if !deleted {
					continue
				}
				if err := txn.Delete(item.KeyCopy(nil)); err != nil {
					return err
				}
				if err := txn.Delete(tombKey(kind, id)); err != nil {
					return err
				}
				dropped++
			}
		})
		if err != nil {
			return s.fail(err, "compact up to %d", upTo)
		}
		if done {
			return nil
		}
	}
}

// Apply writes a batch from an origin atomically; see storage.Store. A
// batch that fits one Badger transaction is written in one; a bigger one
// goes through a journal (journal.go).
func (s *Store) Apply(ctx context.Context, b storage.Batch) error {
	if err := s.life.Enter(""); err != nil {
		return err
	}
	defer s.life.Exit()
	keys, err := driver.CheckBatch(b.Changes)
	if err != nil {
		return err
	}
	if err := s.roomFor(3 * batchBytes(b)); err != nil {
		return err
	}

	s.wmu.Lock()
	defer s.wmu.Unlock()
	// A journal left by a replay that failed comes first.
	if _, err := s.finishJournal(); err != nil {
		return err
	}
	err = s.applyOnce(b, keys)
	if errors.Is(err, bdb.ErrTxnTooBig) {
		err = s.applyJournaled(b, keys)
	}
	return s.fail(err, "apply a batch of %d changes", len(b.Changes))
}

// batchBytes is about what the changes of b hold.
func batchBytes(b storage.Batch) int64 {
	var n int64
	for _, c := range b.Changes {
		n += int64(len(c.Data) + len(c.ID) + len(c.Kind) + 16)
	}
	return n
}

// applyOnce writes a batch in one transaction.
func (s *Store) applyOnce(b storage.Batch, keys [][]string) error {
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	for i, c := range b.Changes {
		if err := s.applyChange(txn, c, keys[i]); err != nil {
			return fmt.Errorf("change %d (%s %s): %w", i, c.Kind, c.ID, err)
		}
	}
	if err := txn.Set(keyReplica, replicaValue(b)); err != nil {
		return err
	}
	return txn.Commit()
}

// applyChange writes one change of a batch, whose record claims keys.
func (s *Store) applyChange(txn *bdb.Txn, c shared.Change, keys []string) error {
	old, exists, err := getEntry(txn, c.Kind, c.ID)
	if err != nil {
		return err
	}
	var e *entry
	if !c.Deleted {
		e = &entry{rev: c.Revision, keys: keys, data: c.Data}
	}
	return s.writeRecord(txn, c.Kind, c.ID, old, exists, e)
}

// replicaValue is the value at keyReplica once b is applied.
func replicaValue(b storage.Batch) []byte { return append(encodeInt(b.Applied), b.Epoch...) }

// Replica returns the state recorded by Apply; see storage.Store.
func (s *Store) Replica(ctx context.Context) (string, int64, error) {
	if err := s.life.Enter(""); err != nil {
		return "", 0, err
	}
	defer s.life.Exit()
	var epoch string
	var applied int64
	err := s.view(func(txn *bdb.Txn) error {
		b, err := getBytes(txn, keyReplica)
		if errors.Is(err, bdb.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(b) < 8 {
			return errors.New("corrupt replica state")
		}
		applied, _ = decodeInt(b[:8])
		epoch = string(b[8:])
		return nil
	})
	return epoch, applied, s.fail(err, "read the replica state")
}
