package mysql

import (
	"context"
	"encoding/json"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/internal/driver"
)

// pruneBatch is how many audit events PruneAudit reads and deletes at a time.
const pruneBatch = 500

// PruneAudit deletes the oldest events up to the first at or after before;
// see storage.Store. The time is inside each event's JSON, so it reads the
// oldest events in batches and deletes each batch's prefix by id.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	if err := s.life.Enter(""); err != nil {
		return 0, err
	}
	defer s.life.Exit()
	total, err := driver.PruneInBatches(ctx, func() (int, bool, error) { return s.pruneAuditBatch(ctx, before) })
	if err != nil {
		return total, s.fail(err, "prune the audit log")
	}
	return total, nil
}

func (s *Store) pruneAuditBatch(ctx context.Context, before time.Time) (int, bool, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, data FROM audit ORDER BY id LIMIT ?", pruneBatch)
	if err != nil {
		return 0, false, err
	}
	defer rows.Close()
	n, read, last := 0, 0, int64(0)
	stopped := false
	for rows.Next() {
		read++
		var id int64
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return 0, false, err
		}
		var ev shared.AuditEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			return 0, false, err
		}
		if !ev.At.Before(before) {
			stopped = true
			break
		}
		n, last = n+1, id
	}
	if err := rows.Err(); err != nil {
		return 0, false, err
	}
	rows.Close()
	if n == 0 {
		return 0, false, nil
	}
	res, err := s.db.ExecContext(ctx, "DELETE FROM audit WHERE id <= ?", last)
	if err != nil {
		return 0, false, err
	}
	deleted, err := res.RowsAffected()
	if err != nil {
		return 0, false, err
	}
	return int(deleted), !stopped && read == pruneBatch, nil
}
