package leaf

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
)

type key struct {
	kind shared.Kind
	id   string
}

// snapshot collects the frames of a snapshot until its end.
type snapshot struct {
	epoch    string
	replaces string // the epoch of the replica it replaces, when another one
	rev      int64  // -1 until the first frame
	records  []shared.Change
	seen     map[key]bool
}

func (s *session) snapshotPart(f *wire.Snapshot) error {
	sn := s.snap
	if sn == nil {
		return closeWith(wire.CloseMalformed, "snapshot frame outside a snapshot")
	}
	if sn.rev >= 0 && f.Revision != sn.rev {
		return closeWith(wire.CloseMalformed, "snapshot frame of revision %d within a snapshot of revision %d", f.Revision, sn.rev)
	}
	sn.rev = f.Revision
	for _, c := range f.Records {
		k := key{c.Kind, c.ID}
		if sn.seen[k] {
			return closeWith(wire.CloseMalformed, "the snapshot holds %s %s twice", c.Kind, c.ID)
		}
		sn.seen[k] = true
		if s.ownSpace(c) {
			continue
		}
		sn.records = append(sn.records, c.Shared())
	}
	return nil
}

// ownSpace reports whether c is a live space of this leaf's location, which
// the origin sends back to every leaf: the leaf's own record of it is the
// authority, and the replica leaves it alone.
func (s *session) ownSpace(c wire.Change) bool {
	if c.Kind != shared.KindSpace || c.Deleted {
		return false
	}
	var sp struct {
		Location string `json:"location"`
	}
	return json.Unmarshal(c.Data, &sp) == nil && strings.EqualFold(sp.Location, s.location)
}

// replicated reports whether the stored record c came from the origin: a
// record of an origin-owned kind other than a local template variable, or
// a space of another location.
func (s *session) replicated(c shared.Change) bool {
	switch {
	case c.Kind == shared.KindSpace:
		var sp struct {
			Location string `json:"location"`
		}
		return json.Unmarshal(c.Data, &sp) == nil && !strings.EqualFold(sp.Location, s.location)
	case !c.Kind.OriginOwned():
		return false
	}
	return !isLocalVar(c)
}

// keep returns the changes of a frame that the replica takes: all but the
// live spaces of this leaf's location and the tombstones of spaces the leaf
// holds as its own.
func (s *session) keep(ctx context.Context, cs []wire.Change) ([]shared.Change, error) {
	out := make([]shared.Change, 0, len(cs))
	for _, c := range cs {
		if s.ownSpace(c) {
			continue
		}
		if c.Kind == shared.KindSpace && c.Deleted {
			cur, err := s.u.opts.Store.Get(ctx, shared.KindSpace, c.ID)
			if shared.ErrorCode(err) == shared.ENOTFOUND || err == nil && !s.replicated(cur) {
				continue
			}
			if err != nil {
				return nil, err
			}
		}
		out = append(out, c.Shared())
	}
	return out, nil
}

// snapshotEnd replaces the replica with the snapshot in one transaction:
// tombstones for every replicated record the snapshot does not hold (local
// template variables and the leaf's own spaces are not replicated), then the
// snapshot's records.
func (s *session) snapshotEnd(ctx context.Context, f *wire.SnapshotEnd) error {
	sn := s.snap
	switch {
	case sn == nil:
		return closeWith(wire.CloseMalformed, "snapshot end outside a snapshot")
	case sn.rev >= 0 && f.Revision != sn.rev:
		return closeWith(wire.CloseMalformed, "snapshot end of revision %d within a snapshot of revision %d", f.Revision, sn.rev)
	case f.Count != len(sn.seen):
		return closeWith(wire.CloseMalformed, "the snapshot announced %d records but held %d", f.Count, len(sn.seen))
	}
	st := s.u.opts.Store
	var batch []shared.Change
	for _, k := range shared.Kinds {
		if !k.Replicated() {
			continue
		}
		cs, err := st.List(ctx, k)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if sn.seen[key{c.Kind, c.ID}] || !s.replicated(c) {
				continue
			}
			batch = append(batch, shared.Change{Kind: c.Kind, ID: c.ID, Revision: f.Revision, Deleted: true})
		}
	}
	batch = append(batch, sn.records...)
	var backup string
	if sn.replaces != "" {
		path, err := s.backupReplica(ctx, sn.epoch)
		if err != nil {
			s.u.log.Error("leaf: keep a copy of the replica that the origin's snapshot of a new epoch replaces; the snapshot is not applied", "epoch", s.epoch, "new_epoch", sn.epoch, "err", err)
			return closeWith(wire.CloseInternal, "the leaf could not keep a copy of its replica of epoch %s, which the snapshot of epoch %s would replace: %v", s.epoch, sn.epoch, err)
		}
		backup = path
	}
	if err := st.Apply(ctx, storage.Batch{Epoch: sn.epoch, Changes: batch, Applied: f.Revision}); err != nil {
		s.u.log.Error("leaf: apply the origin's snapshot", "err", err)
		return closeWith(wire.CloseInternal, "the leaf could not apply the snapshot: %s", shared.ErrorMessage(err))
	}
	if backup != "" {
		s.u.log.Warn("leaf: the origin's store has a new epoch: its snapshot replaced the replica, of which a copy is kept",
			"epoch", sn.epoch, "previous_epoch", sn.replaces, "previous_applied", s.applied, "dropped", len(batch)-len(sn.records), "backup", backup)
		now := s.u.now()
		s.u.update(func(us *shared.LeafStatus) {
			us.PreviousEpoch, us.EpochChangedAt, us.ReplicaBackup = sn.replaces, now, backup
		})
	}
	s.epoch, s.applied, s.snap = sn.epoch, f.Revision, nil
	s.u.log.Info("leaf: applied the origin's snapshot", "revision", f.Revision, "records", len(sn.records), "dropped", len(batch)-len(sn.records))
	return s.ack(ctx)
}

// isLocalVar reports whether c is a template variable local to this leaf,
// which replication never touches.
func isLocalVar(c shared.Change) bool {
	if c.Kind != shared.KindTemplateVar {
		return false
	}
	var v struct {
		Local bool `json:"local"`
	}
	return json.Unmarshal(c.Data, &v) == nil && v.Local
}

// changes applies one change frame, strictly after the applied revision.
func (s *session) changes(ctx context.Context, f *wire.Changes) error {
	if s.snap != nil {
		return closeWith(wire.CloseMalformed, "changes before the snapshot ended")
	}
	if f.Revision <= s.applied {
		s.u.log.Debug("leaf: ignored a change frame already applied", "revision", f.Revision, "applied", s.applied)
		return nil
	}
	if f.Prev != s.applied {
		return closeWith(wire.CloseOutOfOrder, "changes from revision %d, but the replica is at %d", f.Prev, s.applied)
	}
	batch, err := s.keep(ctx, f.Changes)
	if err != nil {
		return err
	}
	if err := s.u.opts.Store.Apply(ctx, storage.Batch{Epoch: s.epoch, Changes: batch, Applied: f.Revision}); err != nil {
		s.u.log.Error("leaf: apply the origin's changes", "revision", f.Revision, "err", err)
		return closeWith(wire.CloseInternal, "the leaf could not apply revision %d: %s", f.Revision, shared.ErrorMessage(err))
	}
	s.applied = f.Revision
	return s.ack(ctx)
}

// ack records the applied revision in the status and acknowledges it.
func (s *session) ack(ctx context.Context) error {
	s.u.update(func(st *shared.LeafStatus) {
		st.Epoch, st.Applied = s.epoch, s.applied
		st.Head = max(st.Head, s.applied)
	})
	return s.acks.Ack(s.applied)
}

// reportPage is how many entries of the leaf's own feed one scan reads.
const reportPage = 200

// report sends a space report for every change to a space in the leaf's
// own feed after the last acknowledged one, then waits for more.
func (s *session) report(ctx context.Context) error {
	u := s.u
	u.mu.Lock()
	cursor := u.acked
	u.mu.Unlock()
	t := time.NewTicker(u.opts.ReportInterval)
	defer t.Stop()
	for {
		for {
			cs, err := u.opts.Store.Changes(ctx, cursor, reportPage)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			for _, c := range cs {
				cursor = c.Revision
				if c.Kind != shared.KindSpace {
					continue
				}
				r := &wire.SpaceReport{LeafRevision: c.Revision, SpaceID: c.ID, Deleted: c.Deleted}
				if !c.Deleted {
					r.Space = c.Data
				}
				s.mu.Lock()
				s.sent = append(s.sent, c.Revision)
				n := len(s.sent)
				s.mu.Unlock()
				u.update(func(st *shared.LeafStatus) { st.PendingReports = n })
				if err := s.send(ctx, r); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return err
				}
			}
			if len(cs) < reportPage {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-u.notify:
		case <-t.C:
		}
	}
}
