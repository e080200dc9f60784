package web

import (
	"context"
	"errors"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/storage"
)

// Quotas hold in the store, not in this process: a new space, a start and
// a new API token are each decided and written in one store transaction
// (Store.Update), which counts what the owner holds, reads their limits and
// their groups', and writes the record only if it fits. Servers that share
// one MySQL or Redis database therefore keep one quota between them: of two
// concurrent creations, the transaction that commits second has read a
// count that changed, runs again and sees the other's record.
//
// A start claims its compute units by moving the space to starting in the
// transaction, before the SpaceController runs it; when the controller
// fails without recording anything itself, the claim is given back.
//
// The per-owner locks of a server (Server.ownerLocks) remain only to keep
// one server's own requests from conflicting with each other in the store,
// where an optimistic driver (Redis) would run them again and again.
//
// Two cases stay a check before the write: a space that an origin asks
// another location's leaf to create (the leaf writes its record), and a
// space a restricted leaf reports (the hub writes it). On a leaf the
// spaces of other locations are counted from the origin's answer, taken
// before the transaction.
//
// Storage units and tunnels are limits that knot shows but does not
// enforce.

// quotaLimits are the limits of a user: their own plus their groups'. 0 is
// unlimited.
type quotaLimits struct {
	MaxSpaces, ComputeUnits, StorageUnits, MaxTunnels int
}

// limitsOf returns u's limits as r holds them; a group that is gone adds
// nothing.
func limitsOf(ctx context.Context, r storage.Reader, u *shared.User) (quotaLimits, error) {
	l := quotaLimits{MaxSpaces: u.MaxSpaces, ComputeUnits: u.ComputeUnits, StorageUnits: u.StorageUnits, MaxTunnels: u.MaxTunnels}
	for _, gid := range u.Groups {
		g, err := storage.Get[shared.Group](ctx, r, gid)
		if isCode(err, shared.ENOTFOUND) {
			continue
		}
		if err != nil {
			return l, err
		}
		l.MaxSpaces += g.MaxSpaces
		l.ComputeUnits += g.ComputeUnits
		l.StorageUnits += g.StorageUnits
		l.MaxTunnels += g.MaxTunnels
	}
	return l, nil
}

// quotaScope says which spaces count against a user's quota: those of the
// store that keep accepts (nil: all), plus far, what the user's spaces
// elsewhere use as the origin reported it to a leaf.
type quotaScope struct {
	keep func(*shared.Space) bool
	far  api.LeafUsage
}

// usageIn counts what the spaces of userID in r, within scope, use.
func usageIn(ctx context.Context, r storage.Reader, userID string, scope quotaScope) (api.LeafUsage, error) {
	u := scope.far
	spaces, err := storage.ListWhere(ctx, r, func(sp *shared.Space) bool {
		return sp.UserID == userID && (scope.keep == nil || scope.keep(sp))
	})
	if err != nil {
		return u, err
	}
	templates := map[string]*shared.Template{}
	for _, sp := range spaces {
		t, seen := templates[sp.TemplateID]
		if !seen {
			t, err = storage.Get[shared.Template](ctx, r, sp.TemplateID)
			if err != nil && !isCode(err, shared.ENOTFOUND) {
				return u, err
			}
			templates[sp.TemplateID] = t
		}
		u.NumberSpaces++
		if t != nil {
			u.UsedStorageUnits += t.StorageUnits
		}
		if sp.Deployed() {
			u.NumberSpacesDeployed++
			if t != nil {
				u.UsedComputeUnits += t.ComputeUnits
			}
		}
	}
	return u, nil
}

// ownerIn returns the user id as r holds them: EINVALID when they are
// gone, so that no space is written for a deleted user.
func ownerIn(ctx context.Context, r storage.Reader, id string) (*shared.User, error) {
	u, err := storage.Get[shared.User](ctx, r, id)
	if isCode(err, shared.ENOTFOUND) {
		return nil, invalid("user_id: user %s does not exist", quote(id))
	}
	return u, err
}

func spaceQuotaExceeded(owner *shared.User, limit int) error {
	return shared.Errorf(shared.EQUOTA, "space quota exceeded: user %s may have %d spaces", quote(owner.Username), limit)
}

// checkSpaceCount fails with EQUOTA when owner, whose spaces in r within
// scope are counted, may have no further space.
func checkSpaceCount(ctx context.Context, r storage.Reader, owner *shared.User, scope quotaScope) error {
	l, err := limitsOf(ctx, r, owner)
	if err != nil || l.MaxSpaces == 0 {
		return err
	}
	used, err := usageIn(ctx, r, owner.ID, scope)
	if err != nil {
		return err
	}
	if used.NumberSpaces >= l.MaxSpaces {
		return spaceQuotaExceeded(owner, l.MaxSpaces)
	}
	return nil
}

// spaceNameTaken is the error of a new or renamed space whose name its
// owner already uses at its location.
func spaceNameTaken(owner *shared.User, sp *shared.Space) error {
	return shared.Errorf(shared.ECONFLICT, "user %s already has a space named %s at location %s", quote(owner.Username), quote(sp.Name), quote(sp.Location))
}

// createSpace writes the new space sp if its owner's space quota allows it,
// in one transaction of store: EQUOTA when it does not, ECONFLICT when the
// owner already has a space of that name at its location, EINVALID when
// the owner is gone. Only the spaces within scope are counted.
func createSpace(ctx context.Context, store storage.Store, sp *shared.Space, scope quotaScope) error {
	var taken error
	err := store.Update(ctx, func(tx storage.Tx) error {
		taken = nil
		owner, err := ownerIn(ctx, tx, sp.UserID)
		if err != nil {
			return err
		}
		if err := checkSpaceCount(ctx, tx, owner, scope); err != nil {
			return err
		}
		err = tx.Put(ctx, sp)
		if isCode(err, shared.ECONFLICT) {
			taken = spaceNameTaken(owner, sp)
			return taken
		}
		return err
	})
	if taken != nil && errors.Is(err, taken) {
		return taken
	}
	return err
}

// claimStart moves the space id to starting if its owner's compute units
// allow its template's, in one transaction of store, and returns the space
// as it was and as claimed. A space that is deployed already, or being
// deleted, is returned unchanged with claimed nil: it uses no further
// units, and its SpaceController says what a start does to it; so is a
// space whose start no limit counts (no compute units, or none needed),
// which is left to the controller alone so that its log tells the start
// from the state before. EQUOTA when the units do not suffice, ENOTFOUND
// when the space is gone.
func claimStart(ctx context.Context, store storage.Store, id string, now func() time.Time, scope quotaScope) (before, claimed *shared.Space, err error) {
	err = store.Update(ctx, func(tx storage.Tx) error {
		before, claimed = nil, nil
		sp, err := storage.Get[shared.Space](ctx, tx, id)
		if isCode(err, shared.ENOTFOUND) {
			return notFound("space %s not found", quote(id))
		}
		if err != nil {
			return err
		}
		before = sp
		if sp.Deployed() || sp.State == shared.SpaceDeleting {
			return nil
		}
		owner, err := storage.Get[shared.User](ctx, tx, sp.UserID)
		if isCode(err, shared.ENOTFOUND) {
			return notFound("user %s not found", quote(sp.UserID))
		}
		if err != nil {
			return err
		}
		units, err := checkComputeUnits(ctx, tx, owner, sp, scope)
		if err != nil || !units {
			return err
		}
		c := *sp
		c.State, c.Reason, c.UpdatedAt = shared.SpaceStarting, "", now().UTC()
		if err := tx.Put(ctx, &c); err != nil {
			return err
		}
		claimed = &c
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return before, claimed, nil
}

// checkComputeUnits fails with EQUOTA when starting sp, which is not
// deployed, would take owner past their compute units. It reports whether
// the start takes units that a limit counts, which the start must then
// claim.
func checkComputeUnits(ctx context.Context, r storage.Reader, owner *shared.User, sp *shared.Space, scope quotaScope) (bool, error) {
	l, err := limitsOf(ctx, r, owner)
	if err != nil || l.ComputeUnits == 0 {
		return false, err
	}
	t, err := storage.Get[shared.Template](ctx, r, sp.TemplateID)
	if isCode(err, shared.ENOTFOUND) {
		return false, nil // the controller fails the start, which uses nothing
	}
	if err != nil {
		return false, err
	}
	used, err := usageIn(ctx, r, owner.ID, scope)
	if err != nil {
		return false, err
	}
	if used.UsedComputeUnits+t.ComputeUnits > l.ComputeUnits {
		return false, shared.Errorf(shared.EQUOTA, "compute unit quota exceeded: %d of %d in use, and space %s needs %d", used.UsedComputeUnits, l.ComputeUnits, quote(sp.Name), t.ComputeUnits)
	}
	return t.ComputeUnits > 0, nil
}

// releaseStart gives back the claim of a start that its SpaceController
// failed without recording anything: if the space is still as claimStart
// wrote it, it returns to its state before.
func releaseStart(ctx context.Context, store storage.Store, before, claimed *shared.Space) error {
	return store.Update(ctx, func(tx storage.Tx) error {
		cur, err := storage.Get[shared.Space](ctx, tx, claimed.ID)
		if isCode(err, shared.ENOTFOUND) {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.GetRevision() != claimed.GetRevision() {
			return nil // the controller, or someone else, moved it on
		}
		back := *before
		back.SetRevision(cur.GetRevision())
		return tx.Put(ctx, &back)
	})
}

// createToken writes the new API token t unless its user holds max tokens
// already, in one transaction of store: EQUOTA when they do.
func createToken(ctx context.Context, store storage.Store, t *shared.Token, max int) error {
	return store.Update(ctx, func(tx storage.Tx) error {
		held, err := storage.ListWhere(ctx, tx, func(o *shared.Token) bool { return o.UserID == t.UserID })
		if err != nil {
			return err
		}
		if len(held) >= max {
			return shared.Errorf(shared.EQUOTA, "you hold %d API tokens, the most allowed: delete one first", len(held))
		}
		return tx.Put(ctx, t)
	})
}

// spaceScope is the scope of the quota of the spaces of user on this
// server: every space of the store, except on a leaf that reaches its
// origin, which counts its own location's spaces and takes the others'
// from the origin's answer.
func (s *Server) spaceScope(ctx context.Context, userID string) quotaScope {
	if s.leaf == nil {
		return quotaScope{}
	}
	far, err := s.originUsage(ctx, userID)
	if err != nil {
		s.log.InfoContext(ctx, "quota counts the spaces this leaf knows of", "user_id", userID, "reason", shared.ErrorMessage(err))
		return quotaScope{}
	}
	return quotaScope{keep: func(sp *shared.Space) bool { return !s.remote(sp) }, far: far}
}
