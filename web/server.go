// Package web is knot's HTTP server: the REST API under /api (JSON, errors as
// {"error": "..."}), authentication by session cookie, session token or API
// token, the leaf link and relay websockets of an origin, /health, /ready
// and /metrics, and the web UI of package ui (ui.go).
//
// web is HTTP only and the only package that knows HTTP status codes: it
// maps the codes of shared.Error to statuses in one place (errors.go).
// Every handler decodes, makes one call to a service of package shared with
// the actor, the caller and the credential in the context (routes.go: api,
// with the adapters reply, decoded and listed), and encodes; the service
// checks permissions, validates, writes in one store transaction and
// records the audit event of the write, with the caller's address. web
// never reads or writes the store: cmd/knot makes the services and hands
// them in (Options). A standalone server or an origin (Options.Hub) runs
// package origin's services; a leaf (Options.Origin) runs package leaf's,
// which serve from the replica and make a write of origin-owned data at
// the origin as the caller (503 at once while the origin is unreachable;
// nothing is queued), where the origin records it. On every server the
// spaces of its own location are package leaf's (leaf.Local), which
// records the events of their writes; web records those of a logout and of
// knot connect's approval (audit.go).
//
// Request bodies must be declared application/json (415 otherwise), which
// closes cross-site form posts and login CSRF. Password checks, at a login
// or a change of one's password, email or authenticator, pass the login
// limits of origin.Logins first (429 with Retry-After beyond them).
package web

import (
	"cmp"
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

// Options configures a Server. Services, Local and Store are
// required; cmd/knot makes them.
type Options struct {
	// Services are what the handlers call (origin.NewServices on an origin
	// or a standalone server, leaf.NewServices on a leaf); every field.
	Services shared.Services
	// Local is the server's own location (leaf.NewLocal).
	Local *leaf.Local
	// Store is the store the services were made over: GET /ready pings it.
	Store interface{ Ping(context.Context) error }
	// Metrics returns the families /metrics shows besides the requests'
	// and the process's (the store's, the hub's or the uplink's); nil
	// means none.
	Metrics func(context.Context) []metrics.Family
	// Logger receives a debug line per request and every error; nil means
	// slog.Default().
	Logger *slog.Logger
	// Version is reported by GET /api/ping; "" means "dev".
	Version string
	// Location is this server's location, the one of Local. Required.
	Location string
	// URL is the address users reach this server at; "" means unknown.
	URL string
	// AgentBinary is the path of this server's own knot binary, served at
	// /agent/knot-GOOS-GOARCH (agentbinary.go); "" means 404 there.
	AgentBinary string
	// WildcardDomain ("*.example.com") serves the web ports of spaces at
	// USER--SPACE--PORT.DOMAIN too (webapps.go); "" means not.
	WildcardDomain string
	// ValidateTemplate checks a template as the template service does, for
	// POST /api/templates/validate; nil means origin.BasicTemplateCheck.
	ValidateTemplate func(*shared.Template) error
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// ShutdownTimeout bounds how long Run waits for in-flight requests
	// when its context ends; 0 means 30 seconds.
	ShutdownTimeout time.Duration
	// TLS makes Run serve HTTPS with it; nil means plain HTTP.
	TLS *tls.Config
	// Hub makes the server an origin, which serves the leaf link and the
	// relay channel; nil means no leaf can connect. The caller runs it.
	Hub *origin.Hub
	// Origin makes the server a leaf: its way to the origin's REST API
	// (leaf.Services'), which checks an API token the replica does not
	// hold yet. Hub and Origin are exclusive.
	Origin *leaf.Origin
	// MetricsToken is the bearer token GET /metrics requires; "" means
	// /metrics is open (metrics.go).
	MetricsToken string
}

// Server is knot's HTTP server. It is safe for concurrent use.
type Server struct {
	o       Options // with its defaults
	log     *slog.Logger
	now     func() time.Time
	spaces  *leaf.SpaceService
	access  *leaf.Access // the ways into spaces
	apps    *webApps
	streams leaf.Pumps // the open log and terminal streams, closed by Run
	router  chi.Router
	metrics *metrics.Requests
	pages   *ui.UI
	origin  *leaf.Origin // nil unless a leaf
	connect *origin.ConnectCodes
	auth    shared.AuthService
	groups  shared.GroupService
	roles   shared.RoleService
	users   shared.UserService
	tokens  shared.TokenService
	audits  shared.AuditService
	fleet   shared.FleetService

	templates        shared.TemplateService
	variables        shared.VariableService
	validateTemplate func(*shared.Template) error
}

// New validates opts and returns a Server. It starts nothing; call Run or
// serve Handler yourself.
func New(opts Options) (*Server, error) {
	sv, l := opts.Services, opts.Local
	switch {
	case sv.Users == nil || sv.Tokens == nil || sv.Auth == nil || sv.Groups == nil || sv.Roles == nil ||
		sv.Templates == nil || sv.Variables == nil || sv.Audit == nil || sv.Fleet == nil:
		return nil, errors.New("web: Options.Services needs every service")
	case l == nil || opts.Store == nil:
		return nil, errors.New("web: Options.Local and Options.Store are required")
	case opts.Hub != nil && opts.Origin != nil:
		return nil, errors.New("web: a server is an origin (Options.Hub) or a leaf (Options.Origin), not both")
	case !shared.ValidLocation(opts.Location):
		return nil, errors.New("web: Options.Location " + quote(opts.Location) + " is not a valid location")
	}
	opts.Version = cmp.Or(opts.Version, "dev")
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ValidateTemplate == nil {
		opts.ValidateTemplate = origin.BasicTemplateCheck // as the template service's
	}
	s := &Server{o: opts, log: cmp.Or(opts.Logger, slog.Default()), now: opts.Now, spaces: l.Spaces, access: l.Access,
		apps: newWebApps(opts.WildcardDomain), metrics: metrics.NewRequests(), origin: opts.Origin,
		auth: sv.Auth, groups: sv.Groups, roles: sv.Roles, users: sv.Users, tokens: sv.Tokens, audits: sv.Audit,
		fleet: sv.Fleet, templates: sv.Templates, variables: sv.Variables, validateTemplate: opts.ValidateTemplate}
	s.connect = origin.NewConnectCodes(s.now)
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
		TLSConfig:         s.o.TLS,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		if s.o.TLS != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), cmp.Or(s.o.ShutdownTimeout, 30*time.Second))
	defer cancel()
	s.streams.Close(sctx) // Shutdown leaves websockets alone
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// withHSTS sets Strict-Transport-Security on every answer over TLS: browsers
// use https for this host for a year. It leaves out includeSubDomains, since
// the spaces' web ports may be served on subdomains this server does not
// control (server.wildcard_domain). Browsers ignore it on a connection whose
// certificate they do not accept, so a self-signed one locks nobody out.
func withHSTS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}
