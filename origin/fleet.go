package origin

import (
	"container/list"
	"time"

	"github.com/knot-dev/knot/shared"
)

// The bounds of the fleet registry. A connected node holds its location
// (one node per location), so connected nodes are bounded by the live
// links. A disconnected node is kept, for the fleet view, until it has
// been gone for Options.ForgetAfter, and at most maxGonePerLocation of a
// location and maxGoneNodes in all are kept: the longest gone are
// forgotten first. A leaf that reconnects again and again under fresh node
// ids therefore cannot grow the registry.
const (
	maxGonePerLocation = 4
	maxGoneNodes       = 10000
)

// fleetTable is the registry of leaf nodes, by node id. It is not safe for
// concurrent use: the hub guards it with its mutex.
type fleetTable struct {
	nodes map[string]*fleetNode
	gone  list.List             // of *fleetNode: the disconnected nodes, longest gone first
	byLoc map[string]*list.List // of *fleetNode: the same, by location
}

type fleetNode struct {
	info    shared.LeafNode
	goneAt  time.Time     // when it disconnected
	inGone  *list.Element // in fleetTable.gone while disconnected
	inByLoc *list.Element // in fleetTable.byLoc[info.Location] while disconnected
}

func newFleetTable() fleetTable {
	return fleetTable{nodes: map[string]*fleetNode{}, byLoc: map[string]*list.List{}}
}

// get returns the node's entry, nil if there is none.
func (t *fleetTable) get(node string) *shared.LeafNode {
	if n := t.nodes[node]; n != nil {
		return &n.info
	}
	return nil
}

// connect makes in the entry of its node, connected. The epoch changes
// the node's entry counted stay with it.
func (t *fleetTable) connect(in shared.LeafNode) {
	if old := t.nodes[in.NodeID]; old != nil {
		t.unlinkGone(old)
		in.EpochChanges, in.PreviousEpoch, in.EpochChangedAt = old.info.EpochChanges, old.info.PreviousEpoch, old.info.EpochChangedAt
	}
	t.nodes[in.NodeID] = &fleetNode{info: in}
}

// disconnect marks node disconnected at now if it is connected at
// location, and forgets the longest gone nodes over the bounds.
func (t *fleetTable) disconnect(node, location string, now time.Time) {
	n := t.nodes[node]
	if n == nil || n.info.Location != location || n.inGone != nil {
		return
	}
	n.info.Connected, n.info.LastSeen, n.goneAt = false, now, now
	n.inGone = t.gone.PushBack(n)
	l := t.byLoc[location]
	if l == nil {
		l = list.New()
		t.byLoc[location] = l
	}
	n.inByLoc = l.PushBack(n)
	for l.Len() > maxGonePerLocation {
		t.forget(l.Front().Value.(*fleetNode))
	}
	for t.gone.Len() > maxGoneNodes {
		t.forget(t.gone.Front().Value.(*fleetNode))
	}
}

// expire forgets the nodes gone at or before cutoff.
func (t *fleetTable) expire(cutoff time.Time) {
	for e := t.gone.Front(); e != nil; e = t.gone.Front() {
		n := e.Value.(*fleetNode)
		if n.goneAt.After(cutoff) {
			return
		}
		t.forget(n)
	}
}

func (t *fleetTable) forget(n *fleetNode) {
	t.unlinkGone(n)
	if t.nodes[n.info.NodeID] == n {
		delete(t.nodes, n.info.NodeID)
	}
}

// unlinkGone takes n out of the lists of disconnected nodes.
func (t *fleetTable) unlinkGone(n *fleetNode) {
	if n.inGone == nil {
		return
	}
	t.gone.Remove(n.inGone)
	if l := t.byLoc[n.info.Location]; l != nil {
		l.Remove(n.inByLoc)
		if l.Len() == 0 {
			delete(t.byLoc, n.info.Location)
		}
	}
	n.inGone, n.inByLoc = nil, nil
}
