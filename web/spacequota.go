package web

import (
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/storage"
)

// The space handlers decide quotas with storage's functions (storage/quota.go),
// which the origin's and the leaf's services use too: a new space, a start
// and a new API token are each decided and written in one store
// transaction, so that a quota holds across servers sharing one database.
// On a leaf the spaces of other locations are counted from the origin's
// answer, taken before the transaction.

type quotaScope = storage.QuotaScope

var (
	createSpace        = storage.CreateSpace
	claimStart         = storage.ClaimStart
	releaseStart       = storage.ReleaseStart
	spaceNameTaken     = storage.SpaceNameTaken
	spaceQuotaExceeded = storage.SpaceQuotaExceeded
)

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
	return quotaScope{Keep: func(sp *shared.Space) bool { return !s.remote(sp) }, Far: far}
}

// quota returns the limits of u (their own plus their groups') and usage,
// as the quota of a new space counts them.
func (s *Server) quota(ctx context.Context, u *shared.User) (api.Quota, error) {
	q, err := storage.QuotaOf(ctx, s.store, u, s.spaceScope(ctx, u.ID))
	return quotaResponse(q), err
}

func quotaResponse(q shared.Quota) api.Quota {
	return api.Quota{MaxSpaces: q.MaxSpaces, ComputeUnits: q.ComputeUnits, StorageUnits: q.StorageUnits, MaxTunnels: q.MaxTunnels,
		NumberSpaces: q.NumberSpaces, NumberSpacesDeployed: q.NumberSpacesDeployed,
		UsedComputeUnits: q.UsedComputeUnits, UsedStorageUnits: q.UsedStorageUnits}
}

// getUser returns the user with id as the store holds them, for the space
// handlers, which act for an owner other than the actor.
func (s *Server) getUser(ctx context.Context, id string) (*shared.User, error) {
	u, err := storage.Get[shared.User](ctx, s.store, id)
	if isCode(err, shared.ENOTFOUND) {
		return nil, notFound("user %s not found", quote(id))
	}
	return u, err
}

// checkGroups fails when an id names no group, for the template handlers.
func (s *Server) checkGroups(ctx context.Context, field string, ids []string) error {
	for _, id := range ids {
		if _, err := s.store.Get(ctx, shared.KindGroup, id); isCode(err, shared.ENOTFOUND) {
			return invalid("%s: group %s does not exist", field, quote(id))
		} else if err != nil {
			return err
		}
	}
	return nil
}
