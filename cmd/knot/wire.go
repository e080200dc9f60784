package main

import (
	"context"
	"errors"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/metrics"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/web"
)

// serverParts are what a web server is wired from: the store as opened,
// what runs the spaces of its location, what its services need, and the
// web server's own options (whose Services, Local, Store, Metrics
// and Origin newServer sets). Options.Hub makes an origin, Uplink a leaf.
type serverParts struct {
	web.Options
	// Store is the store as opened. Required.
	Store storage.Store
	// Runner starts, stops and deletes the spaces of the location and Logs
	// keeps their logs (the runtime manager); nil means manual templates
	// only, and no logs.
	Runner leaf.SpaceController
	Logs   leaf.SpaceLogs
	// Runtimes names the runtimes Runner drives ("docker", "podman",
	// "nomad"), for placing spaces of location "auto".
	Runtimes []string
	// Agents is the endpoint of the location's agents; nil means no
	// terminals.
	Agents *leaf.Agents
	// DisableProxy turns off forwarded ports and web apps
	// (server.disable_proxy).
	DisableProxy bool
	// Sealer seals protected variables, TOTP secrets and SSH host keys
	// (server.encrypt); TOTP turns on two-factor login and needs it.
	Sealer *crypt.Sealer
	TOTP   *origin.TOTPOptions
	// SessionMaxAge is how long a login lasts at most; 0 means 7 days.
	SessionMaxAge time.Duration
	// AuditRetention is how long audit events are kept
	// (server.audit_retention); 0 keeps them forever.
	AuditRetention time.Duration
	// ValidateTemplate checks a template before it is stored; nil means
	// basic checks only.
	ValidateTemplate func(*shared.Template) error
	// Uplink makes a leaf, which reaches its origin's REST API as Origin
	// says (URL, Token, Resolve, HTTPClient).
	Uplink *leaf.Uplink
	Origin leaf.OriginOptions
}

// newServer makes the services of p's role over its store, package
// origin's for an origin or a standalone server and package leaf's for a
// leaf, the server's own location with package leaf's space service on
// every server, and the web server over them. It returns the server and
// its housekeeping (origin.Housekeep), which the caller runs.
func newServer(p serverParts) (*web.Server, func(context.Context) error, error) {
	o := p.Options
	if p.TOTP != nil && p.Sealer == nil {
		return nil, nil, errors.New("TOTP needs server.encrypt, which seals the TOTP secrets")
	}
	var st *storage.Observed
	if p.Uplink != nil {
		st = leaf.Observe(p.Store, p.Uplink)
		o.Metrics = func(ctx context.Context) []metrics.Family { return append(st.Metrics(), p.Uplink.Metrics(ctx)...) }
	} else {
		st = origin.Observe(p.Store, o.Hub)
		o.Metrics = func(context.Context) []metrics.Family { return append(st.Metrics(), o.Hub.Metrics()...) }
	}
	o.Store = st
	audit := origin.NewAuditService(st, o.Location, origin.ServiceOptions{Now: o.Now})
	ao := origin.AuthOptions{Now: o.Now, Logins: origin.NewLogins(origin.LoginsOptions{Now: o.Now}), SessionMaxAge: p.SessionMaxAge, Sealer: p.Sealer, TOTP: p.TOTP,
		Audit: origin.RecordAudit(audit, o.Logger), Logger: o.Logger}
	lo := leaf.LocalOptions{
		SpaceOptions: leaf.SpaceOptions{Store: st, Location: o.Location, Runner: p.Runner, Logs: p.Logs, Runtimes: p.Runtimes,
			Sealer: p.Sealer, Uplink: p.Uplink, Audit: audit, Logger: o.Logger, Now: o.Now},
		Agents: p.Agents, Version: o.Version, NoProxy: p.DisableProxy,
	}
	if p.Uplink != nil {
		ao.OriginURL = p.Origin.URL
		svcs, err := leaf.NewServices(leaf.ServicesOptions{LocalOptions: lo, Origin: p.Origin, Audit: audit, Auth: origin.NewAuthService(st, ao)})
		if err != nil {
			return nil, nil, err
		}
		o.Services, o.Local, o.Origin = svcs.Services, svcs.Local, svcs.Origin
		return newWeb(o, p)
	}
	if o.Hub != nil {
		lo.Hub = o.Hub
	}
	local, err := leaf.NewLocal(lo)
	if err != nil {
		return nil, nil, err
	}
	o.Local = local
	o.Services = origin.NewServices(st, origin.ServicesOptions{Location: o.Location, Hub: o.Hub, Spaces: local.Spaces, Audit: audit,
		Auth: origin.NewAuthService(st, ao), Validate: p.ValidateTemplate, Sealer: p.Sealer, Now: o.Now})
	return newWeb(o, p)
}

// newWeb returns the web server of o and the housekeeping of its services.
func newWeb(o web.Options, p serverParts) (*web.Server, func(context.Context) error, error) {
	o.ValidateTemplate = p.ValidateTemplate
	srv, err := web.New(o)
	if err != nil {
		return nil, nil, err
	}
	hk := origin.HousekeepingOptions{Auth: o.Services.Auth, Audit: o.Services.Audit, AuditRetention: p.AuditRetention,
		Now: o.Now, Logger: o.Logger}
	return srv, func(ctx context.Context) error { return origin.Housekeep(ctx, hk) }, nil
}
