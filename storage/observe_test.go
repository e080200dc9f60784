package storage_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
)

// The hub and the uplink hear of the writes of a transaction once it has
// committed, and of none when it failed.
func TestObservedTellsOfTransactionWrites(t *testing.T) {
	ctx := context.Background()
	var kinds []shared.Kind
	c := storage.Observe(memory.New(), func(k shared.Kind) { kinds = append(kinds, k) })
	if err := c.Put(ctx, &shared.Token{Meta: shared.Meta{ID: "t"}, UserID: "u"}); err != nil {
		t.Fatal(err)
	}
	kinds = nil

	boom := errors.New("boom")
	err := c.Update(ctx, func(tx storage.Tx) error {
		if err := tx.Put(ctx, &shared.User{Meta: shared.Meta{ID: "u"}, Username: "u", Email: "u@example.com"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || len(kinds) != 0 {
		t.Fatalf("a failed transaction: error %v, told of %v; want boom and nothing", err, kinds)
	}

	err = c.Update(ctx, func(tx storage.Tx) error {
		if err := tx.Put(ctx, &shared.User{Meta: shared.Meta{ID: "u"}, Username: "u", Email: "u@example.com"}); err != nil {
			return err
		}
		return tx.Delete(ctx, shared.KindToken, "t")
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(kinds)
	if want := []shared.Kind{shared.KindToken, shared.KindUser}; !slices.Equal(kinds, want) {
		t.Fatalf("a committed transaction told of %v, want %v", kinds, want)
	}
}
