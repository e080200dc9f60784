// Package web is knot's HTTP server: the REST API under /api (JSON, errors as
// {"error": "..."}), authentication by session cookie, session token or API
// token, the permission checks of every route, the audit log of every write
// and login, and the operational endpoints /health, /ready and /metrics.
// It mounts the web UI of package ui (ui.go), handing it the authenticated
// actor of a request and the services its pages read.
//
// Logins are bounded before they cost anything (origin.Logins): an attempt is counted as failed before its password is
// hashed, under limits per account and address, per account (higher, so its
// owner can log in elsewhere while one address guesses) and per address, and
// at most about one password hash per core runs at once; beyond either,
// 429 with Retry-After. A session ends after two idle hours and at most
// Options.SessionMaxAge after its login, and a user holds at most 20. A new
// password ends the user's other sessions and deletes their API tokens
// unless asked not to; changing one's own password or email needs the
// current one. Request bodies must be declared application/json (415
// otherwise), which closes cross-site form posts and login CSRF.
//
// web is the only package that knows HTTP status codes: it maps the codes of
// shared.Error to statuses in one place (errors.go). Every handler is HTTP
// only: it decodes, makes one call to a service of package shared
// (users, API tokens, logins and sessions, groups, roles, templates,
// variables, audit, the fleet, spaces) with the actor in the context
// (shared.NewContextWithActor, set for every authenticated request),
// audits and encodes; the service checks permissions, validates and
// writes in one store transaction (see packages origin and leaf). Whether
// an actor may grant a role, put permissions into a role or change another
// user's account is decided in one place (origin.JudgeChange): nobody
// grants what they do not hold. The space service is package leaf's, which
// an origin runs for its own location as a leaf does (Options.Spaces is its
// runner); terminals, SSH, forwarded ports and web apps ask leaf.Access
// who may open what and get a stream, which web pumps.
//
// A server plays the role its options give it (DESIGN.md, "Roles"):
//
//   - Standalone (no Hub, no Leaf): one location, no leaves.
//   - Origin (Options.Hub): it serves the leaf link at GET /api/leaf-server
//     (upgrade and authentication here, the link in package origin),
//     notifies the hub after every write of origin-owned data, lists the
//     fleet, issues leaf tokens, lists the spaces that leaves report with
//     their location, and acts on a space of another location by a command
//     to that location's leaf (503 when it is not connected). A space created
//     with location "auto" goes to the location, its own or a connected
//     leaf's, that runs the template's kind and has the fewest running
//     spaces. A restricted location (user:NAME, see package origin) holds
//     only NAME's spaces (403 for anyone else's), and the hub checks what a
//     restricted leaf reports with the checks of POST /api/spaces
//     (leaf.SpaceService.CheckReport). The origin's location is a trusted one, which it
//     tells the hub so that no leaf claims it.
//   - Leaf (Options.Leaf): it serves from its replica whether or not the
//     origin is reachable. Users log in here with the password hashes the
//     origin replicated (a restricted leaf holds none: its users are told to
//     log in at the origin or use an API token). Spaces of its location are
//     created, started, stopped and deleted here, and the uplink reports
//     them. A write of origin-owned data (users, groups, roles, API tokens,
//     templates, variables that are not local, leaf tokens) is made at the
//     origin and answered with the origin's answer: the leaf's services
//     make it through leaf.Forward as the caller (api puts the caller's
//     shared.Credential into the context), and so does the space service
//     for a start, stop or delete of a space of another location. The
//     origin records these writes; the leaf does not. While the origin is
//     unreachable it fails at once with 503 saying so, and nothing is
//     queued. A request with an API token goes with that token, which the
//     origin knows. The origin does not know the sessions opened at a leaf:
//     when a login here succeeds and the origin is reachable, the leaf logs
//     in there too and keeps that session in memory for the writes of the
//     session here (cookie sessions still need the CSRF header); a session
//     without one (opened while the origin was down, or before the leaf
//     restarted) gets 409, which says to log in again or use an API token.
//     Quotas count the spaces of other locations from the origin when it is
//     reachable, else only this leaf's.
package web

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/web/ui"
)

// SpaceController runs spaces. Implementations serialize requests per space
// and are idempotent: Start moves a space to running (or failed with a
// reason), Stop to stopped, and Delete stops it if needed, removes its
// runtime resources, then its record.
type SpaceController = leaf.SpaceController

// Options configures a Server. Only Store is required.
type Options struct {
	// Store holds every record. Required.
	Store storage.Store
	// Logger receives one debug line per request and every error; nil means
	// slog.Default().
	Logger *slog.Logger
	// Version is reported by GET /api/ping; "" means "dev".
	Version string
	// Location is this server's location: the default location of new spaces
	// and the location recorded in audit events; "" means the host name (or
	// "local" when the host name is not a valid location).
	Location string
	// URL is the address users reach this server at; "" means unknown. It is
	// informational only.
	URL string
	// Sealer encrypts protected template variables (server.encrypt); nil means
	// protected variables cannot be created and such requests fail with 400.
	Sealer *crypt.Sealer
	// TOTP makes password logins need a TOTP code (origin/totp.go); it needs
	// Sealer, which seals the secrets. nil means a password alone logs in.
	TOTP *TOTPOptions
	// Spaces starts, stops and deletes the spaces of Location for the space
	// service (leaf.SpaceOptions.Runner); nil means a runtime.Manager
	// without runtimes, which runs manual templates only and answers 503
	// for container and Nomad templates.
	Spaces SpaceController
	// Logs keeps the logs of the spaces this server runs, for GET
	// /api/spaces/{space_id}/logs and its websocket; nil means both answer
	// 404 "this server keeps no space logs".
	Logs SpaceLogs
	// Agents is the endpoint of this location's agents, for terminals
	// (terminal.go); nil means terminals answer 503.
	Agents *leaf.Agents
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
	// ValidateTemplate checks a template before it is stored; a returned
	// *shared.Error is shown to the client. nil means basic checks only: the
	// kind is valid, container and nomad templates have a spec, and a
	// container spec is a YAML mapping.
	ValidateTemplate func(*shared.Template) error
	// SessionMaxAge is how long a login session lasts at most, however
	// often it is used (server.session_max_age); 0 means 7 days.
	SessionMaxAge time.Duration
	// AuditRetention is how long audit events are kept; older ones are
	// deleted when Run starts and every hour (server.audit_retention). 0
	// keeps them forever.
	AuditRetention time.Duration
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
	// means no leaf can connect. The caller runs it.
	Hub *origin.Hub
	// Leaf makes the server a leaf of an origin; nil means it is none. Hub
	// and Leaf are exclusive.
	Leaf *LeafOptions
	// Runtimes names the runtimes this server runs spaces on ("docker",
	// "podman", "nomad"), for placing spaces of location "auto"; nil means
	// only manual templates run here.
	Runtimes []string
	// MetricsToken is the bearer token GET /metrics requires; "" means
	// /metrics is open (see metricsauth.go).
	MetricsToken string

	// Groups and Roles serve the group and role routes; nil means the
	// origin's services (package origin) over Store as the server wraps it,
	// which counts its writes and tells the hub of them, and on a leaf the
	// leaf's (package leaf), which read the replica and forward writes to
	// the origin. A service given here must itself keep the hub told of
	// its writes.
	Groups shared.GroupService
	Roles  shared.RoleService
}

// LeafOptions configures a leaf server.
type LeafOptions struct {
	// Uplink is the leaf's link to its origin, run by the caller. Required.
	// The server notifies it after every write of a space and every audit
	// event, and shows its status.
	Uplink *leaf.Uplink
	// OriginURL is the origin's base URL: http(s)://host[:port][/prefix] or
	// srv+http(s)://name. Required.
	OriginURL string
	// Token is the leaf's own credential at the origin (the shared token, a
	// leaf token or an API token); the leaf asks the origin with it how many
	// spaces a user has elsewhere. "" means quotas count this leaf's spaces
	// only.
	Token string
	// Resolve turns a srv+ OriginURL into a plain one; nil means a srv+
	// origin cannot be reached for forwarded writes.
	Resolve func(ctx context.Context, url string) (string, error)
	// HTTPClient sends the requests to the origin; nil means a client with
	// a 30 second timeout.
	HTTPClient *http.Client
}

// Server is knot's HTTP server. It is safe for concurrent use.
type Server struct {
	store    *storage.Observed
	log      *slog.Logger
	version  string
	location string
	url      string
	sealer   *crypt.Sealer
	totp     *TOTPOptions // nil: no two-factor login
	spaces   *leaf.SpaceService
	agents   *leaf.Agents // nil: no terminals
	agentBin string       // "": no binary to download
	apps     *webApps     // the web apps of spaces (webapps.go)
	noProxy  bool         // no forwarded ports or web apps
	streams  streams      // the open log and terminal streams, closed by Run
	now      func() time.Time
	shutdown time.Duration
	tls      *tls.Config

	// validateTemplate checks a template as its save would, for POST
	// /api/templates/validate.
	validateTemplate func(*shared.Template) error

	agentStreams *leaf.AgentStreams // streams to the agents of every location (relay.go)
	access       *leaf.Access       // the ways into spaces: terminals, ports, web apps (relay.go)

	sessionMaxAge time.Duration

	auditRetention  time.Duration
	auditPruneEvery time.Duration

	router  chi.Router
	metrics *httpMetrics
	lists   *listCache

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

	hub      *origin.Hub
	leaf     *LeafOptions // nil unless a leaf
	runtimes []string
	// origin is, on a leaf, its way to the origin's REST API, through
	// which the leaf's services forward writes; nil elsewhere.
	origin *leaf.Origin
	fleet  shared.FleetService

	pages *ui.UI // the web UI, mounted by routes
}

// New validates opts and returns a Server. It starts nothing; call Run or
// serve Handler yourself.
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("web: Options.Store is required")
	}
	if opts.Hub != nil && opts.Leaf != nil {
		return nil, errors.New("web: a server is an origin (Options.Hub) or a leaf (Options.Leaf), not both")
	}
	if opts.TOTP != nil && opts.Sealer == nil {
		return nil, errors.New("web: Options.TOTP needs Options.Sealer, which seals the TOTP secrets")
	}
	if l := opts.Leaf; l != nil {
		if l.Uplink == nil || l.OriginURL == "" {
			return nil, errors.New("web: Options.Leaf needs the Uplink and the OriginURL")
		}
		lc := *l
		if lc.HTTPClient == nil {
			lc.HTTPClient = &http.Client{Timeout: 30 * time.Second}
		}
		opts.Leaf = &lc
	}
	s := &Server{
		log:      opts.Logger,
		version:  opts.Version,
		location: opts.Location,
		url:      opts.URL,
		sealer:   opts.Sealer,
		totp:     opts.TOTP,
		agents:   opts.Agents,
		agentBin: opts.AgentBinary,
		apps:     newWebApps(opts.WildcardDomain),
		noProxy:  opts.DisableProxy,
		now:      opts.Now,
		shutdown: opts.ShutdownTimeout,
		tls:      opts.TLS,
		metrics:  newHTTPMetrics(),
		hub:      opts.Hub,
		leaf:     opts.Leaf,
		runtimes: opts.Runtimes,
	}
	s.store = storage.Observe(opts.Store, s.wrote)
	s.metricsHash = metricsHash(opts.MetricsToken)
	s.groups, s.roles = opts.Groups, opts.Roles
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.version == "" {
		s.version = "dev"
	}
	if s.location == "" {
		h, err := os.Hostname()
		if err != nil || !shared.ValidLocation(h) {
			h = "local"
		}
		s.location = h
	}
	if !shared.ValidLocation(s.location) {
		return nil, errors.New("web: Options.Location " + quote(s.location) + " is not a valid location")
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.newSpaces(opts); err != nil {
		return nil, err
	}
	if err := s.checkOwnLocation(); err != nil {
		return nil, err
	}
	s.sessionMaxAge = opts.SessionMaxAge
	if s.shutdown <= 0 {
		s.shutdown = 30 * time.Second
	}
	s.groups, s.roles = s.services(opts.Groups, opts.Roles)
	s.templates, s.variables, s.audits = s.templateServices(opts.ValidateTemplate)
	if s.validateTemplate = opts.ValidateTemplate; s.validateTemplate == nil {
		s.validateTemplate = origin.BasicTemplateCheck // as the template service's
	}
	s.users, s.tokens = s.userServices()
	s.logins = origin.NewLogins(origin.LoginsOptions{Now: s.now})
	s.auth = s.authService()
	s.setupStreams()
	s.auditRetention, s.auditPruneEvery = opts.AuditRetention, defaultAuditPruneEvery
	s.lists = newListCache()
	s.router = s.routes()
	return s, nil
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
	jctx, stopJanitor := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.sweepSessions(jctx) })
	wg.Go(func() { s.pruneAudit(jctx) })
	defer func() {
		stopJanitor()
		wg.Wait()
	}()

	errc := make(chan error, 1)
	go func() { errc <- s.serve(srv, ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdown)
	defer cancel()
	s.streams.close(sctx) // Shutdown leaves websockets alone
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// sweepSessions deletes expired sessions every ten minutes until ctx ends.
func (s *Server) sweepSessions(ctx context.Context) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.auth.SweepSessions(ctx); err != nil {
			s.log.Error("sweep sessions", "err", err)
		}
	}
}
