package leaf_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
)

func spaceChange(id, location, state string, rev int64) wire.Change {
	data, _ := json.Marshal(&shared.Space{Meta: shared.Meta{ID: id, Revision: rev}, UserID: "ann", Name: id, Location: location, State: shared.SpaceState(state)})
	return wire.Change{Kind: shared.KindSpace, ID: id, Revision: rev, Data: data}
}

// spaces describes the spaces a leaf's store holds: id, location, state.
func spaces(t *testing.T, st storage.Store) string {
	t.Helper()
	sps, err := storage.List[shared.Space](context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	out := ""
	for _, sp := range sps {
		out += fmt.Sprintf("[%s %s %s]", sp.ID, sp.Location, sp.State)
	}
	return out
}

// TestLeafKeepsOtherLocationsSpacesAndOwnsItsOwn checks what a leaf does
// with the spaces in the origin's feed: those of other locations it keeps,
// changes and drops as the feed says; those of its own location, which the
// origin sends back to every leaf, it ignores, live or deleted, in a
// snapshot or in changes, so that its own record stays the authority.
func TestLeafKeepsOtherLocationsSpacesAndOwnsItsOwn(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	if err := st.Put(ctx, &shared.Space{Meta: shared.Meta{ID: "mine"}, UserID: "ann", Name: "mine", Location: "eu", State: shared.SpaceRunning}); err != nil {
		t.Fatal(err)
	}
	// The fake origin sends the next frame only once the test has looked
	// at the store after the last ack.
	acks, next := make(chan int64, 1), make(chan struct{})
	f := newFakeOrigin(t, func(n int, c *conn) {
		switch n {
		case 1:
			c.send(&wire.Welcome{Protocol: wire.ProtocolMax, Epoch: "e1", Location: "eu", Mode: wire.ModeSnapshot, Head: 5})
			c.send(&wire.Snapshot{Revision: 5, Records: []wire.Change{
				userChange("ann", "ann", 1),
				spaceChange("far", "us", "stopped", 2),
				spaceChange("far2", "us", "running", 3),
				spaceChange("mine", "eu", "stopped", 4), // an older echo of the leaf's own
			}})
			c.send(&wire.SnapshotEnd{Revision: 5, Count: 4})
			acks <- c.expectAck()
			<-next
			c.send(&wire.Changes{Prev: 5, Revision: 8, Changes: []wire.Change{
				spaceChange("far", "us", "running", 6),
				spaceChange("mine", "eu", "failed", 7),
				{Kind: shared.KindSpace, ID: "mine", Revision: 8, Deleted: true},
			}})
			acks <- c.expectAck()
			<-next
			c.send(&wire.Changes{Prev: 8, Revision: 9, Changes: []wire.Change{{Kind: shared.KindSpace, ID: "far", Revision: 9, Deleted: true}}})
			acks <- c.expectAck()
			<-next
		case 2:
			// A new origin store: the snapshot holds no spaces of "us" any
			// more, and the sweep must leave the leaf's own alone.
			c.send(&wire.Welcome{Protocol: wire.ProtocolMax, Epoch: "e2", Location: "eu", Mode: wire.ModeSnapshot, Head: 3})
			c.send(&wire.Snapshot{Revision: 3, Records: []wire.Change{userChange("ann", "ann", 1)}})
			c.send(&wire.SnapshotEnd{Revision: 3, Count: 1})
			acks <- c.expectAck()
			c.idle()
		default:
			c.idle()
		}
	})
	runLeaf(t, st, leaf.Options{OriginURL: f.srv.URL})
	want := []struct {
		ack    int64
		spaces string
	}{
		{5, "[far us stopped][far2 us running][mine eu running]"},
		{8, "[far us running][far2 us running][mine eu running]"},
		{9, "[far2 us running][mine eu running]"},
		{3, "[mine eu running]"},
	}
	for _, w := range want {
		if a := <-acks; a != w.ack {
			t.Fatalf("ack %d, want %d", a, w.ack)
		}
		if got := spaces(t, st); got != w.spaces {
			t.Fatalf("at revision %d the leaf holds the spaces %s, want %s", w.ack, got, w.spaces)
		}
		if w.ack != 3 {
			next <- struct{}{}
		}
	}
	far, err := storage.Get[shared.Space](ctx, st, "far2")
	if shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Fatalf("far2 after the new snapshot: %+v, %v; want it gone", far, err)
	}
}
