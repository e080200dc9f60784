package mysql

import (
	"context"
	"database/sql"
	"errors"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/internal/driver"
)

// Update runs fn in a transaction; see storage.Store and storage.Tx.
//
// The transaction begins by locking the revision row of meta (SELECT … FOR
// UPDATE), as every write of the store does, in this process or another:
// from then until it commits no other writer of the database runs, so what
// fn reads (a record, a unique key, a count of a kind's records) cannot
// change under it, and its writes take revisions one after the other. Its
// reads come after the lock, so they see every write committed before it.
// Each write runs after a savepoint and rolls back to it when it fails, so
// a write that fails halfway (past its checks) leaves nothing behind.
// fn runs again only when InnoDB picks the transaction as a deadlock's
// victim, which takes a writer from outside knot.
func (s *Store) Update(ctx context.Context, fn func(tx storage.Tx) error) error {
	if err := s.life.Enter(""); err != nil {
		return err
	}
	defer s.life.Exit()
	for range storage.TxTries {
		t, fnErr, err := s.updateOnce(ctx, fn)
		if deadlock(err) {
			continue
		}
		if err != nil {
			return s.fail(err, "commit a transaction")
		}
		if fnErr != nil {
			return fnErr
		}
		t.written.Commit()
		return nil
	}
	return shared.Errorf(shared.ECONFLICT, "mysql: a transaction lost %d deadlocks in a row", storage.TxTries)
}

// updateOnce runs fn in one transaction and commits it unless fn fails. It
// returns fn's error as fnErr, and the server's as err, unclassified so that
// a deadlock shows.
func (s *Store) updateOnce(ctx context.Context, fn func(tx storage.Tx) error) (t *tx, fnErr, err error) {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer sqlTx.Rollback()
	t = &tx{s: s, tx: sqlTx}
	if err := sqlTx.QueryRowContext(ctx, "SELECT num FROM meta WHERE name = 'revision' FOR UPDATE").Scan(&t.rev); err != nil {
		return nil, nil, err
	}
	first := t.rev
	fnErr = fn(t)
	if t.broken != nil {
		return nil, nil, t.broken
	}
	if fnErr != nil {
		return nil, fnErr, nil
	}
	if t.rev != first {
		if _, err := sqlTx.ExecContext(ctx, "UPDATE meta SET num = ? WHERE name = 'revision'", t.rev); err != nil {
			return nil, nil, err
		}
	}
	return t, nil, sqlTx.Commit()
}

// tx is a transaction of Update.
type tx struct {
	s       *Store
	tx      *sql.Tx
	rev     int64 // the revision of the transaction's latest write
	written driver.Written
	broken  error // a failure that undid more than its write, which fails the commit
}

// fail classifies err.
func (t *tx) fail(err error, format string, args ...any) error {
	return t.s.fail(err, format, args...)
}

// write runs one write of the transaction after a savepoint, and on error
// rolls back to it, so that a write that fails halfway leaves nothing
// behind and fn may go on. When the savepoint is gone, as after a deadlock,
// which rolls back the whole transaction, the error keeps the transaction
// from committing.
func (t *tx) write(ctx context.Context, fn func() error) error {
	if _, err := t.tx.ExecContext(ctx, "SAVEPOINT one_write"); err != nil {
		t.broken = err
		return err
	}
	err := fn()
	if err == nil {
		return nil
	}
	if _, rerr := t.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT one_write"); rerr != nil && t.broken == nil {
		t.broken = err
	}
	return err
}

func (t *tx) Get(ctx context.Context, kind shared.Kind, id string) (shared.Change, error) {
	if !kind.Valid() {
		return shared.Change{}, shared.Errorf(shared.EINVALID, "unknown record kind %q", kind)
	}
	c := shared.Change{Kind: kind, ID: id}
	var data []byte
	err := t.tx.QueryRowContext(ctx, "SELECT revision, data FROM records WHERE kind = ? AND id = ?", kind, id).Scan(&c.Revision, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return shared.Change{}, shared.Errorf(shared.ENOTFOUND, "%s %s not found", kind, id)
	}
	if err != nil {
		return shared.Change{}, t.fail(err, "get %s %s", kind, id)
	}
	c.Data = data
	return c, nil
}

func (t *tx) Lookup(ctx context.Context, kind shared.Kind, key string) (shared.Change, error) {
	if !kind.Valid() {
		return shared.Change{}, shared.Errorf(shared.EINVALID, "unknown record kind %q", kind)
	}
	c := shared.Change{Kind: kind}
	var data []byte
	err := t.tx.QueryRowContext(ctx, `SELECT r.id, r.revision, r.data FROM unique_keys u
		JOIN records r ON r.kind = u.kind AND r.id = u.id
		WHERE u.kind = ? AND u.ukey = ?`, kind, key).Scan(&c.ID, &c.Revision, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return shared.Change{}, shared.Errorf(shared.ENOTFOUND, "no %s with %s", kind, key)
	}
	if err != nil {
		return shared.Change{}, t.fail(err, "lookup %s %s", kind, key)
	}
	c.Data = data
	return c, nil
}

func (t *tx) List(ctx context.Context, kind shared.Kind) ([]shared.Change, error) {
	if !kind.Valid() {
		return nil, shared.Errorf(shared.EINVALID, "unknown record kind %q", kind)
	}
	out, err := listRecords(ctx, t.tx, kind)
	if err != nil {
		return nil, t.fail(err, "list %s", kind)
	}
	return out, nil
}

// Put writes rec at the transaction's next revision, as Store.Put does.
func (t *tx) Put(ctx context.Context, rec shared.Record) error {
	kind, id := rec.RecordKind(), rec.RecordID()
	if !kind.Valid() {
		return shared.Errorf(shared.EINVALID, "unknown record kind %q", kind)
	}
	if err := checkID(kind, id); err != nil {
		return err
	}
	keys := rec.UniqueKeys()
	if err := checkKeys(kind, keys); err != nil {
		return err
	}
	if err := t.written.Check(kind, id); err != nil {
		return err
	}
	rev := t.rev + 1
	if err := t.write(ctx, func() error { return putRow(ctx, t.tx, rec, keys, rev) }); err != nil {
		return t.fail(err, "put %s %s", kind, id)
	}
	t.rev = rev
	t.written.Add(kind, id, rec, rev)
	return nil
}

// Delete removes a record at the transaction's next revision, as
// Store.Delete does.
func (t *tx) Delete(ctx context.Context, kind shared.Kind, id string) error {
	if !kind.Valid() {
		return shared.Errorf(shared.EINVALID, "unknown record kind %q", kind)
	}
	if err := t.written.Check(kind, id); err != nil {
		return err
	}
	rev := t.rev + 1
	if err := t.write(ctx, func() error { return deleteRow(ctx, t.tx, kind, id, rev) }); err != nil {
		return t.fail(err, "delete %s %s", kind, id)
	}
	t.rev = rev
	t.written.Add(kind, id, nil, rev)
	return nil
}
