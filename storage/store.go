// Package storage defines the Store interface that every storage driver
// implements (badger, memory, and later mysql and redis), with typed helpers
// over it. The conformance suite in storage/storetest checks every driver
// against the contract written here. quota.go holds the transactions that
// keep quotas across servers sharing one database (a space, a start, an
// API token counted and written together), which the origin's services and
// a leaf's both use: origin and leaf meet only below them.
package storage

import (
	"context"
	"encoding/json"
	"time"

	"github.com/knot-dev/knot/shared"
)

// Store keeps knot's records and their change feed. Every write gets the next
// value of the store's revision, a counter that only grows, in the same
// transaction as the record; deletes leave a tombstone in the feed. Several
// processes may share one store (MySQL, Redis): revisions stay unique and are
// committed in order, so a reader of the feed never sees revision N+1 before N.
//
// Implementations are safe for concurrent use. Errors are *shared.Error with
// the codes documented per method; anything else is an EINTERNAL failure of
// the backend. A method given a kind that is not one of shared.Kinds fails
// with EINVALID.
type Store interface {
	// Put writes rec and sets its revision to the store's next revision.
	// When rec's revision is 0, the record must not exist yet (ECONFLICT if it
	// does); otherwise it must equal the stored revision (ECONFLICT if the
	// record changed meanwhile, ENOTFOUND if it is gone). ECONFLICT also when a
	// unique key of rec belongs to another record of the same kind, EINVALID
	// when rec has no id. On error nothing is written and rec is unchanged.
	Put(ctx context.Context, rec shared.Record) error

	// Delete removes a record and leaves a tombstone at the next revision,
	// which it returns. ENOTFOUND if there is no such record.
	Delete(ctx context.Context, kind shared.Kind, id string) (int64, error)

	// Get returns the record of kind with id. ENOTFOUND if there is none.
	Get(ctx context.Context, kind shared.Kind, id string) (shared.Change, error)

	// Lookup returns the record of kind that holds the unique key. ENOTFOUND
	// if none does.
	Lookup(ctx context.Context, kind shared.Kind, key string) (shared.Change, error)

	// List returns every record of kind, ordered by id.
	List(ctx context.Context, kind shared.Kind) ([]shared.Change, error)

	// Changes returns at most limit entries of the change feed with a
	// revision above after, in revision order: the latest state of each record
	// changed since then and the tombstones of records deleted since then. A
	// record appears once, at its latest revision. A limit of 0 or less means
	// no limit. The result is complete only when after >= Head().Horizon.
	Changes(ctx context.Context, after int64, limit int) ([]shared.Change, error)

	// Head returns the store's epoch, current revision and tombstone horizon.
	Head(ctx context.Context) (Head, error)

	// Compact drops tombstones at or below revision upTo and raises the
	// horizon to upTo, or to the current revision if upTo is beyond it. The
	// horizon never goes down. Records are not touched.
	Compact(ctx context.Context, upTo int64) error

	// Apply writes a batch received from an origin in one transaction: each
	// change in order (a record replaces the stored one with the change's
	// revision, a tombstone deletes it), then records b.Epoch and b.Applied as
	// the replica state. Unique keys follow the last change that claims them,
	// since the feed carries only each record's latest state. Apply does not
	// advance the store's own revision, and a record it writes or deletes
	// leaves the store's own feed (neither an entry nor a tombstone remains).
	// A change with an unknown kind, no id, or (unless it is a tombstone) data
	// that is not a record of its kind with its id fails the whole batch with
	// EINVALID, and nothing is written; so does a batch too large for one
	// transaction of the backend, with ETOOLARGE.
	Apply(ctx context.Context, b Batch) error

	// Replica returns the epoch and revision last recorded by Apply, or "" and
	// 0 if Apply was never called.
	Replica(ctx context.Context) (epoch string, applied int64, err error)

	// AppendAudit stores ev and sets its ID, which grows with every event.
	AppendAudit(ctx context.Context, ev *shared.AuditEvent) error

	// ListAudit returns events newest first, skipping offset and returning at
	// most limit (0 or less: no limit), and the total number of events.
	ListAudit(ctx context.Context, offset, limit int) ([]shared.AuditEvent, int, error)

	// PruneAudit deletes the oldest events, in id order, up to the first one
	// at or after before, and returns how many it deleted. Later events keep
	// their ids, new ones get higher ids, and ListAudit's total counts the
	// events left. Deleting in id order keeps the log without gaps even where
	// clocks of several servers disagree a little.
	PruneAudit(ctx context.Context, before time.Time) (int, error)

	// Update runs fn in a transaction: see Tx. It returns what fn returned,
	// or the error that kept the transaction from committing.
	Update(ctx context.Context, fn func(tx Tx) error) error

	// Ping checks that the backend answers.
	Ping(ctx context.Context) error

	// Close releases the store. Writes that returned before Close are durable.
	// After Close every other method fails with EUNAVAILABLE; closing again
	// returns nil.
	Close() error
}

// Head describes the position of a store's change feed.
type Head struct {
	// Epoch names this store's history. It is made when the store is created
	// and never changes; a different epoch means a different history.
	Epoch string
	// Revision is the latest revision given to a write, 0 for a new store.
	Revision int64
	// Horizon is the highest revision whose tombstones were compacted away.
	// A reader that last saw a revision below it must start over.
	Horizon int64
}

// Batch is a run of changes from an origin's feed, applied atomically.
type Batch struct {
	Epoch   string
	Changes []shared.Change
	Applied int64
}

// RecordPtr is a pointer to a domain record type.
type RecordPtr[T any] interface {
	*T
	shared.Record
}

// Decode unmarshals the record in c.
func Decode[T any, P RecordPtr[T]](c shared.Change) (P, error) {
	p := P(new(T))
	if c.Deleted {
		return nil, shared.Errorf(shared.ENOTFOUND, "%s %s was deleted", c.Kind, c.ID)
	}
	if err := json.Unmarshal(c.Data, p); err != nil {
		return nil, shared.Wrap(shared.EINTERNAL, err, "decode %s %s", c.Kind, c.ID)
	}
	p.SetRevision(c.Revision)
	return p, nil
}

// Encode returns the change that stores rec at its current revision.
func Encode(rec shared.Record) (shared.Change, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return shared.Change{}, shared.Wrap(shared.EINTERNAL, err, "encode %s %s", rec.RecordKind(), rec.RecordID())
	}
	return shared.Change{Kind: rec.RecordKind(), ID: rec.RecordID(), Revision: rec.GetRevision(), Data: data}, nil
}

func kindOf[T any, P RecordPtr[T]]() shared.Kind { return P(new(T)).RecordKind() }

// Get returns the record of type T with id.
func Get[T any, P RecordPtr[T]](ctx context.Context, s Reader, id string) (P, error) {
	c, err := s.Get(ctx, kindOf[T, P](), id)
	if err != nil {
		return nil, err
	}
	return Decode[T, P](c)
}

// Lookup returns the record of type T that holds the unique key.
func Lookup[T any, P RecordPtr[T]](ctx context.Context, s Reader, key string) (P, error) {
	c, err := s.Lookup(ctx, kindOf[T, P](), key)
	if err != nil {
		return nil, err
	}
	return Decode[T, P](c)
}

// List returns every record of type T, ordered by id.
func List[T any, P RecordPtr[T]](ctx context.Context, s Reader) ([]P, error) {
	cs, err := s.List(ctx, kindOf[T, P]())
	if err != nil {
		return nil, err
	}
	out := make([]P, 0, len(cs))
	for _, c := range cs {
		p, err := Decode[T, P](c)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ListWhere returns the records of type T for which keep returns true.
func ListWhere[T any, P RecordPtr[T]](ctx context.Context, s Reader, keep func(P) bool) ([]P, error) {
	all, err := List[T, P](ctx, s)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, p := range all {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out, nil
}
