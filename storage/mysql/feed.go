package mysql

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/internal/driver"
)

// Changes returns the feed after a revision; see storage.Store. It is one
// statement, so it reads one committed state of the feed and the records.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]shared.Change, error) {
	if err := s.life.Enter(""); err != nil {
		return nil, err
	}
	defer s.life.Exit()
	query := `SELECT f.revision, f.kind, f.id, f.deleted, r.data FROM feed f
		LEFT JOIN records r ON r.kind = f.kind AND r.id = f.id
		WHERE f.revision > ? ORDER BY f.revision`
	args := []any{after}
	if limit > 0 {
		query += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.fail(err, "read the changes after %d", after)
	}
	defer rows.Close()
	out := []shared.Change{}
	for rows.Next() {
		var c shared.Change
		var kind string
		var data []byte // NULL for a tombstone
		if err := rows.Scan(&c.Revision, &kind, &c.ID, &c.Deleted, &data); err != nil {
			return nil, s.fail(err, "read the changes after %d", after)
		}
		c.Kind = shared.Kind(kind)
		if !c.Deleted {
			c.Data = data
		}
		if !c.Deleted && data == nil {
			s.log.Warn("feed entry without its record", "revision", c.Revision, "kind", c.Kind, "id", c.ID)
			continue
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(err, "read the changes after %d", after)
	}
	return out, nil
}

// Head returns the position of the feed; see storage.Store.
func (s *Store) Head(ctx context.Context) (storage.Head, error) {
	if err := s.life.Enter(""); err != nil {
		return storage.Head{}, err
	}
	defer s.life.Exit()
	h := storage.Head{Epoch: s.epoch}
	rows, err := s.db.QueryContext(ctx, "SELECT name, num FROM meta WHERE name IN ('revision', 'horizon')")
	if err != nil {
		return storage.Head{}, s.fail(err, "read the head")
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var num int64
		if err := rows.Scan(&name, &num); err != nil {
			return storage.Head{}, s.fail(err, "read the head")
		}
		if name == "revision" {
			h.Revision = num
		} else {
			h.Horizon = num
		}
	}
	return h, s.fail(rows.Err(), "read the head")
}

// compactChunk is how many tombstones one transaction of Compact drops.
const compactChunk = 10000

// Compact drops old tombstones; see storage.Store. The horizon is raised
// first, in its own transaction, so a failure halfway leaves a horizon that
// already covers the tombstones that are gone; the rest go in chunks, so no
// transaction holds the writers up for long.
func (s *Store) Compact(ctx context.Context, upTo int64) error {
	if err := s.life.Enter(""); err != nil {
		return err
	}
	defer s.life.Exit()
	what := fmt.Sprintf("compact up to %d", upTo)
	var through int64 // the horizon after this call
	_, err := s.write(ctx, what, false, func(tx *sql.Tx, rev int64) error {
		var horizon int64
		if err := tx.QueryRowContext(ctx, "SELECT num FROM meta WHERE name = 'horizon'").Scan(&horizon); err != nil {
			return err
		}
		through = max(min(upTo, rev), horizon)
		if through == horizon {
			return nil
		}
		_, err := tx.ExecContext(ctx, "UPDATE meta SET num = ? WHERE name = 'horizon'", through)
		return err
	})
	if err != nil {
		return err
	}
	for {
		var dropped int64
		_, err := s.write(ctx, what, false, func(tx *sql.Tx, _ int64) error {
			res, err := tx.ExecContext(ctx, "DELETE FROM feed WHERE revision <= ? AND deleted ORDER BY revision LIMIT ?", through, compactChunk)
			if err != nil {
				return err
			}
			dropped, err = res.RowsAffected()
			return err
		})
		if err != nil || dropped < compactChunk {
			return err
		}
	}
}

// Apply writes a batch from an origin in one transaction; see storage.Store.
func (s *Store) Apply(ctx context.Context, b storage.Batch) error {
	if err := s.life.Enter(""); err != nil {
		return err
	}
	defer s.life.Exit()
	keys, err := checkBatch(b)
	if err != nil {
		return err
	}
	_, err = s.write(ctx, fmt.Sprintf("apply a batch of %d changes", len(b.Changes)), false, func(tx *sql.Tx, _ int64) error {
		for i, c := range b.Changes {
			if err := applyChange(ctx, tx, c, keys[i]); err != nil {
				return fmt.Errorf("change %d (%s %s): %w", i, c.Kind, c.ID, err)
			}
		}
		_, err := tx.ExecContext(ctx, "UPDATE meta SET num = ?, str = ? WHERE name = 'replica'", b.Applied, b.Epoch)
		return err
	})
	return err
}

// applyChange replaces or deletes one record: the keys it held are freed,
// its entry leaves the store's own feed, and a record claims its keys from
// whoever held them.
func applyChange(ctx context.Context, tx *sql.Tx, c shared.Change, keys []string) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM unique_keys WHERE kind = ? AND id = ?", c.Kind, c.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM feed WHERE kind = ? AND id = ?", c.Kind, c.ID); err != nil {
		return err
	}
	if c.Deleted {
		_, err := tx.ExecContext(ctx, "DELETE FROM records WHERE kind = ? AND id = ?", c.Kind, c.ID)
		return err
	}
	data := []byte(c.Data)
	_, err := tx.ExecContext(ctx, "REPLACE INTO records (kind, id, revision, data) VALUES (?, ?, ?, ?)", c.Kind, c.ID, c.Revision, data)
	if err != nil || len(keys) == 0 {
		return err
	}
	var rows []any
	seen := map[string]bool{}
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			rows = append(rows, c.Kind, k, c.ID)
		}
	}
	_, err = tx.ExecContext(ctx, "REPLACE INTO unique_keys (kind, ukey, id) VALUES "+rowPlaceholders(len(rows)/3, 3), rows...)
	return err
}

// checkBatch checks every change of b as storage.Store.Apply demands and
// returns the unique keys of each.
func checkBatch(b storage.Batch) ([][]string, error) {
	if len(b.Epoch) > maxEpoch {
		return nil, shared.Errorf(shared.EINVALID, "the batch's epoch is %d bytes long; the limit is %d", len(b.Epoch), maxEpoch)
	}
	keys := make([][]string, len(b.Changes))
	for i, c := range b.Changes {
		// A too long id is named before the record is decoded.
		if err := checkID(c.Kind, c.ID); err != nil && c.Kind.Valid() {
			return nil, shared.Errorf(shared.EINVALID, "change %d: %s", i, shared.ErrorMessage(err))
		}
		k, err := driver.CheckChange(i, c)
		if err != nil {
			return nil, err
		}
		if err := checkKeys(c.Kind, k); err != nil {
			return nil, shared.Errorf(shared.EINVALID, "change %d: %s", i, shared.ErrorMessage(err))
		}
		keys[i] = k
	}
	return keys, nil
}

// Replica returns the state recorded by Apply; see storage.Store.
func (s *Store) Replica(ctx context.Context) (string, int64, error) {
	if err := s.life.Enter(""); err != nil {
		return "", 0, err
	}
	defer s.life.Exit()
	var epoch string
	var applied int64
	err := s.db.QueryRowContext(ctx, "SELECT str, num FROM meta WHERE name = 'replica'").Scan(&epoch, &applied)
	if err != nil {
		return "", 0, s.fail(err, "read the replica state")
	}
	return epoch, applied, nil
}
