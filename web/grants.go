package web

import "github.com/knot-dev/knot/shared"

// actorOf returns the actor p is, as the services and the grant rules see
// them.
func actorOf(p *principal) *shared.Actor {
	return &shared.Actor{User: p.user, Permissions: shared.PermissionSet(p.perms), Admin: isAdmin(p)}
}
