package origin

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
)

// report stores a leaf's space report in the origin's store and returns the
// acknowledgement. A report is applied at least once and idempotently: one
// that matches the stored space writes nothing, and within a link a report
// at or below the last handled leaf revision is only acknowledged again.
// A leaf may report only spaces of its own location (a restricted leaf only
// its owner's).
func (l *link) report(ctx context.Context, r *wire.SpaceReport) *wire.SpaceAck {
	ack := &wire.SpaceAck{LeafRevision: r.LeafRevision}
	if r.LeafRevision <= l.lastReport {
		return ack
	}
	if err := l.storeReport(ctx, r); err != nil {
		ack.Code, ack.Message = shared.ErrorCode(err), shared.ErrorMessage(err)
		l.hub.log.Warn("origin: space report refused", "node", l.node, "location", l.location, "space", r.SpaceID, "err", err)
	}
	l.lastReport = r.LeafRevision
	return ack
}

func (l *link) storeReport(ctx context.Context, r *wire.SpaceReport) error {
	st := l.hub.store
	for attempt := 0; ; attempt++ {
		old, err := storage.Get[shared.Space](ctx, st, r.SpaceID)
		if err != nil && shared.ErrorCode(err) != shared.ENOTFOUND {
			return err
		}
		if old != nil {
			if err := l.owns(old); err != nil {
				return err
			}
		}
		if r.Deleted {
			if old == nil {
				return nil
			}
			_, err := st.Delete(ctx, shared.KindSpace, r.SpaceID)
			if shared.ErrorCode(err) == shared.ENOTFOUND {
				return nil
			}
			if err == nil {
				l.hub.Notify()
			}
			return err
		}
		sp := new(shared.Space)
		if err := json.Unmarshal(r.Space, sp); err != nil {
			return shared.Wrap(shared.EINVALID, err, "space report %s does not decode", r.SpaceID)
		}
		if sp.ID != r.SpaceID {
			return shared.Errorf(shared.EINVALID, "space report %s carries space %q", r.SpaceID, sp.ID)
		}
		if err := l.owns(sp); err != nil {
			return err
		}
		if err := l.checkReport(ctx, old, sp); err != nil {
			return err
		}
		sp.Revision = 0
		if old != nil {
			if sameSpace(old, sp) {
				return nil
			}
			sp.Revision = old.Revision
		}
		err = st.Put(ctx, sp)
		if shared.ErrorCode(err) == shared.ECONFLICT && attempt < 3 {
			continue // changed meanwhile: read again
		}
		if err == nil {
			l.hub.Notify()
		}
		return err
	}
}

// owns returns EFORBIDDEN unless the link's leaf may report sp.
func (l *link) owns(sp *shared.Space) error {
	if sp.Location != l.location {
		return shared.Errorf(shared.EFORBIDDEN, "space %s belongs to location %q, not %q", sp.ID, sp.Location, l.location)
	}
	if l.cred.Restricted() && sp.UserID != l.cred.UserID {
		return shared.Errorf(shared.EFORBIDDEN, "space %s belongs to another user than this restricted leaf's owner", sp.ID)
	}
	return nil
}

// sameSpace reports whether two spaces are equal apart from their revision.
func sameSpace(a, b *shared.Space) bool {
	x, y := *a, *b
	x.Revision, y.Revision = 0, 0
	bx, err1 := json.Marshal(&x)
	by, err2 := json.Marshal(&y)
	return err1 == nil && err2 == nil && bytes.Equal(bx, by)
}

// Command asks the leaf of location to start, stop, delete or create one of
// its spaces (cmd.Action, cmd.SpaceID and, to create, cmd.Space; the hub
// sets cmd.ID) and waits for its answer or the end of ctx. It returns
// EUNAVAILABLE when no leaf of the location is connected, it speaks a
// protocol too old for the action, or it goes away before answering,
// EINVALID for a bad command, and the leaf's error as a *shared.Error.
func (h *Hub) Command(ctx context.Context, location string, cmd wire.Command) error {
	cmd.ID = uuid.NewString()
	if err := cmd.Validate(); err != nil {
		return err
	}
	h.mu.Lock()
	l := h.links[location]
	h.mu.Unlock()
	if l == nil {
		return shared.Errorf(shared.EUNAVAILABLE, "no leaf of location %q is connected", location)
	}
	if err := l.checkCommand(ctx, &cmd); err != nil {
		return err
	}
	if cmd.Action == wire.ActionCreate && l.proto < 2 {
		return shared.Errorf(shared.EUNAVAILABLE, "the leaf of location %q speaks protocol %d, too old to create spaces: upgrade it", location, l.proto)
	}
	ch := make(chan wire.CommandResult, 1)
	l.mu.Lock()
	if l.pending == nil {
		l.mu.Unlock()
		return shared.Errorf(shared.EUNAVAILABLE, "the leaf of location %q went away", location)
	}
	l.pending[cmd.ID] = ch
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		if l.pending != nil {
			delete(l.pending, cmd.ID)
		}
		l.mu.Unlock()
	}()
	if err := l.send(ctx, &cmd); err != nil {
		return shared.Wrap(shared.EUNAVAILABLE, err, "the leaf of location %q could not be reached", location)
	}
	select {
	case res, ok := <-ch:
		if !ok {
			return shared.Errorf(shared.EUNAVAILABLE, "the leaf of location %q went away before answering", location)
		}
		if res.Code != "" {
			return &shared.Error{Code: res.Code, Message: res.Message}
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// deliver hands a command result to the Command call waiting for it.
func (l *link) deliver(r *wire.CommandResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ch := l.pending[r.ID]; ch != nil {
		ch <- *r
		delete(l.pending, r.ID)
	}
}

// failCommands wakes every waiting Command call when the link ends.
func (l *link) failCommands() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ch := range l.pending {
		close(ch)
	}
	l.pending = nil
}
