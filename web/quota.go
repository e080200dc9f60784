package web

import (
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/storage"
)

// Quotas hold in the store, not in this process: a new API token is
// decided and written in one store transaction (Store.Update), which counts
// what the owner holds and writes the record only if it fits; so are a new
// space and a start, by the space service (package leaf, spacequota.go),
// which reads the limits and usage with spaceQuotas. Servers that share one
// MySQL or Redis database therefore keep one quota between them.
//
// The per-owner locks of a server (Server.ownerLocks) remain only to keep
// one server's own requests from conflicting with each other in the store,
// where an optimistic driver (Redis) would run them again and again.
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

// spaceQuotas are the space service's leaf.Quotas: limitsOf and usageIn.
type spaceQuotas struct{}

func (spaceQuotas) Limits(ctx context.Context, r storage.Reader, u *shared.User) (api.Quota, error) {
	l, err := limitsOf(ctx, r, u)
	return api.Quota{MaxSpaces: l.MaxSpaces, ComputeUnits: l.ComputeUnits, StorageUnits: l.StorageUnits, MaxTunnels: l.MaxTunnels}, err
}

func (spaceQuotas) Usage(ctx context.Context, r storage.Reader, userID string, keep func(*shared.Space) bool) (api.LeafUsage, error) {
	return usageIn(ctx, r, userID, quotaScope{keep: keep})
}
