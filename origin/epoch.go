package origin

import "time"

// epochNote is what the hub remembers of the snapshots of a new epoch it
// sent a leaf node: the node came with a replica of another epoch (this
// origin's store was made anew, or the node was another origin's leaf),
// and the snapshot replaces that replica. See leaf.ReplicaBackup for the
// copy the leaf keeps.
type epochNote struct {
	count    int
	previous string
	at       time.Time
}

// noteEpoch logs at WARN, and records for the fleet view, that the leaf of
// l holds a replica of leafEpoch, which is not this store's epoch. A leaf
// without a replica yet ("") is not a change.
func (h *Hub) noteEpoch(l *link, leafEpoch string) {
	if leafEpoch == "" || leafEpoch == l.epoch {
		return
	}
	h.log.Warn("origin: a leaf holds a replica of another epoch: this origin's store is new, or the leaf was another origin's; the snapshot it gets replaces its replica, of which it keeps a copy",
		"node", l.node, "location", l.location, "leaf_epoch", leafEpoch, "epoch", l.epoch)
	h.mu.Lock()
	defer h.mu.Unlock()
	ec := h.epochs[l.node]
	ec.count++
	ec.previous, ec.at = leafEpoch, h.now()
	h.epochs[l.node] = ec
}
