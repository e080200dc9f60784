package badger

import (
	"encoding/json"
	"errors"
	"fmt"

	bdb "github.com/dgraph-io/badger/v4"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/internal/driver"
)

// Big batches. Badger holds one transaction in memory and refuses one over
// 15% of a memtable (about 1.2 MB here, see memTable): a leaf's snapshot of
// an origin with 10,000 users and 1,000 templates is 8.5 MB. Apply writes
// such a batch in two steps, each in as many transactions as it takes:
//
//  1. the journal: the batch's changes under journal/, then its head (the
//     replica state it ends in, and how many changes it holds) at
//     meta/journal. Until the head is written nothing has changed.
//  2. the replay: the changes into the records, in order, then the replica
//     state, and the head deleted in the same transaction. Readers wait
//     for the replay (Store.vis), so none sees it half done.
//
// A crash between the two steps or during the replay leaves the head, and
// Open replays the journal again before it returns: a change applied twice
// is applied once, since it sets a record to what the change holds. The
// journal's changes are deleted after the replay; Open deletes those of a
// journal without a head, which was never complete. Apply finishes a
// journal that a replay which failed in this process left, before its own
// batch.

var (
	keyJournal    = []byte("meta/journal")
	prefixJournal = []byte("journal/")
)

func journalKey(i int) []byte { return fmt.Appendf(nil, "journal/%012d", i) }

// maxChangeBytes bounds one change of a batch: the replay writes a change
// in one transaction, whatever it shares it with.
const maxChangeBytes = 2 << 20

// journalHead is the value at keyJournal.
type journalHead struct {
	Epoch   string `json:"epoch"`
	Applied int64  `json:"applied"`
	Count   int    `json:"count"`
}

// txns writes through a sequence of transactions: when the next write does
// not fit the current one, it commits that one and goes on in a new one.
type txns struct {
	db  *bdb.DB
	txn *bdb.Txn
}

func newTxns(db *bdb.DB) *txns { return &txns{db: db, txn: db.NewTransaction(true)} }

// do runs write in the current transaction, or, when it does not fit,
// again in a new one after committing the current. write must be right to
// run again after a part of it was committed.
func (t *txns) do(write func(*bdb.Txn) error) error {
	err := write(t.txn)
	if !errors.Is(err, bdb.ErrTxnTooBig) {
		return err
	}
	if err := t.commit(); err != nil {
		return err
	}
	return write(t.txn)
}

// commit commits the current transaction and starts the next.
func (t *txns) commit() error {
	err := t.txn.Commit()
	t.txn = t.db.NewTransaction(true)
	return err
}

func (t *txns) discard() { t.txn.Discard() }

// applyJournaled writes a batch too big for one transaction, under wmu.
func (s *Store) applyJournaled(b storage.Batch, keys [][]string) error {
	for i, c := range b.Changes {
		if n := len(c.Data) + len(c.ID); n > maxChangeBytes {
			return shared.Errorf(shared.ETOOLARGE, "badger: change %d (%s %s) holds %d bytes; one change may hold %d", i, c.Kind, c.ID, n, maxChangeBytes)
		}
	}
	if err := s.writeJournal(b); err != nil {
		return err
	}
	return s.replay(b, keys)
}

// writeJournal writes the journal of a batch, its head last.
func (s *Store) writeJournal(b storage.Batch) error {
	if err := s.dropJournal(); err != nil {
		return err
	}
	t := newTxns(s.db)
	defer t.discard()
	for i, c := range b.Changes {
		v, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if err := t.do(func(txn *bdb.Txn) error { return txn.Set(journalKey(i), v) }); err != nil {
			return err
		}
	}
	head, err := json.Marshal(journalHead{Epoch: b.Epoch, Applied: b.Applied, Count: len(b.Changes)})
	if err != nil {
		return err
	}
	if err := t.do(func(txn *bdb.Txn) error { return txn.Set(keyJournal, head) }); err != nil {
		return err
	}
	return t.txn.Commit()
}

// replay writes the changes of a complete journal into the records, then
// deletes the journal. Readers wait while it writes.
func (s *Store) replay(b storage.Batch, keys [][]string) error {
	s.vis.Lock()
	t := newTxns(s.db)
	defer t.discard()
	err := func() error {
		defer s.vis.Unlock()
		for i, c := range b.Changes {
			if err := t.do(func(txn *bdb.Txn) error { return s.applyChange(txn, c, keys[i]) }); err != nil {
				return fmt.Errorf("change %d (%s %s): %w", i, c.Kind, c.ID, err)
			}
		}
		if err := t.do(func(txn *bdb.Txn) error {
			if err := txn.Set(keyReplica, replicaValue(b)); err != nil {
				return err
			}
			return txn.Delete(keyJournal)
		}); err != nil {
			return err
		}
		return t.txn.Commit()
	}()
	if err != nil {
		return err
	}
	// The batch is applied; changes left without a head are dropped by
	// the next journal or by Open.
	if err := s.dropJournal(); err != nil {
		s.log.Warn("badger: drop the journal of an applied batch", "err", err)
	}
	return nil
}

// dropJournal deletes the changes of the journal.
func (s *Store) dropJournal() error {
	var ks [][]byte
	err := s.db.View(func(txn *bdb.Txn) error {
		it := txn.NewIterator(bdb.IteratorOptions{Prefix: prefixJournal})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			ks = append(ks, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil || len(ks) == 0 {
		return err
	}
	t := newTxns(s.db)
	defer t.discard()
	for _, k := range ks {
		if err := t.do(func(txn *bdb.Txn) error { return txn.Delete(k) }); err != nil {
			return err
		}
	}
	return t.txn.Commit()
}

// recover finishes the batch of a complete journal that a crash left, and
// drops an incomplete one. Open calls it.
func (s *Store) recover() error {
	found, err := s.finishJournal()
	if err != nil || found {
		return err
	}
	return s.fail(s.dropJournal(), "drop an incomplete journal")
}

// finishJournal replays a complete journal, which a crash or a replay that
// failed left, if there is one; it reports whether there was. Apply calls
// it under wmu, before its own batch.
func (s *Store) finishJournal() (bool, error) {
	var b storage.Batch
	found := false
	err := s.db.View(func(txn *bdb.Txn) error {
		v, err := getBytes(txn, keyJournal)
		if errors.Is(err, bdb.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var h journalHead
		if err := json.Unmarshal(v, &h); err != nil || h.Count < 0 {
			return fmt.Errorf("the journal's head %q is corrupt", v)
		}
		b = storage.Batch{Epoch: h.Epoch, Applied: h.Applied, Changes: make([]shared.Change, h.Count)}
		for i := range b.Changes {
			v, err := getBytes(txn, journalKey(i))
			if err != nil {
				return fmt.Errorf("journal change %d of %d: %w", i, h.Count, err)
			}
			if err := json.Unmarshal(v, &b.Changes[i]); err != nil {
				return fmt.Errorf("journal change %d of %d: %w", i, h.Count, err)
			}
		}
		found = true
		return nil
	})
	if err != nil || !found {
		return false, s.fail(err, "read the journal of an interrupted apply")
	}
	keys, err := driver.CheckBatch(b.Changes)
	if err != nil {
		return true, err
	}
	s.log.Warn("badger: finishing a batch from the origin that was cut short", "changes", len(b.Changes), "applied", b.Applied)
	return true, s.fail(s.replay(b, keys), "finish the apply of %d changes", len(b.Changes))
}
