package badger

import (
	"context"
	"encoding/json"
	"time"

	bdb "github.com/dgraph-io/badger/v4"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/internal/driver"
)

// keyAuditPruned holds the id of the last audit event PruneAudit deleted;
// the events left are those above it, up to meta/audit.
var keyAuditPruned = []byte("meta/audit_pruned")

// pruneBatch is how many audit events one transaction deletes, well under
// badger's transaction limit.
const pruneBatch = 500

// PruneAudit deletes the oldest events up to the first at or after before;
// see storage.Store. It deletes in transactions of pruneBatch events, each
// of which moves meta/audit_pruned with its deletes.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	if err := s.life.Enter(""); err != nil {
		return 0, err
	}
	defer s.life.Exit()
	s.amu.Lock()
	defer s.amu.Unlock()
	total, err := driver.PruneInBatches(ctx, func() (int, bool, error) { return s.pruneAuditBatch(before) })
	if err != nil {
		return total, s.fail(err, "prune the audit log")
	}
	return total, ctx.Err()
}

// pruneAuditBatch deletes up to pruneBatch of the oldest events before
// before, and reports whether there may be more.
func (s *Store) pruneAuditBatch(before time.Time) (n int, more bool, err error) {
	err = s.db.Update(func(txn *bdb.Txn) error {
		pruned, err := getInt(txn, keyAuditPruned)
		if err != nil {
			return err
		}
		keys, last, err := oldestAudit(txn, pruned, before)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		n, more = len(keys), len(keys) == pruneBatch
		if n == 0 {
			return nil
		}
		return txn.Set(keyAuditPruned, encodeInt(last))
	})
	if err != nil {
		return 0, false, err
	}
	return n, more, nil
}

// oldestAudit returns the keys of up to pruneBatch events after id pruned
// that are before before, in id order, and the id of the last of them.
func oldestAudit(txn *bdb.Txn, pruned int64, before time.Time) ([][]byte, int64, error) {
	it := txn.NewIterator(bdb.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: prefixAudit})
	defer it.Close()
	var keys [][]byte
	last := pruned
	for it.Seek(auditKey(pruned + 1)); it.ValidForPrefix(prefixAudit) && len(keys) < pruneBatch; it.Next() {
		var ev shared.AuditEvent
		if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &ev) }); err != nil {
			return nil, 0, err
		}
		if !ev.At.Before(before) {
			break
		}
		keys, last = append(keys, it.Item().KeyCopy(nil)), ev.ID
	}
	return keys, last, nil
}
