package runtime

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
)

// Records is the part of the store the Manager uses. Implementations are
// safe for concurrent use and return *shared.Error values.
type Records interface {
	// GetSpace returns the space with id; ENOTFOUND if there is none.
	GetSpace(ctx context.Context, id string) (*shared.Space, error)
	// PutSpace writes s if its Revision equals the stored one (ECONFLICT if
	// the record changed meanwhile, ENOTFOUND if it is gone) and sets
	// s.Revision to the new revision.
	PutSpace(ctx context.Context, s *shared.Space) error
	// DeleteSpace removes the space; ENOTFOUND if there is none.
	DeleteSpace(ctx context.Context, id string) error
	// ListSpaces returns every space the server knows, of every location.
	ListSpaces(ctx context.Context) ([]*shared.Space, error)
	// GetTemplate returns the template with id; ENOTFOUND if there is none.
	GetTemplate(ctx context.Context, id string) (*shared.Template, error)
	// GetUser returns the user with id; ENOTFOUND if there is none.
	GetUser(ctx context.Context, id string) (*shared.User, error)
	// ListTemplateVars returns every template variable the server holds,
	// protected values still sealed.
	ListTemplateVars(ctx context.Context) ([]*shared.TemplateVar, error)
}

// Options configure a Manager. Records and Server.Location are required.
type Options struct {
	Records Records

	// Container runs the spaces of container templates: the Docker or the
	// Podman driver. Nil fails such spaces with "no container runtime
	// configured".
	Container Runtime
	// Nomad runs the spaces of nomad templates. Nil fails such spaces with
	// "no nomad runtime configured".
	Nomad Runtime

	// Server is what templates see as .server; Server.Location is the
	// location whose spaces this Manager runs.
	Server ServerInfo
	// NomadInfo is what templates see as .nomad; nil leaves it undefined.
	NomadInfo *NomadInfo
	// Sealer opens protected template variables. Nil means a template that
	// uses a protected variable fails to start.
	Sealer *crypt.Sealer
	// AgentToken returns the secret the agent of space s registers with;
	// its hash is stored in s.AgentTokenHash. Nil makes a new random token
	// at every start.
	AgentToken func(ctx context.Context, s *shared.Space) (string, error)
	// AgentConnected reports whether the agent of a space is linked to
	// this location now. A started manual space is starting ("waiting for
	// its agent") until it is, then running; see AgentChanged. Nil (no
	// agent registry) runs a manual space as soon as it is started.
	AgentConnected func(spaceID string) bool
	// AgentGrace is how long the agent of a running container or Nomad
	// space may stay away, after the start or after its link broke, before
	// the space's log says so, with what the space printed; 0 means 20
	// seconds. Without AgentConnected nothing is reported.
	AgentGrace time.Duration

	// ReconcileInterval is the time between two reconciliations in Run;
	// 0 means 5 seconds.
	ReconcileInterval time.Duration
	// SettleTime is how long a running space's workload must stay exited
	// before the reconciler records it: a restart outside knot, or the
	// engine's restart policy, passes through a short exit. 0 means 2
	// seconds. A workload that is gone is recorded at once.
	SettleTime time.Duration
	// CallTimeout bounds every runtime and record call except Start; 0
	// means 30 seconds.
	CallTimeout time.Duration
	// StartTimeout bounds a runtime's Start, image pull included; 0 means
	// 10 minutes.
	StartTimeout time.Duration
	// StopGrace is how long a workload may take to exit after it is asked
	// to stop; 0 means 10 seconds.
	StopGrace time.Duration
	// LogLines is the number of lines kept per space log; 0 means 500.
	LogLines int

	// Logger receives the Manager's own log; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Manager owns the lifecycle of the spaces of one location: it starts,
// stops and deletes them on the runtime their template names, keeps each
// space record in an explicit state (pending, starting, running, stopping,
// stopped, deleting, failed with a Reason), and reconciles the records with
// what the runtimes report (see Run).
//
// Operations on one space are serialised; operations on different spaces run
// concurrently. Start, Stop and Delete are idempotent. Once an operation has
// the space, it runs to its end even if the caller's context is cancelled
// (every runtime call has its own timeout), so a space is never left
// half-started because a client went away. A Manager is safe for concurrent
// use.
type Manager struct {
	records    Records
	container  Runtime
	nomad      Runtime
	server     ServerInfo
	nomadInfo  *NomadInfo
	sealer     *crypt.Sealer
	agentToken func(context.Context, *shared.Space) (string, error)
	agentUp    func(spaceID string) bool
	agentGrace time.Duration
	interval   time.Duration
	settle     time.Duration
	callTO     time.Duration
	startTO    time.Duration
	grace      time.Duration
	log        *slog.Logger
	now        func() time.Time
	logs       *spaceLogs
	born       time.Time // when NewManager made it

	mu    sync.Mutex
	locks map[string]*spaceLock // guarded by mu
	// exits follows the workloads of running spaces seen exited or
	// restarted, until they are seen to stay up.
	exits map[string]*exitWatch // guarded by mu
	// agentWaits follows the agents of running spaces (agentwait.go).
	agentWaits map[string]*agentWatch // guarded by mu
}

// NewManager returns a Manager; it starts nothing (see Run).
func NewManager(opts Options) (*Manager, error) {
	if opts.Records == nil {
		return nil, errors.New("runtime: Options.Records is required")
	}
	if opts.Server.Location == "" {
		return nil, errors.New("runtime: Options.Server.Location is required")
	}
	m := &Manager{
		records:    opts.Records,
		container:  opts.Container,
		nomad:      opts.Nomad,
		server:     opts.Server,
		nomadInfo:  opts.NomadInfo,
		sealer:     opts.Sealer,
		agentToken: opts.AgentToken,
		agentUp:    opts.AgentConnected,
		agentGrace: orDefault(opts.AgentGrace, 20*time.Second),
		interval:   orDefault(opts.ReconcileInterval, 5*time.Second),
		settle:     orDefault(opts.SettleTime, 2*time.Second),
		callTO:     orDefault(opts.CallTimeout, 30*time.Second),
		startTO:    orDefault(opts.StartTimeout, 10*time.Minute),
		grace:      orDefault(opts.StopGrace, 10*time.Second),
		log:        opts.Logger,
		now:        opts.Now,
		locks:      map[string]*spaceLock{},

		exits:      map[string]*exitWatch{},
		agentWaits: map[string]*agentWatch{},
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.born = m.now()
	if m.agentToken == nil {
		m.agentToken = func(context.Context, *shared.Space) (string, error) { return crypt.NewToken(), nil }
	}
	lines := opts.LogLines
	if lines <= 0 {
		lines = 500
	}
	m.logs = newSpaceLogs(lines)
	return m, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func templateHash(t *shared.Template) string {
	if t.Hash != "" {
		return t.Hash
	}
	return t.ComputeHash()
}

func (m *Manager) local(s *shared.Space) bool {
	return s.Location == "" || strings.EqualFold(s.Location, m.server.Location)
}

// notHere is the error for an operation on a space of another location.
func (m *Manager) notHere(s *shared.Space) error {
	return shared.Errorf(shared.EINVALID, "space %q runs at location %q, not here (%s)", s.Name, s.Location, m.server.Location)
}

// runtimeFor returns the runtime of a template kind.
func (m *Manager) runtimeFor(kind shared.TemplateKind) (Runtime, error) {
	switch kind {
	case shared.TemplateContainer:
		if m.container == nil {
			return nil, shared.Errorf(shared.EUNAVAILABLE, "no container runtime configured")
		}
		return m.container, nil
	case shared.TemplateNomad:
		if m.nomad == nil {
			return nil, shared.Errorf(shared.EUNAVAILABLE, "no nomad runtime configured")
		}
		return m.nomad, nil
	}
	return nil, shared.Errorf(shared.EINVALID, "template kind %q has no runtime", kind)
}

// runtimesOf returns the runtimes that may hold resources of a space whose
// template is t; with t nil (the template is gone), every configured one.
func (m *Manager) runtimesOf(t *shared.Template) []Runtime {
	if t != nil {
		if t.Kind == shared.TemplateManual {
			return nil
		}
		if rt, err := m.runtimeFor(t.Kind); err == nil {
			return []Runtime{rt}
		}
		return nil
	}
	var out []Runtime
	for _, rt := range []Runtime{m.container, m.nomad} {
		if rt != nil {
			out = append(out, rt)
		}
	}
	return out
}

func noun(rt Runtime) string {
	if rt.Name() == "nomad" {
		return "job"
	}
	return "container"
}
