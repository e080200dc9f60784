package leaf

import (
	"context"
	"fmt"
	"net"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
)

// What a server's HTTP handlers (package web) call, made here rather than
// there: the server's own location (NewLocal, on every server: an origin
// runs its location as a leaf does) and a leaf's services (NewServices).

// Observe returns st observed for a leaf: up hears of every write of a
// space and every audit event, which it reports to the origin, and the
// store's failures are counted for /metrics.
func Observe(st storage.Store, up *Uplink) *storage.Observed {
	return storage.Observe(st, func(k shared.Kind) {
		if k == shared.KindSpace || k == "" {
			up.Notify()
		}
	})
}

// Local is a server's own location: its space service, the streams to the
// agents of spaces, and the ways into spaces.
type Local struct {
	Spaces  *SpaceService
	Streams *AgentStreams
	Access  *Access
	// Agents is the endpoint of the location's agents; nil when there is
	// none, and then no terminal can be opened here.
	Agents *Agents
}

// LocalOptions configures NewLocal. SpaceOptions configure the space
// service; its Store is the observed store of the server (Observe, or
// origin.Observe on an origin), and its Audit records the uses of the
// ways into spaces too.
type LocalOptions struct {
	SpaceOptions
	// Agents is the endpoint of the location's agents; nil means none.
	Agents *Agents
	// Version is this server's version, against which agents are outdated;
	// "" means "dev".
	Version string
	// NoProxy turns off forwarded ports and web apps
	// (server.disable_proxy).
	NoProxy bool
	// Hub makes this the own location of an origin (*origin.Hub): the
	// space service acts on its leaves' spaces through it (SpaceOptions.
	// Fleet), streams to their agents go through it, and it learns this
	// location and how to check the spaces restricted leaves report. nil
	// means a standalone server or a leaf.
	Hub Hub
}

// Hub is an origin's hub, as the origin's own location uses it.
type Hub interface {
	Fleet
	RemoteStreams
	// AgentState tells what the leaves reported of their agents
	// (AccessOptions.RemoteAgents).
	AgentState(location, spaceID string) (wire.AgentState, string, bool)
	// AgentsStale tells whether what AgentState tells of a location may
	// be out of date: its leaf is not linked (AccessOptions.RemoteStale).
	AgentsStale(location string) bool
	SetRelayLocal(func(ctx context.Context, h *wire.RelayOpen, conn net.Conn))
	SetHome(location string, check func(ctx context.Context, owner *shared.User, old, sp *shared.Space) error)
}

// NewLocal returns the server's own location that opts describe. On a
// leaf (SpaceOptions.Uplink) the uplink relays the streams the origin
// opens to spaces here, and on an origin (Hub) the hub does. A standalone
// server or an origin serves a trusted location, which no leaf may claim:
// only a leaf serves a restricted one (on its owner's API token).
func NewLocal(opts LocalOptions) (*Local, error) {
	so := opts.SpaceOptions
	if _, ok := shared.LocationOwner(so.Location); ok && so.Uplink == nil {
		return nil, fmt.Errorf("leaf: location %q is a restricted location, which only a leaf on that user's API token serves", so.Location)
	}
	// The agents of other locations: as the leaves report them to an
	// origin's hub, or as the origin passes them on to a leaf's uplink.
	var remoteAgents func(location, spaceID string) (wire.AgentState, string, bool)
	var remoteStale func(location string) bool
	switch {
	case opts.Hub != nil:
		so.Fleet, remoteAgents, remoteStale = opts.Hub, opts.Hub.AgentState, opts.Hub.AgentsStale
	case so.Uplink != nil:
		remoteAgents, remoteStale = so.Uplink.RemoteAgent, so.Uplink.RemoteStale
	}
	spaces, err := NewSpaceService(so)
	if err != nil {
		return nil, err
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	streams := NewAgentStreams(StreamsOptions{Location: so.Location, Store: so.Store, Agents: opts.Agents, Audit: so.Audit,
		Sealer: so.Sealer, NoProxy: opts.NoProxy, Logger: so.Logger})
	access := NewAccess(AccessOptions{Location: so.Location, Store: so.Store, Spaces: spaces, Agents: opts.Agents, Streams: streams,
		RemoteAgents: remoteAgents, RemoteStale: remoteStale, Audit: so.Audit, Version: opts.Version, NoProxy: opts.NoProxy, Now: so.Now, Logger: so.Logger})
	if so.Uplink != nil {
		so.Uplink.SetStreams(streams)
	}
	if h := opts.Hub; h != nil {
		streams.SetRemote(h)
		h.SetRelayLocal(streams.ServeRelayed)
		h.SetHome(so.Location, spaces.CheckReport)
	}
	return &Local{Spaces: spaces, Streams: streams, Access: access, Agents: opts.Agents}, nil
}

// ServicesOptions configures NewServices.
type ServicesOptions struct {
	// LocalOptions configure the leaf's own location; its Store is the
	// leaf's replica (Observe) and its Uplink the leaf's link. Required.
	// NewServices sets its Origin and Far.
	LocalOptions
	// Origin says how to reach the origin's REST API; NewServices sets
	// its Uplink, Location, Version and Logger. URL is required.
	Origin OriginOptions
	// Audit is the leaf's audit log, over its replica (the origin's
	// implementation, origin.NewAuditService). Required.
	Audit shared.AuditService
	// Auth logs in over the replica (the origin's implementation,
	// origin.NewAuthService told the origin's URL). Required.
	Auth shared.AuthService
}

// Services are what a leaf's HTTP server calls.
type Services struct {
	// Services read the replica and make writes of origin-owned data at
	// the origin, as the caller (the shared.Credential in the context).
	shared.Services
	// Local is the leaf's own location.
	Local *Local
	// Origin is the way to the origin's REST API.
	Origin *Origin
}

// NewServices returns the services of a leaf.
func NewServices(opts ServicesOptions) (*Services, error) {
	lo := opts.LocalOptions
	oo := opts.Origin
	oo.Uplink, oo.Location, oo.Version, oo.Logger = lo.Uplink, lo.Location, lo.Version, lo.Logger
	origin := NewOrigin(oo)
	far := func(ctx context.Context, userID string) (api.LeafUsage, error) {
		u, err := origin.Usage(ctx, userID)
		return api.LeafUsage(u), err
	}
	lo.Origin, lo.Far, lo.Audit = origin, far, opts.Audit
	local, err := NewLocal(lo)
	if err != nil {
		return nil, err
	}
	so := ServiceOptions{Store: lo.Store, Origin: origin}
	spaces := func(ctx context.Context) ([]*shared.Space, error) {
		l, err := local.Spaces.Snapshot(ctx)
		if err != nil {
			return nil, err
		}
		return l.Spaces, nil
	}
	log := local.Spaces.log
	logFar := func(ctx context.Context, userID string, err error) {
		log.InfoContext(ctx, "quota counts the spaces this leaf knows of", "user_id", userID, "reason", shared.ErrorMessage(err))
	}
	auth := NewAuthService(AuthOptions{
		Local: opts.Auth,
		OriginLogin: func(ctx context.Context, id string, req shared.LoginRequest) {
			origin.Login(ctx, id, req.Email, req.Password, req.TOTPCode)
		},
		OriginLogout: origin.Logout,
		Origin:       origin,
	})
	return &Services{
		Services: shared.Services{
			Users:     NewUserService(so, UserOptions{Location: lo.Location, FarUsage: far, Log: logFar, Records: local.Spaces.Snapshot}),
			Tokens:    NewTokenService(so),
			Auth:      auth,
			Groups:    NewGroupService(so),
			Roles:     NewRoleService(so),
			Templates: NewTemplateService(so, spaces),
			Variables: NewVariableService(VariableOptions{ServiceOptions: so, Sealer: lo.Sealer, OriginURL: oo.URL, Now: lo.Now, Audit: opts.Audit}),
			Audit:     opts.Audit,
			Fleet:     NewFleetService(so),
		},
		Local:  local,
		Origin: origin,
	}, nil
}
