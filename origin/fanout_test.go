package origin_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
)

// countingStore counts the reads of the change feed.
type countingStore struct {
	storage.Store
	changes atomic.Int64
}

func (s *countingStore) Changes(ctx context.Context, after int64, limit int) ([]shared.Change, error) {
	s.changes.Add(1)
	return s.Store.Changes(ctx, after, limit)
}

// allAcknowledged waits until the hub shows n connected leaves that
// acknowledged the store's head.
func allAcknowledged(t *testing.T, o *testOrigin, n int) {
	t.Helper()
	eventually(t, 10*time.Second, func() string {
		head, err := o.Store().Head(context.Background())
		if err != nil {
			return err.Error()
		}
		k := 0
		for _, in := range o.hub().Leaves() {
			if in.Connected && in.Applied == head.Revision {
				k++
			}
		}
		if k != n {
			return fmt.Sprintf("%d of %d leaves acknowledged revision %d", k, n, head.Revision)
		}
		return ""
	})
}

// TestTrustedLinksShareOnePageOfTheFeed checks that a write is read from the
// store, filtered and encoded once for all the trusted leaves at the same
// revision, not once per leaf, and that every leaf still gets it.
func TestTrustedLinksShareOnePageOfTheFeed(t *testing.T) {
	const leaves = 12
	st := &countingStore{Store: memory.New()}
	o := startOrigin(t, st, origin.Options{})
	var ls []*testLeaf
	for i := range leaves {
		ls = append(ls, startLeaf(t, o, memory.New(), leaf.Options{Token: sharedToken, Location: fmt.Sprintf("l%d", i), NodeID: fmt.Sprintf("n%d", i)}))
	}
	allAcknowledged(t, o, leaves)
	ctx := context.Background()
	for round := range 5 {
		before := st.changes.Load()
		if err := st.Put(ctx, &shared.Group{Meta: shared.Meta{ID: fmt.Sprintf("g%d", round)}, Name: fmt.Sprintf("group-%d", round)}); err != nil {
			t.Fatal(err)
		}
		o.hub().Notify()
		allAcknowledged(t, o, leaves)
		// One page for the write; a link woken by the poll or a keep-alive
		// at the wrong moment may read one more.
		if n := st.changes.Load() - before; n < 1 || n > 2 {
			t.Errorf("round %d: the feed was read %d times for %d leaves, want once", round, n, leaves)
		}
	}
	for _, l := range ls {
		eventually(t, 5*time.Second, func() string { return converged(t, o, l, viewer{}) })
	}
}
