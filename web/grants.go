package web

import (
	"context"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
)

// actorOf returns the actor p is, as the services and the grant rules see
// them.
func actorOf(p *principal) *shared.Actor {
	return &shared.Actor{User: p.user, Permissions: shared.PermissionSet(p.perms), Admin: isAdmin(p)}
}

// change is one change of a user the grant rules judge (before nil:
// created; after nil: deleted).
type change struct {
	userBefore, userAfter *shared.User
}

// mayChange reports why p may not make c (an EFORBIDDEN error naming what p
// lacks), or nil when p may. The rules are origin.JudgeChange, which the
// role service applies too; the user handlers call them here until users
// have their service.
func (s *Server) mayChange(ctx context.Context, p *principal, c change) error {
	return origin.JudgeChange(ctx, actorOf(p), origin.Change{UserBefore: c.userBefore, UserAfter: c.userAfter}, s.role)
}
