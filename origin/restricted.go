package origin

import (
	"context"
	"encoding/json"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
)

// This file holds what a restricted leaf (one on a user's API token) may
// tell the origin and be told: it speaks for its owner only.

// The properties an audit event of a restricted leaf carries with what the
// leaf claimed, when it differs from what the origin recorded.
const (
	PropLeafActor = "leaf_actor"
	PropLeafAt    = "leaf_at"
)

// auditEvent returns the event the origin stores for e, an event of the
// link's leaf, with props. A trusted leaf's event is stored as it says; a
// restricted leaf's has its owner as the actor and the time the origin
// received it, whatever the leaf says, and what it said in props.
func (l *link) auditEvent(e wire.AuditEvent, props map[string]string) *shared.AuditEvent {
	ev := &shared.AuditEvent{At: e.At, Actor: e.Actor, ActorType: e.ActorType, Event: e.Event,
		Details: e.Details, Location: l.location, Properties: props}
	if !l.cred.Restricted() {
		return ev
	}
	owner, _ := shared.LocationOwner(l.location)
	if e.Actor != owner {
		props[PropLeafActor] = truncate(e.Actor, 256)
	}
	props[PropLeafAt] = e.At.UTC().Format(time.RFC3339Nano)
	ev.At, ev.Actor, ev.ActorType = l.hub.now().UTC(), owner, "user"
	return ev
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// checkReport returns the error that refuses a restricted leaf's report of
// sp, a live space of its owner (old is the origin's copy, nil if none):
// the checks of POST /api/spaces, by the hub's SpaceCheck. A trusted
// leaf's reports are not checked.
func (l *link) checkReport(ctx context.Context, old, sp *shared.Space) error {
	if !l.cred.Restricted() {
		return nil
	}
	l.hub.mu.Lock()
	check := l.hub.checkSpace
	l.hub.mu.Unlock()
	if check == nil {
		return shared.Errorf(shared.EUNAVAILABLE, "this origin cannot check the spaces of restricted leaves")
	}
	owner, err := storage.Get[shared.User](ctx, l.hub.store, l.cred.UserID)
	if err != nil {
		return err
	}
	return check(ctx, owner, old, sp)
}

// checkCommand returns EFORBIDDEN when the link's leaf is restricted and
// cmd concerns a space of another user than its owner: a restricted leaf
// runs its owner's spaces only, and is never sent another user's.
func (l *link) checkCommand(ctx context.Context, cmd *wire.Command) error {
	if !l.cred.Restricted() {
		return nil
	}
	var userID string
	if cmd.Action == wire.ActionCreate {
		var sp struct {
			UserID string `json:"user_id"`
		}
		if err := json.Unmarshal(cmd.Space, &sp); err != nil {
			return shared.Wrap(shared.EINVALID, err, "the space of the command to create %s does not decode", cmd.SpaceID)
		}
		userID = sp.UserID
	} else {
		sp, err := storage.Get[shared.Space](ctx, l.hub.store, cmd.SpaceID)
		if shared.ErrorCode(err) == shared.ENOTFOUND {
			return shared.Errorf(shared.EFORBIDDEN, "space %s is unknown to the origin, and location %q is a restricted leaf's, which is sent commands only about its owner's spaces", cmd.SpaceID, l.location)
		} else if err != nil {
			return err
		}
		userID = sp.UserID
	}
	if userID != l.cred.UserID {
		owner, _ := shared.LocationOwner(l.location)
		return shared.Errorf(shared.EFORBIDDEN, "location %q is the restricted leaf of user %q, which runs only that user's spaces, and space %s belongs to another user", l.location, owner, cmd.SpaceID)
	}
	return nil
}
