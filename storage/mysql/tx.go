package mysql

import (
	"context"
	"database/sql"
	"errors"
	"strings"
)

// writeTries bounds how often a write runs after InnoDB picked it as the
// victim of a deadlock. Writers of knot queue on the revision row before they
// touch anything else, so deadlocks need an outside writer.
const writeTries = 5

// write runs fn in a transaction that first locks the revision row of meta.
// With next set it advances the revision and gives fn the new value;
// otherwise fn gets the current one. An error from fn rolls everything back,
// the revision included, and is returned classified by fail.
func (s *Store) write(ctx context.Context, what string, next bool, fn func(tx *sql.Tx, rev int64) error) (int64, error) {
	var err error
	for range writeTries {
		var rev int64
		rev, err = s.writeOnce(ctx, next, fn)
		if !deadlock(err) {
			return rev, s.fail(err, "%s", what)
		}
	}
	return 0, s.fail(err, "%s", what)
}

func (s *Store) writeOnce(ctx context.Context, next bool, fn func(tx *sql.Tx, rev int64) error) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var rev int64
	if next {
		// LAST_INSERT_ID(expr) hands the new value back with the update's
		// own reply, saving a SELECT.
		res, err := tx.ExecContext(ctx, "UPDATE meta SET num = LAST_INSERT_ID(num + 1) WHERE name = 'revision'")
		if err != nil {
			return 0, err
		}
		if rev, err = res.LastInsertId(); err != nil {
			return 0, err
		}
		if rev <= 0 {
			return 0, errors.New("the revision row of meta is missing")
		}
	} else {
		err := tx.QueryRowContext(ctx, "SELECT num FROM meta WHERE name = 'revision' FOR UPDATE").Scan(&rev)
		if err != nil {
			return 0, err
		}
	}
	if err := fn(tx, rev); err != nil {
		return 0, err
	}
	return rev, tx.Commit()
}

// placeholders returns n question marks separated by commas.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
