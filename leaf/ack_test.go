package leaf_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage/memory"
)

// TestAcksOfAStreamOfChangesAreFewAndCarryTheLatestRevision sends a
// snapshot and then a burst of change frames, and checks that the leaf acks
// the snapshot at once and the burst with a few acks, in order, the last of
// them of the last revision.
func TestAcksOfAStreamOfChangesAreFewAndCarryTheLatestRevision(t *testing.T) {
	const frames = 40
	type ack struct {
		rev int64
		at  time.Time
	}
	type result struct {
		snapshotSent, changesSent time.Time
		acks                      []ack
	}
	done := make(chan result, 1)
	f := newFakeOrigin(t, func(n int, c *conn) {
		if n > 1 {
			c.idle()
			return
		}
		var r result
		r.snapshotSent = time.Now()
		c.snapshot()
		r.acks = append(r.acks, ack{c.expectAck(), time.Now()})
		r.changesSent = time.Now()
		for rev := int64(6); rev < 6+frames; rev++ {
			c.send(&wire.Changes{Prev: rev - 1, Revision: rev, Changes: []wire.Change{userChange(fmt.Sprintf("u%d", rev), fmt.Sprintf("u%d", rev), rev)}})
		}
		for last := int64(0); last >= 0 && last < 5+frames; {
			last = c.expectAck()
			r.acks = append(r.acks, ack{last, time.Now()})
		}
		done <- r
		c.idle()
	})
	st := memory.New()
	runLeaf(t, st, leaf.Options{OriginURL: f.srv.URL})
	r := <-done

	if a := r.acks[0]; a.rev != 5 || a.at.Sub(r.snapshotSent) >= wire.AckInterval/2 {
		t.Errorf("the snapshot's ack: revision %d after %s; want revision 5 at once (before %s)", a.rev, a.at.Sub(r.snapshotSent), wire.AckInterval/2)
	}
	later := r.acks[1:]
	for i := 1; i < len(later); i++ {
		if later[i].rev <= later[i-1].rev {
			t.Errorf("ack %d of revision %d after one of %d: acks go out in order", i, later[i].rev, later[i-1].rev)
		}
	}
	if last := later[len(later)-1].rev; last != 5+frames {
		t.Errorf("the last ack is of revision %d, want %d", last, 5+frames)
	}
	// At most one ack per interval: the first after half of it at least.
	took := later[len(later)-1].at.Sub(r.changesSent)
	if max := 1 + int(took/wire.AckInterval); len(later) > max {
		t.Errorf("%d acks for %d frames in %s; want at most %d", len(later), frames, took, max)
	}
	if got, want := state(t, st), "e1/45"; got[:len(want)] != want {
		t.Errorf("store at %s, want %s", got, want)
	}
}

// TestLeafAcksAtTheIntervalTheOriginAsks checks that the leaf keeps the ack
// interval the welcome asks for, and the one a later keep-alive asks for.
func TestLeafAcksAtTheIntervalTheOriginAsks(t *testing.T) {
	type gap struct {
		asked time.Duration
		took  time.Duration
		rev   int64
	}
	done := make(chan []gap, 1)
	f := newFakeOrigin(t, func(n int, c *conn) {
		if n > 1 {
			c.idle()
			return
		}
		w := welcome(wire.ModeSnapshot)
		w.Protocol, w.AckIntervalMS = 4, 1500
		c.send(w)
		c.send(&wire.Snapshot{Revision: 5, Records: []wire.Change{userChange("ann", "ann", 4)}})
		c.send(&wire.SnapshotEnd{Revision: 5, Count: 1})
		c.expectAck()
		last := time.Now()
		var gaps []gap
		for i, asked := range []time.Duration{1500 * time.Millisecond, 3 * time.Second} {
			if i > 0 {
				c.send(&wire.KeepAlive{Head: 5 + int64(i), AckIntervalMS: asked.Milliseconds()})
			}
			rev := 6 + int64(i)
			c.send(&wire.Changes{Prev: rev - 1, Revision: rev, Changes: []wire.Change{userChange(fmt.Sprintf("u%d", rev), fmt.Sprintf("u%d", rev), rev)}})
			got := c.expectAck()
			gaps = append(gaps, gap{asked, time.Since(last), got})
			last = time.Now()
		}
		done <- gaps
		c.idle()
	})
	runLeaf(t, memory.New(), leaf.Options{OriginURL: f.srv.URL})
	// The gap is read here, on receipt: it may fall short of the leaf's
	// own by a transit time, far below the slack.
	const slack = 100 * time.Millisecond
	for i, g := range <-done {
		if g.rev != 6+int64(i) || g.took < g.asked-slack {
			t.Errorf("ack %d: revision %d %s after the one before; want revision %d no sooner than the %s asked for", i+2, g.rev, g.took, 6+i, g.asked)
		}
	}
}
