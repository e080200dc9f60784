// Package web is knot's HTTP server: the REST API under /api (JSON, errors as
// {"error": "..."}), authentication by session cookie, session token or API
// token, the permission checks of every route, the audit log of every write
// and login, and the operational endpoints /health, /ready and /metrics.
//
// web is the only package that knows HTTP status codes: it maps the codes of
// shared.Error to statuses in one place (errors.go). Spaces are started,
// stopped and deleted through a SpaceController, which the runtime provides.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

// SpaceController runs spaces. Implementations serialize requests per space and are idempotent.
type SpaceController interface {
	Start(ctx context.Context, spaceID string) error  // moves the space to running (or failed with a reason)
	Stop(ctx context.Context, spaceID string) error   // moves it to stopped
	Delete(ctx context.Context, spaceID string) error // stops it if needed, removes runtime resources, then the record
}

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
	// Spaces starts, stops and deletes spaces; nil means a built-in
	// controller that handles manual templates only and answers 503 for
	// container and Nomad templates.
	Spaces SpaceController
	// ValidateTemplate checks a template before it is stored; a returned
	// *shared.Error is shown to the client. nil means basic checks only: the
	// kind is valid, container and nomad templates have a spec, and a
	// container spec is a YAML mapping.
	ValidateTemplate func(*shared.Template) error
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// ShutdownTimeout bounds how long Run waits for in-flight requests when
	// its context ends; 0 means 30 seconds.
	ShutdownTimeout time.Duration
}

// Server is knot's HTTP server. It is safe for concurrent use.
type Server struct {
	store    *countingStore
	log      *slog.Logger
	version  string
	location string
	url      string
	sealer   *crypt.Sealer
	spaces   SpaceController
	validate func(*shared.Template) error
	now      func() time.Time
	shutdown time.Duration

	router  chi.Router
	metrics *metrics
	limits  *loginLimiter
	lists   *listCache

	authSessions decodeCache[shared.Session, *shared.Session]
	authUsers    decodeCache[shared.User, *shared.User]

	setupMu   sync.Mutex // serializes first-user setup
	setupDone bool       // guarded by setupMu: a user exists

	ownerLocks keyedMutex // serializes space creation per owner (quota)
}

// New validates opts and returns a Server. It starts nothing; call Run or
// serve Handler yourself.
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("web: Options.Store is required")
	}
	s := &Server{
		log:      opts.Logger,
		version:  opts.Version,
		location: opts.Location,
		url:      opts.URL,
		sealer:   opts.Sealer,
		spaces:   opts.Spaces,
		validate: opts.ValidateTemplate,
		now:      opts.Now,
		shutdown: opts.ShutdownTimeout,
		metrics:  newMetrics(),
	}
	s.store = &countingStore{Store: opts.Store, m: s.metrics}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.version == "" {
		s.version = "dev"
	}
	if s.location == "" {
		h, err := os.Hostname()
		if err != nil || !validLocation(h) {
			h = "local"
		}
		s.location = h
	}
	if !validLocation(s.location) {
		return nil, errors.New("web: Options.Location " + quote(s.location) + " is not a valid location")
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.shutdown <= 0 {
		s.shutdown = 30 * time.Second
	}
	if s.validate == nil {
		s.validate = basicTemplateCheck
	}
	if s.spaces == nil {
		s.spaces = &manualOnly{store: s.store, now: s.now}
	}
	s.limits = newLoginLimiter(s.now)
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
// error otherwise. Run closes ln.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.router,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	jctx, stopJanitor := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.sweepSessions(jctx)
	}()
	defer func() {
		stopJanitor()
		wg.Wait()
	}()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdown)
	defer cancel()
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
		sessions, err := storage.List[shared.Session](ctx, s.store)
		if err != nil {
			s.log.Error("list sessions for expiry", "err", err)
			continue
		}
		now := s.now()
		for _, se := range sessions {
			if now.After(se.ExpiresAt) {
				if _, err := s.store.Delete(ctx, shared.KindSession, se.ID); err != nil && shared.ErrorCode(err) != shared.ENOTFOUND {
					s.log.Error("delete expired session", "err", err)
				}
			}
		}
	}
}
