// Package web is knot's HTTP server: the REST API under /api (JSON, errors as
// {"error": "..."}), authentication by session cookie, session token or API
// token, the audit log of every write and login, the leaf link and relay
// websockets of an origin, the operational endpoints /health, /ready and
// /metrics, and the web UI of package ui (ui.go), which it hands the
// authenticated actor of a request and the services its pages read.
//
// web is HTTP only and the only package that knows HTTP status codes: it
// maps the codes of shared.Error to statuses in one place (errors.go).
// Every handler decodes, makes one call to a service of package shared with
// the actor in the context (shared.NewContextWithActor, set for every
// authenticated request), audits and encodes; the service checks
// permissions, validates and writes in one store transaction. web never
// reads or writes the store: the caller makes the services and hands them
// in (Options; cmd/knot wires them):
//
//   - Standalone (no Hub, no Leaf) and origin (Options.Hub): package
//     origin's services (origin.NewServices) over the store that tells the
//     hub of every write (origin.Observe). The origin serves the leaf link
//     at GET /api/leaf-server and the relay channel (upgrade and
//     authentication here, the link in package origin).
//   - Leaf (Options.Leaf): package leaf's services (leaf.NewServices),
//     which serve from the replica whether or not the origin is reachable
//     and make a write of origin-owned data at the origin as the caller
//     (the shared.Credential of the request in the context, credentialOf);
//     the origin records those writes, the leaf does not. While the origin
//     is unreachable such a write fails at once with 503, and nothing is
//     queued.
//
// On every server the spaces of its own location are package leaf's
// (leaf.NewLocal: the space service, and the ways into spaces that
// terminals, SSH, forwarded ports and web apps ask for a stream, which web
// pumps).
//
// Request bodies must be declared application/json (415 otherwise), which
// closes cross-site form posts and login CSRF. Password checks pass the
// login limits of origin.Logins first (429 with Retry-After beyond them).
package web

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/metrics"
	"github.com/knot-dev/knot/web/ui"
)

// Options configures a Server. Services, Local, Logins and Store are
// required: the caller makes them (package origin for an origin or a
// standalone server, package leaf for a leaf and for the own location of
// every server; see cmd/knot), and web calls them, never the store.
type Options struct {
	// Services are the services the handlers call: origin.NewServices' on
	// an origin or a standalone server, leaf.NewServices' on a leaf. Every
	// field is required.
	Services shared.Services
	// Local is the server's own location (leaf.NewLocal, or a leaf's
	// leaf.Services.Local): its space service and the ways into spaces.
	Local *leaf.Local
	// Logins bounds password checks (the login limits and the hashing
	// slots); give the one the auth service counts with
	// (origin.AuthOptions.Logins).
	Logins *origin.Logins
	// Store is the observed store the services were made over
	// (origin.Observe, leaf.Observe): GET /ready pings it and /metrics
	// shows its figures.
	Store Store
	// Logger receives one debug line per request and every error; nil means
	// slog.Default().
	Logger *slog.Logger
	// Version is reported by GET /api/ping; "" means "dev".
	Version string
	// Location is this server's location, the one of Local. Required.
	Location string
	// URL is the address users reach this server at; "" means unknown. It is
	// informational only.
	URL string
	// AgentBinary is the path of this server's own knot binary, served
	// without authentication at /agent/knot-GOOS-GOARCH (agentbinary.go)
	// for agents of manual spaces; "" means that route answers 404.
	AgentBinary string
	// WildcardDomain serves the web ports of spaces at
	// USER--SPACE--PORT.DOMAIN (server.wildcard_domain, "*.example.com");
	// "" serves them under /proxy/spaces/ only (webapps.go).
	WildcardDomain string
	// DisableProxy turns off forwarded ports and web apps
	// (server.disable_proxy).
	DisableProxy bool
	// ValidateTemplate checks a template as the template service does
	// before it stores one, for POST /api/templates/validate; nil means
	// origin.BasicTemplateCheck, the template service's when it has none.
	ValidateTemplate func(*shared.Template) error
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// ShutdownTimeout bounds how long Run waits for in-flight requests when
	// its context ends; 0 means 30 seconds.
	ShutdownTimeout time.Duration
	// TLS makes Run serve HTTPS (HTTP/2 and HTTP/1.1) with this
	// configuration; nil means plain HTTP. Every answer over TLS carries
	// Strict-Transport-Security (see tls.go).
	TLS *tls.Config

	// Hub makes the server an origin (see the package documentation); nil
	// means no leaf can connect. The caller runs it; Services and Local
	// must be made with it.
	Hub *origin.Hub
	// Leaf makes the server a leaf of an origin; nil means it is none. Hub
	// and Leaf are exclusive.
	Leaf *LeafOptions
	// MetricsToken is the bearer token GET /metrics requires; "" means
	// /metrics is open (see metricsauth.go).
	MetricsToken string
}

// Store is what the server asks of its store itself: whether it answers
// (GET /ready) and its figures (/metrics). *storage.Observed is one.
type Store interface {
	Ping(ctx context.Context) error
	Metrics() []metrics.Family
}

// LeafOptions configures a leaf server; leaf.NewServices makes both.
type LeafOptions struct {
	// Uplink is the leaf's link to its origin, run by the caller. Required.
	// The server shows its status and metrics.
	Uplink *leaf.Uplink
	// Origin is the leaf's way to the origin's REST API (leaf.Services'),
	// at which the server checks an API token its replica does not hold
	// yet. Required.
	Origin *leaf.Origin
}

// Server is knot's HTTP server. It is safe for concurrent use.
type Server struct {
	store    Store
	log      *slog.Logger
	version  string
	location string
	url      string
	spaces   *leaf.SpaceService
	agents   *leaf.Agents // nil: no terminals
	agentBin string       // "": no binary to download
	apps     *webApps     // the web apps of spaces (webapps.go)
	noProxy  bool         // no forwarded ports or web apps
	streams  leaf.Pumps   // the open log and terminal streams, closed by Run
	now      func() time.Time
	shutdown time.Duration
	tls      *tls.Config

	// validateTemplate checks a template as its save would, for POST
	// /api/templates/validate.
	validateTemplate func(*shared.Template) error

	agentStreams *leaf.AgentStreams // streams to the agents of every location (relay.go)
	access       *leaf.Access       // the ways into spaces: terminals, ports, web apps (relay.go)

	router  chi.Router
	metrics *metrics.Requests
	lists   *leaf.SpaceListCache

	logins *origin.Logins     // the login limits and hashing slots
	auth   shared.AuthService // logins and sessions

	metricsHash string // the hash of Options.MetricsToken, "" for none

	groups shared.GroupService
	roles  shared.RoleService
	users  shared.UserService
	tokens shared.TokenService

	templates shared.TemplateService
	variables shared.VariableService
	audits    shared.AuditService

	hub  *origin.Hub
	leaf *LeafOptions // nil unless a leaf
	// origin is, on a leaf, its way to the origin's REST API, through
	// which the leaf's services forward writes; nil elsewhere.
	origin *leaf.Origin
	fleet  shared.FleetService

	pages *ui.UI // the web UI, mounted by routes

	connect *origin.ConnectCodes // the codes of the CLI's browser login (connect.go)
}

// New validates opts and returns a Server. It starts nothing; call Run or
// serve Handler yourself.
func New(opts Options) (*Server, error) {
	if err := checkOptions(opts); err != nil {
		return nil, err
	}
	sv, l := opts.Services, opts.Local
	s := &Server{
		store:    opts.Store,
		log:      opts.Logger,
		version:  opts.Version,
		location: opts.Location,
		url:      opts.URL,
		spaces:   l.Spaces,
		agents:   l.Agents,
		agentBin: opts.AgentBinary,
		apps:     newWebApps(opts.WildcardDomain),
		noProxy:  opts.DisableProxy,
		now:      opts.Now,
		shutdown: opts.ShutdownTimeout,
		tls:      opts.TLS,
		metrics:  metrics.NewRequests(),
		hub:      opts.Hub,
		leaf:     opts.Leaf,

		agentStreams: l.Streams,
		access:       l.Access,
		logins:       opts.Logins,
		auth:         sv.Auth,
		groups:       sv.Groups,
		roles:        sv.Roles,
		users:        sv.Users,
		tokens:       sv.Tokens,
		templates:    sv.Templates,
		variables:    sv.Variables,
		audits:       sv.Audit,
		fleet:        sv.Fleet,
	}
	s.metricsHash = metricsHash(opts.MetricsToken)
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.version == "" {
		s.version = "dev"
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.leaf != nil {
		s.origin = s.leaf.Origin
	}
	if err := s.checkOwnLocation(); err != nil {
		return nil, err
	}
	if s.shutdown <= 0 {
		s.shutdown = 30 * time.Second
	}
	s.connect = origin.NewConnectCodes(s.now)
	if s.validateTemplate = opts.ValidateTemplate; s.validateTemplate == nil {
		s.validateTemplate = origin.BasicTemplateCheck // as the template service's
	}
	s.setupStreams()
	s.lists = leaf.NewSpaceListCache()
	s.router = s.routes()
	return s, nil
}

// checkOptions says what opts lack.
func checkOptions(opts Options) error {
	sv := opts.Services
	switch {
	case sv.Users == nil || sv.Tokens == nil || sv.Auth == nil || sv.Groups == nil || sv.Roles == nil ||
		sv.Templates == nil || sv.Variables == nil || sv.Audit == nil || sv.Fleet == nil:
		return errors.New("web: Options.Services needs every service")
	case opts.Local == nil || opts.Logins == nil || opts.Store == nil:
		return errors.New("web: Options.Local, Options.Logins and Options.Store are required")
	case opts.Hub != nil && opts.Leaf != nil:
		return errors.New("web: a server is an origin (Options.Hub) or a leaf (Options.Leaf), not both")
	case opts.Leaf != nil && (opts.Leaf.Uplink == nil || opts.Leaf.Origin == nil):
		return errors.New("web: Options.Leaf needs the Uplink and the Origin")
	case !shared.ValidLocation(opts.Location):
		return errors.New("web: Options.Location " + quote(opts.Location) + " is not a valid location")
	}
	return nil
}

// Handler returns the server's HTTP handler: the API, /health, /ready and
// /metrics.
func (s *Server) Handler() http.Handler { return s.router }

// Run serves HTTP on ln until ctx ends, then shuts down gracefully: it stops
// accepting connections and waits (up to Options.ShutdownTimeout) for
// in-flight requests to complete. It returns nil after a clean stop and the
// error otherwise. Run closes ln. With Options.TLS it serves HTTPS on ln.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           withHSTS(s.router),
		TLSConfig:         s.tls,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- s.serve(srv, ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdown)
	defer cancel()
	s.streams.Close(sctx) // Shutdown leaves websockets alone
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
