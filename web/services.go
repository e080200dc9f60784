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

// templateServices returns the template, variable and audit services of
// the server: the origin's over its store or, on a leaf, the leaf's over
// its replica (local variables are written there; the other writes of
// these routes are forwarded before they reach a handler). Both count a
// template's spaces from the list cache; the audit log is the store's on
// every server.
func (s *Server) templateServices(validate func(*shared.Template) error) (shared.TemplateService, shared.VariableService, shared.AuditService) {
	spaces := func(ctx context.Context) ([]*shared.Space, error) {
		v, err := s.lists.get(ctx, s.store)
		if err != nil {
			return nil, err
		}
		return v.spaces, nil
	}
	opts := origin.ServiceOptions{Now: s.now}
	audits := origin.NewAuditService(s.store, s.location, opts)
	if s.leaf != nil {
		lopts := leaf.ServiceOptions{Store: s.store, Up: s.originDown}
		return leaf.NewTemplateService(lopts, spaces),
			leaf.NewVariableService(leaf.VariableOptions{ServiceOptions: lopts, Sealer: s.sealer, OriginURL: s.leaf.OriginURL, Now: s.now}),
			audits
	}
	return origin.NewTemplateService(s.store, origin.TemplateOptions{ServiceOptions: opts, Validate: validate, Spaces: spaces}),
		origin.NewVariableService(s.store, s.sealer, opts), audits
}
