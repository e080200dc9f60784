package storage

import (
	"context"
	"slices"
	"sync/atomic"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/metrics"
)

// Observed is a Store that counts its own failures (EINTERNAL,
// EUNAVAILABLE) for knot_store_errors_total; errors about the request
// itself (not found, conflict, invalid) are not counted. It calls wrote
// after every successful write, with the kind written ("" for an audit
// event), so that the origin's hub and a leaf's uplink hear of every
// write made through it.
type Observed struct {
	Store
	wrote    func(shared.Kind)
	failures atomic.Uint64
}

// Observe returns st observed; wrote is called after each write.
func Observe(st Store, wrote func(shared.Kind)) *Observed {
	return &Observed{Store: st, wrote: wrote}
}

// Metrics returns the store's figures.
func (o *Observed) Metrics() []metrics.Family {
	return []metrics.Family{metrics.Counter("knot_store_errors_total",
		"Store calls that failed for a reason other than the request itself (internal or unavailable).", float64(o.failures.Load()))}
}

func (o *Observed) count(err error) error {
	switch shared.ErrorCode(err) {
	case shared.EINTERNAL, shared.EUNAVAILABLE:
		o.failures.Add(1)
	}
	return err
}

func (o *Observed) Put(ctx context.Context, rec shared.Record) error {
	err := o.count(o.Store.Put(ctx, rec))
	if err == nil {
		o.wrote(rec.RecordKind())
	}
	return err
}

func (o *Observed) Delete(ctx context.Context, kind shared.Kind, id string) (int64, error) {
	rev, err := o.Store.Delete(ctx, kind, id)
	if err == nil {
		o.wrote(kind)
	}
	return rev, o.count(err)
}

func (o *Observed) Get(ctx context.Context, kind shared.Kind, id string) (shared.Change, error) {
	ch, err := o.Store.Get(ctx, kind, id)
	return ch, o.count(err)
}

func (o *Observed) Lookup(ctx context.Context, kind shared.Kind, key string) (shared.Change, error) {
	ch, err := o.Store.Lookup(ctx, kind, key)
	return ch, o.count(err)
}

func (o *Observed) List(ctx context.Context, kind shared.Kind) ([]shared.Change, error) {
	cs, err := o.Store.List(ctx, kind)
	return cs, o.count(err)
}

func (o *Observed) Head(ctx context.Context) (Head, error) {
	h, err := o.Store.Head(ctx)
	return h, o.count(err)
}

func (o *Observed) Replica(ctx context.Context) (string, int64, error) {
	e, a, err := o.Store.Replica(ctx)
	return e, a, o.count(err)
}

func (o *Observed) AppendAudit(ctx context.Context, ev *shared.AuditEvent) error {
	err := o.count(o.Store.AppendAudit(ctx, ev))
	if err == nil {
		o.wrote("")
	}
	return err
}

func (o *Observed) ListAudit(ctx context.Context, offset, limit int) ([]shared.AuditEvent, int, error) {
	evs, n, err := o.Store.ListAudit(ctx, offset, limit)
	return evs, n, o.count(err)
}

func (o *Observed) Ping(ctx context.Context) error { return o.count(o.Store.Ping(ctx)) }

// Update runs fn in a store transaction, counting the store's failures
// like every other method, and tells wrote of each kind the transaction
// wrote once it has committed.
func (o *Observed) Update(ctx context.Context, fn func(tx Tx) error) error {
	var kinds []shared.Kind
	err := o.Store.Update(ctx, func(tx Tx) error {
		kinds = kinds[:0] // fn may run again
		return fn(&kindsTx{Tx: tx, kinds: &kinds})
	})
	err = o.count(err)
	if err == nil {
		for _, k := range kinds {
			o.wrote(k)
		}
	}
	return err
}

// kindsTx notes the kinds of the records a transaction wrote.
type kindsTx struct {
	Tx
	kinds *[]shared.Kind
}

func (t *kindsTx) note(kind shared.Kind) {
	if !slices.Contains(*t.kinds, kind) {
		*t.kinds = append(*t.kinds, kind)
	}
}

func (t *kindsTx) Put(ctx context.Context, rec shared.Record) error {
	err := t.Tx.Put(ctx, rec)
	if err == nil {
		t.note(rec.RecordKind())
	}
	return err
}

func (t *kindsTx) Delete(ctx context.Context, kind shared.Kind, id string) error {
	err := t.Tx.Delete(ctx, kind, id)
	if err == nil {
		t.note(kind)
	}
	return err
}
