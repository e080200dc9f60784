package origin

// noteEpoch logs at WARN, and records in the fleet entry of l's node, that
// the leaf of l holds a replica of leafEpoch, which is not this store's
// epoch: this origin's store was made anew, or the node was another
// origin's leaf, and the snapshot it gets replaces that replica (see
// leaf.ReplicaBackup for the copy the leaf keeps). A leaf without a
// replica yet ("") is not a change. The entry is the node's registry entry,
// so it is bounded and forgotten with it (fleet.go).
func (h *Hub) noteEpoch(l *link, leafEpoch string) {
	if leafEpoch == "" || leafEpoch == l.epoch {
		return
	}
	h.log.Warn("origin: a leaf holds a replica of another epoch: this origin's store is new, or the leaf was another origin's; the snapshot it gets replaces its replica, of which it keeps a copy",
		"node", l.node, "location", l.location, "leaf_epoch", leafEpoch, "epoch", l.epoch)
	h.mu.Lock()
	defer h.mu.Unlock()
	if in := h.fleet.get(l.node); in != nil {
		in.EpochChanges++
		in.PreviousEpoch, in.EpochChangedAt = leafEpoch, h.now()
	}
}
