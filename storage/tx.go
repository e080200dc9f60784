package storage

import (
	"context"

	"github.com/knot-dev/knot/shared"
)

// Tx is a transaction of Store.Update. Its reads see the store's records
// together with the transaction's own writes; its writes follow the rules of
// Store.Put and Store.Delete and take effect together when fn returns nil:
// each gets its own next revision, in the order they were made, and a
// delete leaves its tombstone, as if the writes had been made one after
// the other with nothing in between. When fn returns an error, nothing is
// written.
//
// A transaction is serializable: if a record it read, or one that a List or
// Lookup it made would now return or miss, changes before it commits, it
// does not commit. Update then runs fn again with a new Tx, at most TxTries
// times in all, and fails with ECONFLICT after that. fn must therefore do
// nothing outside tx that may not be done twice, and decide only on what it
// reads through tx. It must not call the Store itself: a driver may hold
// the store's write lock while fn runs, and such a call would wait for it.
// (How each driver keeps a transaction serializable is written in its
// package doc.)
//
// A Put or Delete that fails writes nothing itself, and fn may go on; it
// usually returns the error, which rolls back the writes it made before.
// (A failure of the backend itself, or a transaction grown too large for
// it, ETOOLARGE, may still fail the whole transaction when fn returns.)
// Each record is written at most once per transaction: a second Put or
// Delete of it fails with EINVALID. A record given to Put gets its new
// revision when Update returns nil and keeps its old one otherwise; inside
// fn, a record the transaction wrote reads back with its new data but a
// revision that means nothing yet. A Tx must not be used after fn returns
// or from several goroutines at once.
type Tx interface {
	Reader

	// Put writes rec as Store.Put does, when the transaction commits.
	Put(ctx context.Context, rec shared.Record) error

	// Delete removes a record as Store.Delete does, when the transaction
	// commits; its tombstone's revision is given then. ENOTFOUND if there is
	// no such record.
	Delete(ctx context.Context, kind shared.Kind, id string) error
}

// Reader is what a Store and a Tx both read: the typed helpers Get, Lookup,
// List and ListWhere take either.
type Reader interface {
	// Get returns the record of kind with id. ENOTFOUND if there is none.
	Get(ctx context.Context, kind shared.Kind, id string) (shared.Change, error)
	// Lookup returns the record of kind that holds the unique key. ENOTFOUND
	// if none does.
	Lookup(ctx context.Context, kind shared.Kind, key string) (shared.Change, error)
	// List returns every record of kind, ordered by id.
	List(ctx context.Context, kind shared.Kind) ([]shared.Change, error)
}

// TxTries is how many times Store.Update runs a transaction's function
// before it gives up on conflicts with ECONFLICT.
const TxTries = 10
