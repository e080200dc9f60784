package mysql

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/internal/driver"
)

// AppendAudit stores ev and sets its ID; see storage.Store. The id comes
// from AUTO_INCREMENT, so appends from several processes never wait for the
// revision lock; the JSON in the table leaves the id out.
func (s *Store) AppendAudit(ctx context.Context, ev *shared.AuditEvent) error {
	if err := s.life.Enter(""); err != nil {
		return err
	}
	defer s.life.Exit()
	data, err := driver.EncodeAudit(ev)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, "INSERT INTO audit (data) VALUES (?)", data)
	if err != nil {
		return s.fail(err, "append an audit event")
	}
	id, err := res.LastInsertId()
	if err != nil {
		return s.fail(err, "append an audit event")
	}
	ev.ID = id
	return nil
}

// ListAudit returns events newest first; see storage.Store. The count and
// the page come from one read-only transaction, so they agree.
func (s *Store) ListAudit(ctx context.Context, offset, limit int) ([]shared.AuditEvent, int, error) {
	if err := s.life.Enter(""); err != nil {
		return nil, 0, err
	}
	defer s.life.Exit()
	var out []shared.AuditEvent
	var total int
	err := func() error {
		tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit").Scan(&total); err != nil {
			return err
		}
		if limit <= 0 {
			limit = total
		}
		rows, err := tx.QueryContext(ctx, "SELECT id, data FROM audit ORDER BY id DESC LIMIT ? OFFSET ?", limit, max(offset, 0))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ev shared.AuditEvent
			var id int64
			var data []byte
			if err := rows.Scan(&id, &data); err != nil {
				return err
			}
			if err := json.Unmarshal(data, &ev); err != nil {
				return err
			}
			ev.ID = id
			out = append(out, ev)
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, 0, s.fail(err, "list the audit log")
	}
	return out, total, nil
}
