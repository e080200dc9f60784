package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

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
	if err := checkID(kind, id); err != nil {
		return err
	}
	keys := rec.UniqueKeys()
	if err := checkKeys(kind, keys); err != nil {
		return err
	}
	rev, err := s.write(ctx, fmt.Sprintf("put %s %s", kind, id), true, func(tx *sql.Tx, rev int64) error {
		return putRow(ctx, tx, rec, keys, rev)
	})
	if err != nil {
		return err
	}
	rec.SetRevision(rev)
	return nil
}

// putRow writes rec, which claims keys, at revision rev in tx, after the
// checks of Put; it fails before it writes anything when they fail. rec
// keeps its revision.
func putRow(ctx context.Context, tx *sql.Tx, rec shared.Record, keys []string, rev int64) error {
	kind, id, want := rec.RecordKind(), rec.RecordID(), rec.GetRevision()
	var cur int64
	err := tx.QueryRowContext(ctx, "SELECT revision FROM records WHERE kind = ? AND id = ?", kind, id).Scan(&cur)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if err := driver.CheckRevision(kind, id, want, cur, exists); err != nil {
		return err
	}
	if err := claimKeys(ctx, tx, kind, id, keys); err != nil {
		return err
	}
	rec.SetRevision(rev)
	data, err := json.Marshal(rec)
	rec.SetRevision(want)
	if err != nil {
		return shared.Wrap(shared.EINTERNAL, err, "encode %s %s", kind, id)
	}
	if exists {
		_, err = tx.ExecContext(ctx, "UPDATE records SET revision = ?, data = ? WHERE kind = ? AND id = ?", rev, data, kind, id)
	} else {
		_, err = tx.ExecContext(ctx, "INSERT INTO records (kind, id, revision, data) VALUES (?, ?, ?, ?)", kind, id, rev, data)
	}
	if err != nil {
		return err
	}
	return putFeed(ctx, tx, rev, kind, id, false)
}

// claimKeys makes id the holder of exactly keys among the records of kind:
// it frees the keys id holds that are not in keys and claims the others. It
// fails with ECONFLICT when another record holds one of keys.
func claimKeys(ctx context.Context, tx *sql.Tx, kind shared.Kind, id string, keys []string) error {
	query := "SELECT ukey, id FROM unique_keys WHERE kind = ? AND id = ?"
	args := []any{kind, id}
	if len(keys) > 0 {
		// Two selects, so that each uses its own index.
		query += " UNION ALL SELECT ukey, id FROM unique_keys WHERE kind = ? AND ukey IN (" + placeholders(len(keys)) + ")"
		args = append(args, kind)
		for _, k := range keys {
			args = append(args, k)
		}
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	held := map[string]bool{}
	for rows.Next() {
		var key, holder string
		if err := rows.Scan(&key, &holder); err != nil {
			rows.Close()
			return err
		}
		if holder != id {
			rows.Close()
			return shared.Errorf(shared.ECONFLICT, "another %s already has %s", kind, key)
		}
		held[key] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}

	wanted := map[string]bool{}
	var add []any
	for _, k := range keys {
		if !wanted[k] && !held[k] {
			add = append(add, kind, k, id)
		}
		wanted[k] = true
	}
	drop := []any{kind}
	for k := range held {
		if !wanted[k] {
			drop = append(drop, k)
		}
	}
	if len(drop) > 1 {
		_, err := tx.ExecContext(ctx, "DELETE FROM unique_keys WHERE kind = ? AND ukey IN ("+placeholders(len(drop)-1)+")", drop...)
		if err != nil {
			return err
		}
	}
	if len(add) > 0 {
		_, err := tx.ExecContext(ctx, "INSERT INTO unique_keys (kind, ukey, id) VALUES "+rowPlaceholders(len(add)/3, 3), add...)
		if err != nil {
			return err
		}
	}
	return nil
}

// putFeed makes rev the one feed entry of the record of kind and id.
func putFeed(ctx context.Context, tx *sql.Tx, rev int64, kind shared.Kind, id string, deleted bool) error {
	_, err := tx.ExecContext(ctx, "REPLACE INTO feed (revision, kind, id, deleted) VALUES (?, ?, ?, ?)", rev, kind, id, deleted)
	return err
}

// Delete removes a record and leaves a tombstone; see storage.Store.
func (s *Store) Delete(ctx context.Context, kind shared.Kind, id string) (int64, error) {
	if err := s.life.Enter(kind); err != nil {
		return 0, err
	}
	defer s.life.Exit()
	return s.write(ctx, fmt.Sprintf("delete %s %s", kind, id), true, func(tx *sql.Tx, rev int64) error {
		return deleteRow(ctx, tx, kind, id, rev)
	})
}

// deleteRow removes the record of kind and id and leaves its tombstone at
// revision rev in tx. ENOTFOUND, with nothing written, if there is no such
// record.
func deleteRow(ctx context.Context, tx *sql.Tx, kind shared.Kind, id string, rev int64) error {
	res, err := tx.ExecContext(ctx, "DELETE FROM records WHERE kind = ? AND id = ?", kind, id)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return shared.Errorf(shared.ENOTFOUND, "%s %s not found", kind, id)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM unique_keys WHERE kind = ? AND id = ?", kind, id); err != nil {
		return err
	}
	return putFeed(ctx, tx, rev, kind, id, true)
}

// Get returns a record; see storage.Store.
func (s *Store) Get(ctx context.Context, kind shared.Kind, id string) (shared.Change, error) {
	if err := s.life.Enter(kind); err != nil {
		return shared.Change{}, err
	}
	defer s.life.Exit()
	c := shared.Change{Kind: kind, ID: id}
	var data []byte
	err := s.db.QueryRowContext(ctx, "SELECT revision, data FROM records WHERE kind = ? AND id = ?", kind, id).Scan(&c.Revision, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return shared.Change{}, shared.Errorf(shared.ENOTFOUND, "%s %s not found", kind, id)
	}
	if err != nil {
		return shared.Change{}, s.fail(err, "get %s %s", kind, id)
	}
	c.Data = data
	return c, nil
}

// Lookup returns the record holding a unique key; see storage.Store.
func (s *Store) Lookup(ctx context.Context, kind shared.Kind, key string) (shared.Change, error) {
	if err := s.life.Enter(kind); err != nil {
		return shared.Change{}, err
	}
	defer s.life.Exit()
	c := shared.Change{Kind: kind}
	var data []byte
	err := s.db.QueryRowContext(ctx, `SELECT r.id, r.revision, r.data FROM unique_keys u
		JOIN records r ON r.kind = u.kind AND r.id = u.id
		WHERE u.kind = ? AND u.ukey = ?`, kind, key).Scan(&c.ID, &c.Revision, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return shared.Change{}, shared.Errorf(shared.ENOTFOUND, "no %s with %s", kind, key)
	}
	if err != nil {
		return shared.Change{}, s.fail(err, "lookup %s %s", kind, key)
	}
	c.Data = data
	return c, nil
}

// List returns every record of kind ordered by id; see storage.Store.
func (s *Store) List(ctx context.Context, kind shared.Kind) ([]shared.Change, error) {
	if err := s.life.Enter(kind); err != nil {
		return nil, err
	}
	defer s.life.Exit()
	out, err := listRecords(ctx, s.db, kind)
	if err != nil {
		return nil, s.fail(err, "list %s", kind)
	}
	return out, nil
}

// queryer is what listRecords reads through: the pool, or a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// listRecords returns every record of kind, ordered by id.
func listRecords(ctx context.Context, q queryer, kind shared.Kind) ([]shared.Change, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, revision, data FROM records WHERE kind = ? ORDER BY id", kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []shared.Change{}
	for rows.Next() {
		c := shared.Change{Kind: kind}
		var data []byte
		if err := rows.Scan(&c.ID, &c.Revision, &data); err != nil {
			return nil, err
		}
		c.Data = data
		out = append(out, c)
	}
	return out, rows.Err()
}

// checkID refuses a missing id and one too long for the tables.
func checkID(kind shared.Kind, id string) error {
	if id == "" {
		return shared.Errorf(shared.EINVALID, "%s has no id", kind)
	}
	if len(id) > maxID {
		return shared.Errorf(shared.EINVALID, "%s id %.40q… is %d bytes long; the limit is %d", kind, id, len(id), maxID)
	}
	return nil
}

// checkKeys refuses unique keys too long for the tables.
func checkKeys(kind shared.Kind, keys []string) error {
	for _, k := range keys {
		if len(k) > maxKey {
			return shared.Errorf(shared.EINVALID, "%s unique key %.40q… is %d bytes long; the limit is %d", kind, k, len(k), maxKey)
		}
	}
	return nil
}

// rowPlaceholders returns n parenthesised groups of width question marks.
func rowPlaceholders(n, width int) string {
	row := "(" + placeholders(width) + ")"
	out := row
	for range n - 1 {
		out += ", " + row
	}
	return out
}
