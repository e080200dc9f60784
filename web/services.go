package web

import (
	"context"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
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

// newSpaces makes the server's space service over its store.
func (s *Server) newSpaces(opts Options) error {
	so := leaf.SpaceOptions{Store: s.store, Location: s.location, Runner: opts.Spaces, Logs: opts.Logs,
		Runtimes: opts.Runtimes, Quotas: spaceQuotas{}, Logger: s.log, Now: s.now}
	if s.hub != nil {
		so.Fleet = hubFleet{s.hub}
	}
	if s.leaf != nil {
		so.Uplink, so.Far = s.leaf.Uplink, s.originUsage
	}
	svc, err := leaf.NewSpaceService(so)
	s.spaces = svc
	return err
}

// hubFleet is an origin's hub as the space service's leaf.Fleet.
type hubFleet struct{ hub *origin.Hub }

func (f hubFleet) Leaves() []leaf.FleetLeaf {
	var out []leaf.FleetLeaf
	for _, in := range f.hub.Leaves() {
		out = append(out, leaf.FleetLeaf{Location: in.Location, Connected: in.Connected, Restricted: in.Restricted,
			Protocol: in.Protocol, Runtimes: in.Runtimes})
	}
	return out
}

func (f hubFleet) Command(ctx context.Context, location string, cmd wire.Command) error {
	return f.hub.Command(ctx, location, cmd)
}
