package badger

import (
	"context"
	"encoding/json"

	bdb "github.com/dgraph-io/badger/v4"

	"github.com/knot-dev/knot/shared"
)

// AppendAudit stores ev and sets its ID; see storage.Store.
func (s *Store) AppendAudit(ctx context.Context, ev *shared.AuditEvent) error {
	if err := s.life.Enter(""); err != nil {
		return err
	}
	defer s.life.Exit()
	if err := s.room(); err != nil {
		return err
	}
	s.amu.Lock()
	defer s.amu.Unlock()
	var id int64
	err := s.db.Update(func(txn *bdb.Txn) error {
		last, err := getInt(txn, keyAuditSeq)
		if err != nil {
			return err
		}
		id = last + 1
		e := *ev
		e.ID = id
		b, err := json.Marshal(&e)
		if err != nil {
			return err
		}
		if err := txn.Set(auditKey(id), b); err != nil {
			return err
		}
		return txn.Set(keyAuditSeq, encodeInt(id))
	})
	if err != nil {
		return s.fail(err, "append an audit event")
	}
	ev.ID = id
	return nil
}

// ListAudit returns events newest first; see storage.Store. Ids have no
// gaps and PruneAudit deletes the oldest, so the events left are those from
// meta/audit_pruned + 1 to the latest id, and a page starts at the event
// whose id is the latest minus offset.
func (s *Store) ListAudit(ctx context.Context, offset, limit int) ([]shared.AuditEvent, int, error) {
	if err := s.life.Enter(""); err != nil {
		return nil, 0, err
	}
	defer s.life.Exit()
	var out []shared.AuditEvent
	var total int64
	err := s.db.View(func(txn *bdb.Txn) error {
		latest, err := getInt(txn, keyAuditSeq)
		if err != nil {
			return err
		}
		pruned, err := getInt(txn, keyAuditPruned)
		if err != nil {
			return err
		}
		total = latest - pruned
		start := latest - int64(max(offset, 0))
		if start <= pruned {
			return nil
		}
		it := txn.NewIterator(bdb.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Reverse: true, Prefix: prefixAudit})
		defer it.Close()
		for it.Seek(auditKey(start)); it.ValidForPrefix(prefixAudit); it.Next() {
			if limit > 0 && len(out) >= limit {
				break
			}
			var ev shared.AuditEvent
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &ev) }); err != nil {
				return err
			}
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, 0, s.fail(err, "list the audit log")
	}
	return out, int(total), nil
}
