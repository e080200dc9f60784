package web

import (
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
