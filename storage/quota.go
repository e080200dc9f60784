package storage

import (
	"context"

	"github.com/knot-dev/knot/shared"
)

// Quotas hold in the store, not in a process: a new space, a start and a
// new API token are each decided and written in one store transaction
// (Store.Update), which counts what the owner holds, reads their limits and
// their groups', and writes the record only if it fits. Servers that share
// one MySQL or Redis database therefore keep one quota between them: of two
// concurrent creations, the transaction that commits second has read a
// count that changed, runs again and sees the other's record. The origin's
// services and a leaf's count with the functions here; the space service
// (package leaf, spacequota.go) decides a new space and a start with them.
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
	Far  shared.Usage
}

// UsageOf counts what the spaces of userID in r, within scope, use.
func UsageOf(ctx context.Context, r Reader, userID string, scope QuotaScope) (shared.Usage, error) {
	spaces, err := ListWhere(ctx, r, func(sp *shared.Space) bool {
		return sp.UserID == userID && (scope.Keep == nil || scope.Keep(sp))
	})
	if err != nil {
		return scope.Far, err
	}
	templates := map[string]*shared.Template{}
	for _, sp := range spaces {
		if _, seen := templates[sp.TemplateID]; seen {
			continue
		}
		t, err := Get[shared.Template](ctx, r, sp.TemplateID)
		if err != nil && !notFound(err) {
			return scope.Far, err
		}
		templates[sp.TemplateID] = t
	}
	u := shared.CountUsage(spaces, templates, userID, func(*shared.Space) bool { return true })
	return u.Plus(scope.Far), nil
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
