package storage

import (
	"context"
	"errors"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// Quotas hold in the store, not in a process: a new space, a start and a
// new API token are each decided and written in one store transaction
// (Store.Update), which counts what the owner holds, reads their limits and
// their groups', and writes the record only if it fits. Servers that share
// one MySQL or Redis database therefore keep one quota between them: of two
// concurrent creations, the transaction that commits second has read a
// count that changed, runs again and sees the other's record. The origin's
// services and a leaf's both decide with the functions here.
//
// A start claims its compute units by moving the space to starting in the
// transaction (ClaimStart), before the runtime runs it; when the runtime
// fails without recording anything itself, ReleaseStart gives the claim
// back.
//
// Storage units and tunnels are limits that knot shows but does not
// enforce.

// Limits are the limits of a user: their own plus their groups'. 0 is
// unlimited.
type Limits struct {
	MaxSpaces, ComputeUnits, StorageUnits, MaxTunnels int
}

// LimitsOf returns u's limits as r holds them; a group that is gone adds
// nothing.
func LimitsOf(ctx context.Context, r Reader, u *shared.User) (Limits, error) {
	l := Limits{MaxSpaces: u.MaxSpaces, ComputeUnits: u.ComputeUnits, StorageUnits: u.StorageUnits, MaxTunnels: u.MaxTunnels}
	for _, gid := range u.Groups {
		g, err := Get[shared.Group](ctx, r, gid)
		if notFound(err) {
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

func notFound(err error) bool { return err != nil && shared.ErrorCode(err) == shared.ENOTFOUND }

// QuotaScope says which spaces count against a user's quota: those of the
// store that Keep accepts (nil: all), plus Far, what the user's spaces
// elsewhere use as the origin reported it to a leaf.
type QuotaScope struct {
	Keep func(*shared.Space) bool
	Far  api.LeafUsage
}

// UsageOf counts what the spaces of userID in r, within scope, use.
func UsageOf(ctx context.Context, r Reader, userID string, scope QuotaScope) (api.LeafUsage, error) {
	u := scope.Far
	spaces, err := ListWhere(ctx, r, func(sp *shared.Space) bool {
		return sp.UserID == userID && (scope.Keep == nil || scope.Keep(sp))
	})
	if err != nil {
		return u, err
	}
	templates := map[string]*shared.Template{}
	for _, sp := range spaces {
		t, seen := templates[sp.TemplateID]
		if !seen {
			t, err = Get[shared.Template](ctx, r, sp.TemplateID)
			if err != nil && !notFound(err) {
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

// QuotaOf returns u's limits and what their spaces in r within scope use.
func QuotaOf(ctx context.Context, r Reader, u *shared.User, scope QuotaScope) (shared.Quota, error) {
	l, err := LimitsOf(ctx, r, u)
	q := shared.Quota{MaxSpaces: l.MaxSpaces, ComputeUnits: l.ComputeUnits, StorageUnits: l.StorageUnits, MaxTunnels: l.MaxTunnels}
	if err != nil {
		return q, err
	}
	used, err := UsageOf(ctx, r, u.ID, scope)
	if err != nil {
		return q, err
	}
	q.NumberSpaces, q.NumberSpacesDeployed = used.NumberSpaces, used.NumberSpacesDeployed
	q.UsedComputeUnits, q.UsedStorageUnits = used.UsedComputeUnits, used.UsedStorageUnits
	return q, nil
}

// ownerIn returns the user id as r holds them: EINVALID when they are
// gone, so that no space is written for a deleted user.
func ownerIn(ctx context.Context, r Reader, id string) (*shared.User, error) {
	u, err := Get[shared.User](ctx, r, id)
	if notFound(err) {
		return nil, shared.Errorf(shared.EINVALID, "user_id: user %s does not exist", shared.Quote(id))
	}
	return u, err
}

// SpaceQuotaExceeded is the EQUOTA error of owner, who may have limit
// spaces, asking for one more.
func SpaceQuotaExceeded(owner *shared.User, limit int) error {
	return shared.Errorf(shared.EQUOTA, "space quota exceeded: user %s may have %d spaces", shared.Quote(owner.Username), limit)
}

// CheckSpaceCount fails with EQUOTA when owner, whose spaces in r within
// scope are counted, may have no further space.
func CheckSpaceCount(ctx context.Context, r Reader, owner *shared.User, scope QuotaScope) error {
	l, err := LimitsOf(ctx, r, owner)
	if err != nil || l.MaxSpaces == 0 {
		return err
	}
	used, err := UsageOf(ctx, r, owner.ID, scope)
	if err != nil {
		return err
	}
	if used.NumberSpaces >= l.MaxSpaces {
		return SpaceQuotaExceeded(owner, l.MaxSpaces)
	}
	return nil
}

// SpaceNameTaken is the error of a new or renamed space whose name its
// owner already uses at its location.
func SpaceNameTaken(owner *shared.User, sp *shared.Space) error {
	return shared.Errorf(shared.ECONFLICT, "user %s already has a space named %s at location %s", shared.Quote(owner.Username), shared.Quote(sp.Name), shared.Quote(sp.Location))
}

// CreateSpace writes the new space sp if its owner's space quota allows it,
// in one transaction of store: EQUOTA when it does not, ECONFLICT when the
// owner already has a space of that name at its location, EINVALID when
// the owner is gone. Only the spaces within scope are counted.
func CreateSpace(ctx context.Context, store Store, sp *shared.Space, scope QuotaScope) error {
	var taken error
	err := store.Update(ctx, func(tx Tx) error {
		taken = nil
		owner, err := ownerIn(ctx, tx, sp.UserID)
		if err != nil {
			return err
		}
		if err := CheckSpaceCount(ctx, tx, owner, scope); err != nil {
			return err
		}
		err = tx.Put(ctx, sp)
		if shared.ErrorCode(err) == shared.ECONFLICT {
			taken = SpaceNameTaken(owner, sp)
			return taken
		}
		return err
	})
	if taken != nil && errors.Is(err, taken) {
		return taken
	}
	return err
}

// ClaimStart moves the space id to starting if its owner's compute units
// allow its template's, in one transaction of store, and returns the space
// as it was and as claimed. A space that is deployed already, or being
// deleted, is returned unchanged with claimed nil: it uses no further
// units, and its runtime says what a start does to it; so is a space whose
// start no limit counts (no compute units, or none needed), which is left
// to the runtime alone so that its log tells the start from the state
// before. EQUOTA when the units do not suffice, ENOTFOUND when the space is
// gone.
func ClaimStart(ctx context.Context, store Store, id string, now func() time.Time, scope QuotaScope) (before, claimed *shared.Space, err error) {
	err = store.Update(ctx, func(tx Tx) error {
		before, claimed = nil, nil
		sp, err := Get[shared.Space](ctx, tx, id)
		if notFound(err) {
			return shared.Errorf(shared.ENOTFOUND, "space %s not found", shared.Quote(id))
		}
		if err != nil {
			return err
		}
		before = sp
		if sp.Deployed() || sp.State == shared.SpaceDeleting {
			return nil
		}
		owner, err := Get[shared.User](ctx, tx, sp.UserID)
		if notFound(err) {
			return shared.Errorf(shared.ENOTFOUND, "user %s not found", shared.Quote(sp.UserID))
		}
		if err != nil {
			return err
		}
		units, err := CheckComputeUnits(ctx, tx, owner, sp, scope)
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

// CheckComputeUnits fails with EQUOTA when starting sp, which is not
// deployed, would take owner past their compute units. It reports whether
// the start takes units that a limit counts, which the start must then
// claim.
func CheckComputeUnits(ctx context.Context, r Reader, owner *shared.User, sp *shared.Space, scope QuotaScope) (bool, error) {
	l, err := LimitsOf(ctx, r, owner)
	if err != nil || l.ComputeUnits == 0 {
		return false, err
	}
	t, err := Get[shared.Template](ctx, r, sp.TemplateID)
	if notFound(err) {
		return false, nil // the runtime fails the start, which uses nothing
	}
	if err != nil {
		return false, err
	}
	used, err := UsageOf(ctx, r, owner.ID, scope)
	if err != nil {
		return false, err
	}
	if used.UsedComputeUnits+t.ComputeUnits > l.ComputeUnits {
		return false, shared.Errorf(shared.EQUOTA, "compute unit quota exceeded: %d of %d in use, and space %s needs %d", used.UsedComputeUnits, l.ComputeUnits, shared.Quote(sp.Name), t.ComputeUnits)
	}
	return t.ComputeUnits > 0, nil
}

// ReleaseStart gives back the claim of a start that the runtime failed
// without recording anything: if the space is still as ClaimStart wrote
// it, it returns to its state before.
func ReleaseStart(ctx context.Context, store Store, before, claimed *shared.Space) error {
	return store.Update(ctx, func(tx Tx) error {
		cur, err := Get[shared.Space](ctx, tx, claimed.ID)
		if notFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.GetRevision() != claimed.GetRevision() {
			return nil // the runtime, or someone else, moved it on
		}
		back := *before
		back.SetRevision(cur.GetRevision())
		return tx.Put(ctx, &back)
	})
}

// CreateToken writes the new API token t unless its user holds max tokens
// already, in one transaction of store: EQUOTA when they do.
func CreateToken(ctx context.Context, store Store, t *shared.Token, max int) error {
	return store.Update(ctx, func(tx Tx) error {
		held, err := ListWhere(ctx, tx, func(o *shared.Token) bool { return o.UserID == t.UserID })
		if err != nil {
			return err
		}
		if len(held) >= max {
			return shared.Errorf(shared.EQUOTA, "you hold %d API tokens, the most allowed: delete one first", len(held))
		}
		return tx.Put(ctx, t)
	})
}

// ListUsers returns the users of r in state (shared.CheckUserState), each
// with the number of their spaces and of those deployed.
func ListUsers(ctx context.Context, r Reader, state string) ([]shared.UserListing, error) {
	if err := shared.CheckUserState(state); err != nil {
		return nil, err
	}
	spaces, err := List[shared.Space](ctx, r)
	if err != nil {
		return nil, err
	}
	count, deployed := map[string]int{}, map[string]int{}
	for _, sp := range spaces {
		count[sp.UserID]++
		if sp.Deployed() {
			deployed[sp.UserID]++
		}
	}
	users, err := List[shared.User](ctx, r)
	if err != nil {
		return nil, err
	}
	out := []shared.UserListing{}
	for _, u := range users {
		if u.InState(state) {
			out = append(out, shared.UserListing{User: u, NumberSpaces: count[u.ID], NumberSpacesDeployed: deployed[u.ID]})
		}
	}
	return out, nil
}
