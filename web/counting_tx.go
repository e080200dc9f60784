package web

import (
	"context"
	"slices"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// Update runs fn in a store transaction, counting the store's failures
// like every other method, and tells wrote of each kind the transaction
// wrote once it has committed.
func (c *countingStore) Update(ctx context.Context, fn func(tx storage.Tx) error) error {
	var kinds []shared.Kind
	err := c.Store.Update(ctx, func(tx storage.Tx) error {
		kinds = kinds[:0] // fn may run again
		return fn(&kindsTx{Tx: tx, kinds: &kinds})
	})
	err = c.count(err)
	if err == nil {
		for _, k := range kinds {
			c.wrote(k)
		}
	}
	return err
}

// kindsTx notes the kinds of the records a transaction wrote.
type kindsTx struct {
	storage.Tx
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
