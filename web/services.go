package web

import (
	"context"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/wire"
)

// services returns the group and role services of the server: groups and
// roles when given, else the origin's over the server's store (which counts
// the writes and tells the hub of them) or, on a leaf, the leaf's over its
// replica, which forward writes to the origin acting for the caller (the
// credential that api puts into the context). It sets the fleet service
// likewise.
func (s *Server) services(groups shared.GroupService, roles shared.RoleService) (shared.GroupService, shared.RoleService) {
	if s.leaf != nil {
		opts := leaf.ServiceOptions{Store: s.store, Origin: s.origin}
		s.fleet = leaf.NewFleetService(opts)
		if groups == nil {
			groups = leaf.NewGroupService(opts)
		}
		if roles == nil {
			roles = leaf.NewRoleService(opts)
		}
		return groups, roles
	}
	s.fleet = origin.NewFleetService(s.hub, origin.FleetOptions{Usage: func(ctx context.Context, userID string, keep func(*shared.Space) bool) (shared.Usage, error) {
		u, err := s.usage(ctx, userID, keep)
		return shared.Usage(u), err
	}})
	if groups == nil {
		groups = origin.NewGroupService(s.store, origin.ServiceOptions{Now: s.now})
	}
	if roles == nil {
		roles = origin.NewRoleService(s.store, origin.ServiceOptions{Now: s.now})
	}
	return groups, roles
}

// templateServices returns the template, variable and audit services of
// the server: the origin's over its store or, on a leaf, the leaf's over
// its replica (local variables are written there; the other writes of
// the others go to the origin). Both count a
// template's spaces from the list cache; the audit log is the store's on
// every server.
func (s *Server) templateServices(validate func(*shared.Template) error) (shared.TemplateService, shared.VariableService, shared.AuditService) {
	spaces := func(ctx context.Context) ([]*shared.Space, error) {
		v, err := s.lists.get(ctx, s.spaces)
		if err != nil {
			return nil, err
		}
		return v.spaces, nil
	}
	opts := origin.ServiceOptions{Now: s.now}
	audits := origin.NewAuditService(s.store, s.location, opts)
	if s.leaf != nil {
		lopts := leaf.ServiceOptions{Store: s.store, Origin: s.origin}
		return leaf.NewTemplateService(lopts, spaces),
			leaf.NewVariableService(leaf.VariableOptions{ServiceOptions: lopts, Sealer: s.sealer, OriginURL: s.leaf.OriginURL, Now: s.now}),
			audits
	}
	return origin.NewTemplateService(s.store, origin.TemplateOptions{ServiceOptions: opts, Validate: validate, Spaces: spaces}),
		origin.NewVariableService(s.store, s.sealer, opts), audits
}

// usage counts the spaces of user in the store for which keep is true.
func (s *Server) usage(ctx context.Context, userID string, keep func(*shared.Space) bool) (api.LeafUsage, error) {
	v, err := s.lists.get(ctx, s.spaces)
	if err != nil {
		return api.LeafUsage{}, err
	}
	return api.LeafUsage(shared.CountUsage(v.spaces, v.templates, userID, keep)), nil
}

// userServices returns the user and API token services of the server: the
// origin's over the server's store, or on a leaf the leaf's over its
// replica, whose quota asks the origin what the user's spaces elsewhere
// use.
func (s *Server) userServices() (shared.UserService, shared.TokenService) {
	if s.leaf == nil {
		opts := origin.ServiceOptions{Now: s.now}
		return origin.NewUserService(s.store, origin.ServiceOptions{Now: s.now, Records: s.spaceRecords}, s.deleteUserSpace),
			origin.NewTokenService(s.store, opts)
	}
	opts := leaf.ServiceOptions{Store: s.store, Origin: s.origin}
	logFar := func(ctx context.Context, userID string, err error) {
		s.log.InfoContext(ctx, "quota counts the spaces this leaf knows of", "user_id", userID, "reason", shared.ErrorMessage(err))
	}
	uo := leaf.UserOptions{Location: s.location, FarUsage: s.originUsage, Log: logFar, Records: s.spaceRecords}
	return leaf.NewUserService(opts, uo), leaf.NewTokenService(opts)
}

// spaceRecords returns the space service's snapshot of the store.
func (s *Server) spaceRecords(ctx context.Context) (*shared.SpaceList, error) {
	return s.spaces.Snapshot(ctx)
}

// originUsage asks the origin what the spaces of user at every other
// location use. It fails at once when the origin is not reachable.
func (s *Server) originUsage(ctx context.Context, userID string) (api.LeafUsage, error) {
	u, err := s.origin.Usage(ctx, userID)
	return api.LeafUsage(u), err
}

// newSpaces makes the server's space service over its store and, on a
// leaf, the way to the origin first.
func (s *Server) newSpaces(opts Options) error {
	if l := s.leaf; l != nil {
		s.origin = leaf.NewOrigin(leaf.OriginOptions{URL: l.OriginURL, Resolve: l.Resolve, HTTPClient: l.HTTPClient,
			Uplink: l.Uplink, Location: s.location, Token: l.Token, Version: s.version, Logger: s.log})
	}
	so := leaf.SpaceOptions{Store: s.store, Location: s.location, Runner: opts.Spaces, Logs: opts.Logs,
		Runtimes: opts.Runtimes, Sealer: s.sealer, Logger: s.log, Now: s.now}
	if s.hub != nil {
		so.Fleet = hubFleet{s.hub}
	}
	if s.leaf != nil {
		so.Uplink, so.Far, so.Origin = s.leaf.Uplink, s.originUsage, s.origin
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
