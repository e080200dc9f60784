package web

import (
	"context"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
)

// services returns the group and role services of the server: groups and
// roles when given, else the origin's over the server's store (which counts
// the writes and tells the hub of them) or, on a leaf, the leaf's over its
// replica. The leaf's services get no way to the origin for writes: the
// writes of their routes are forwarded before they reach a handler.
func (s *Server) services(groups shared.GroupService, roles shared.RoleService) (shared.GroupService, shared.RoleService) {
	if groups == nil {
		if s.leaf != nil {
			groups = leaf.NewGroupService(leaf.ServiceOptions{Store: s.store, Up: s.originDown})
		} else {
			groups = origin.NewGroupService(s.store, origin.ServiceOptions{Now: s.now})
		}
	}
	if roles == nil {
		if s.leaf != nil {
			roles = leaf.NewRoleService(leaf.ServiceOptions{Store: s.store, Up: s.originDown})
		} else {
			roles = origin.NewRoleService(s.store, origin.ServiceOptions{Now: s.now})
		}
	}
	return groups, roles
}

// userServices returns the user and API token services of the server: the
// origin's over the server's store, or on a leaf the leaf's over its
// replica, whose quota asks the origin what the user's spaces elsewhere
// use.
func (s *Server) userServices() (shared.UserService, shared.TokenService) {
	if s.leaf == nil {
		opts := origin.ServiceOptions{Now: s.now}
		return origin.NewUserService(s.store, opts, s.deleteUserSpace), origin.NewTokenService(s.store, opts)
	}
	opts := leaf.ServiceOptions{Store: s.store, Up: s.originDown}
	logFar := func(ctx context.Context, userID string, err error) {
		s.log.InfoContext(ctx, "quota counts the spaces this leaf knows of", "user_id", userID, "reason", shared.ErrorMessage(err))
	}
	uo := leaf.UserOptions{Location: s.location, FarUsage: s.originUsage, Log: logFar}
	return leaf.NewUserService(opts, uo), leaf.NewTokenService(opts)
}
