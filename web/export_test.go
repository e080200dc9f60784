package web

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/metrics"
	"github.com/knot-dev/knot/storage"
)

// SpaceController runs spaces (leaf.SpaceController).
type SpaceController = leaf.SpaceController

// TOTPOptions turns on two-factor login (origin.TOTPOptions).
type TOTPOptions = origin.TOTPOptions

// TestOptions are a server's Options and what its services are made from,
// as cmd/knot wires a server: for the tests, which build servers over a
// store (NewTest). Only Store is required.
type TestOptions struct {
	Store            storage.Store
	Spaces           SpaceController // nil: manual templates only
	Logs             leaf.SpaceLogs
	Agents           *leaf.Agents
	Runtimes         []string
	Sealer           *crypt.Sealer
	TOTP             *TOTPOptions
	SessionMaxAge    time.Duration
	ValidateTemplate func(*shared.Template) error
	Leaf             *TestLeaf

	Logger          *slog.Logger
	Version         string
	Location        string
	URL             string
	AgentBinary     string
	WildcardDomain  string
	DisableProxy    bool
	Now             func() time.Time
	ShutdownTimeout time.Duration
	TLS             *tls.Config
	Hub             *origin.Hub
	MetricsToken    string
}

// TestLeaf makes a test's server a leaf with Uplink, whose origin is at
// OriginURL and knows it by Token.
type TestLeaf struct {
	Uplink    *leaf.Uplink
	OriginURL string
	Token     string
}

// remakeAuth makes a server's auth service again with other logins
// (SetPasswordCheck).
var remakeAuth sync.Map // *Server -> func(*origin.Logins) shared.AuthService

// NewTest returns a server of o: its services over o.Store, package
// origin's (or on a leaf package leaf's) and its location's package
// leaf's, as cmd/knot makes them.
func NewTest(o TestOptions) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("web: TestOptions.Store is required")
	}
	wo := Options{Logger: o.Logger, Version: o.Version, Location: o.Location, URL: o.URL, AgentBinary: o.AgentBinary,
		WildcardDomain: o.WildcardDomain, Now: o.Now,
		ShutdownTimeout: o.ShutdownTimeout, TLS: o.TLS, Hub: o.Hub, MetricsToken: o.MetricsToken, ValidateTemplate: o.ValidateTemplate}
	var st *storage.Observed
	if o.Leaf != nil {
		st = leaf.Observe(o.Store, o.Leaf.Uplink)
		wo.Metrics = func(ctx context.Context) []metrics.Family { return append(st.Metrics(), o.Leaf.Uplink.Metrics(ctx)...) }
	} else {
		st = origin.Observe(o.Store, o.Hub)
		wo.Metrics = func(context.Context) []metrics.Family { return append(st.Metrics(), o.Hub.Metrics()...) }
	}
	wo.Store = st
	audit := origin.NewAuditService(st, o.Location, origin.ServiceOptions{Now: o.Now})
	ao := origin.AuthOptions{Now: o.Now, Logins: origin.NewLogins(origin.LoginsOptions{Now: o.Now}), SessionMaxAge: o.SessionMaxAge, Sealer: o.Sealer, TOTP: o.TOTP,
		Audit: origin.RecordAudit(audit, o.Logger), Logger: o.Logger}
	lo := leaf.LocalOptions{
		SpaceOptions: leaf.SpaceOptions{Store: st, Location: o.Location, Runner: o.Spaces, Logs: o.Logs, Runtimes: o.Runtimes,
			Sealer: o.Sealer, Audit: audit, Logger: o.Logger, Now: o.Now},
		Agents: o.Agents, Version: o.Version, NoProxy: o.DisableProxy,
	}
	if l := o.Leaf; l != nil {
		ao.OriginURL = l.OriginURL
		lo.Uplink = l.Uplink
		svcs, err := leaf.NewServices(leaf.ServicesOptions{LocalOptions: lo, Audit: audit, Auth: origin.NewAuthService(st, ao),
			Origin: leaf.OriginOptions{URL: l.OriginURL, Token: l.Token}})
		if err != nil {
			return nil, err
		}
		wo.Services, wo.Local, wo.Origin = svcs.Services, svcs.Local, svcs.Origin
		return New(wo)
	}
	if o.Hub != nil {
		lo.Hub = o.Hub
	}
	local, err := leaf.NewLocal(lo)
	if err != nil {
		return nil, err
	}
	wo.Local = local
	wo.Services = origin.NewServices(st, origin.ServicesOptions{Location: o.Location, Hub: o.Hub, Spaces: local.Spaces, Audit: audit,
		Auth: origin.NewAuthService(st, ao), Validate: o.ValidateTemplate, Sealer: o.Sealer, Now: o.Now})
	s, err := New(wo)
	if err == nil {
		remakeAuth.Store(s, func(l *origin.Logins) shared.AuthService {
			ao.Logins = l
			return origin.NewAuthService(st, ao)
		})
	}
	return s, err
}

// SetPasswordCheck replaces how s checks passwords: at most slots at once,
// waiting up to wait for a free one, with check (given an empty hash for an
// unknown account). For tests that count checks or hold them.
func SetPasswordCheck(s *Server, slots int, wait time.Duration, check func(hash, password string) bool) {
	l := origin.NewLogins(origin.LoginsOptions{Now: s.now, Slots: slots, Wait: wait, Check: check})
	remake, ok := remakeAuth.Load(s)
	if !ok {
		panic("SetPasswordCheck: the server is not a standalone server of NewTest")
	}
	s.auth = remake.(func(*origin.Logins) shared.AuthService)(l)
}

// CheckPasswordOrBurn is the password check servers use.
func CheckPasswordOrBurn(hash, password string) bool {
	return origin.CheckPasswordOrBurn(hash, password)
}
