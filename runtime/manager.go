package runtime

import (
	"context"
	"errors"
	"fmt"
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
	interval   time.Duration
	settle     time.Duration
	callTO     time.Duration
	startTO    time.Duration
	grace      time.Duration
	log        *slog.Logger
	now        func() time.Time
	logs       *spaceLogs

	mu    sync.Mutex
	locks map[string]*spaceLock // guarded by mu
	// exits follows the workloads of running spaces seen exited or
	// restarted, until they are seen to stay up.
	exits map[string]*exitWatch // guarded by mu
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
		interval:   orDefault(opts.ReconcileInterval, 5*time.Second),
		settle:     orDefault(opts.SettleTime, 2*time.Second),
		callTO:     orDefault(opts.CallTimeout, 30*time.Second),
		startTO:    orDefault(opts.StartTimeout, 10*time.Minute),
		grace:      orDefault(opts.StopGrace, 10*time.Second),
		log:        opts.Logger,
		now:        opts.Now,
		locks:      map[string]*spaceLock{},

		exits: map[string]*exitWatch{},
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.now == nil {
		m.now = time.Now
	}
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

// Logs returns the log of a space, oldest line first: state changes,
// runtime errors and image pull progress since this server started, at most
// Options.LogLines of them. The log of a deleted space is dropped.
func (m *Manager) Logs(spaceID string) []LogEntry { return m.logs.lines(spaceID) }

// Follow returns the log of a space as Logs does and a channel that
// receives every later line of it, in order, until cancel is called or the
// space is deleted; the channel is then closed. The Manager never waits for
// a follower: one that falls more than 256 lines behind loses the lines
// that do not fit, and gets a line saying how many were lost once it has
// caught up. cancel may be called more than once. Following a space that
// has no log yet is fine: its lines arrive as they are written.
func (m *Manager) Follow(spaceID string) (lines []LogEntry, next <-chan LogEntry, cancel func()) {
	return m.logs.follow(spaceID)
}

func (m *Manager) logInfo(spaceID, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	m.logs.add(spaceID, LogEntry{At: m.now(), Level: "info", Text: msg})
	m.log.Info(msg, "space", spaceID)
}

func (m *Manager) logError(spaceID, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	m.logs.add(spaceID, LogEntry{At: m.now(), Level: "error", Text: msg})
	m.log.Warn(msg, "space", spaceID)
}

// --- per-space locks ---

type spaceLock struct {
	ch   chan struct{}
	refs int // guarded by Manager.mu
}

// lock waits for the space's lock until ctx ends.
func (m *Manager) lock(ctx context.Context, id string) (func(), error) {
	l := m.ref(id)
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; m.unref(id, l) }, nil
	case <-ctx.Done():
		m.unref(id, l)
		return nil, shared.Wrap(shared.EUNAVAILABLE, ctx.Err(), "space %s is busy with another operation", id)
	}
}

// locked runs op on the space with its lock held. op runs to its end even
// if ctx is cancelled once it has the lock; its ctx keeps ctx's values.
func (m *Manager) locked(ctx context.Context, id string, op func(ctx context.Context, id string) error) error {
	unlock, err := m.lock(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	return op(context.WithoutCancel(ctx), id)
}

// tryLock takes the space's lock if it is free.
func (m *Manager) tryLock(id string) (func(), bool) {
	l := m.ref(id)
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; m.unref(id, l) }, true
	default:
		m.unref(id, l)
		return nil, false
	}
}

func (m *Manager) ref(id string) *spaceLock {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.locks[id]
	if l == nil {
		l = &spaceLock{ch: make(chan struct{}, 1)}
		m.locks[id] = l
	}
	l.refs++
	return l
}

func (m *Manager) unref(id string, l *spaceLock) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l.refs--
	if l.refs == 0 {
		delete(m.locks, id)
	}
}

// --- record helpers ---

func (m *Manager) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, m.callTO)
}

func (m *Manager) getSpace(ctx context.Context, id string) (*shared.Space, error) {
	cctx, cancel := m.call(ctx)
	defer cancel()
	return m.records.GetSpace(cctx, id)
}

// templateOf returns the template of s, or nil if it no longer exists.
func (m *Manager) templateOf(ctx context.Context, s *shared.Space) (*shared.Template, error) {
	cctx, cancel := m.call(ctx)
	defer cancel()
	t, err := m.records.GetTemplate(cctx, s.TemplateID)
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		return nil, nil
	}
	return t, err
}

// update applies change to the stored space and writes it, reading again
// and reapplying when another writer got there first. change sees the latest
// record.
func (m *Manager) update(ctx context.Context, id string, change func(s *shared.Space)) (*shared.Space, error) {
	for attempt := 0; attempt < 10; attempt++ {
		s, err := m.getSpace(ctx, id)
		if err != nil {
			return nil, err
		}
		change(s)
		s.UpdatedAt = m.now()
		cctx, cancel := m.call(ctx)
		err = m.records.PutSpace(cctx, s)
		cancel()
		if shared.ErrorCode(err) == shared.ECONFLICT {
			continue
		}
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, shared.Errorf(shared.ECONFLICT, "space %s kept changing while it was being updated", id)
}

// setState moves the space to state with reason, applying extra too, and
// logs the change.
func (m *Manager) setState(ctx context.Context, id string, state shared.SpaceState, reason string, extra func(s *shared.Space)) (*shared.Space, error) {
	var from shared.SpaceState
	s, err := m.update(ctx, id, func(s *shared.Space) {
		from = s.State
		s.State = state
		s.Reason = reason
		if extra != nil {
			extra(s)
		}
	})
	if err != nil {
		m.logError(id, "recording state %s failed: %s", state, reasonOf(err))
		return nil, err
	}
	switch {
	case reason != "" && state == shared.SpaceFailed:
		m.logError(id, "%s → %s: %s", orPending(from), state, reason)
	case reason != "":
		m.logInfo(id, "%s → %s: %s", orPending(from), state, reason)
	case from != state:
		m.logInfo(id, "%s → %s", orPending(from), state)
	}
	return s, nil
}

func orPending(s shared.SpaceState) shared.SpaceState {
	if s == "" {
		return shared.SpacePending
	}
	return s
}

// fail records the space as failed because of err and returns err.
func (m *Manager) fail(ctx context.Context, id string, err error, prefix string) error {
	reason := reasonOf(err)
	if prefix != "" {
		reason = prefix + ": " + reason
	}
	m.setState(ctx, id, shared.SpaceFailed, reason, func(s *shared.Space) {
		s.ContainerID = ""
		s.StartedAt = nil
	})
	return err
}

// reasonOf is the text of err for a space's Reason: the message of a
// *shared.Error (written for users, with the runtime's reason), or the
// error's text.
func reasonOf(err error) string {
	var e *shared.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
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

// --- Start ---

// Start starts the space with id and returns when it runs or has failed. A
// running space is left alone. The template's current spec is rendered and
// applied; the space records the template hash it was started with.
//
// Errors: ENOTFOUND if there is no such space; ELOCKED if it is being
// deleted; EINVALID if it belongs to another location or its template does
// not render; otherwise the runtime's error, which is also recorded as the
// space's failure Reason (EUNAVAILABLE when the engine cannot be reached,
// ENOTFOUND when the image does not exist, ...).
func (m *Manager) Start(ctx context.Context, spaceID string) error {
	return m.locked(ctx, spaceID, m.start)
}

func (m *Manager) start(ctx context.Context, id string) error {
	s, err := m.getSpace(ctx, id)
	if err != nil {
		return err
	}
	if !m.local(s) {
		return m.notHere(s)
	}
	if s.State == shared.SpaceDeleting {
		return shared.Errorf(shared.ELOCKED, "space %q is being deleted", s.Name)
	}
	tmpl, err := m.templateOf(ctx, s)
	if err != nil {
		return err
	}
	if tmpl == nil {
		return m.fail(ctx, id, shared.Errorf(shared.EINVALID, "the template of space %q does not exist", s.Name), "")
	}
	hash := templateHash(tmpl)
	if tmpl.Kind == shared.TemplateManual {
		if s.State == shared.SpaceRunning {
			return nil
		}
		now := m.now()
		_, err := m.setState(ctx, id, shared.SpaceRunning, "", func(s *shared.Space) {
			s.TemplateHash = hash
			s.StartedAt = &now
			s.ContainerID = ""
			s.Location = m.server.Location
		})
		return err
	}
	rt, err := m.runtimeFor(tmpl.Kind)
	if err != nil {
		return m.fail(ctx, id, err, "")
	}
	if s.State == shared.SpaceRunning {
		st, err := m.inspect(ctx, rt, id)
		if err != nil {
			return err
		}
		if st.State == StateRunning {
			return nil
		}
		m.logInfo(id, "the space's %s is %s; starting it again", noun(rt), st.State)
	}

	cctx, cancel := m.call(ctx)
	user, err := m.records.GetUser(cctx, s.UserID)
	cancel()
	if err != nil {
		if shared.ErrorCode(err) == shared.ENOTFOUND {
			err = shared.Errorf(shared.EINVALID, "the owner of space %q does not exist", s.Name)
		}
		return m.fail(ctx, id, err, "")
	}
	vars, sealed, err := m.templateVars(ctx)
	if err != nil {
		return m.fail(ctx, id, err, "")
	}
	data := &RenderData{Space: s, User: user, Template: tmpl, Server: m.server, Nomad: m.nomadInfo, Vars: vars}
	label := fmt.Sprintf("template %q", tmpl.Name)
	spec, err := Render(label, tmpl.Spec, data)
	if err != nil {
		return m.fail(ctx, id, explainSealed(err, sealed), "")
	}
	var volumes string
	if strings.TrimSpace(tmpl.Volumes) != "" {
		if volumes, err = Render(label+" volumes", tmpl.Volumes, data); err != nil {
			return m.fail(ctx, id, explainSealed(err, sealed), "")
		}
	}
	token, err := m.agentToken(ctx, s)
	if err != nil {
		return m.fail(ctx, id, err, "making the agent token failed")
	}

	if _, err := m.setState(ctx, id, shared.SpaceStarting, "", func(s *shared.Space) {
		s.TemplateHash = hash
		s.AgentTokenHash = crypt.HashToken(token)
		s.Location = m.server.Location
		s.ContainerID = ""
		s.StartedAt = nil
	}); err != nil {
		return err
	}
	w := &Workload{
		SpaceID:   id,
		SpaceName: s.Name,
		UserName:  user.Username,
		Spec:      spec,
		Volumes:   volumes,
		Hash:      hash,
		Env: map[string]string{
			EnvAgentEndpoint: m.server.AgentEndpoint,
			EnvSpaceID:       id,
			EnvAgentToken:    token,
		},
		Logf: func(format string, args ...any) { m.logInfo(id, format, args...) },
	}
	cctx, cancel = m.call(ctx)
	err = rt.EnsureVolumes(cctx, w)
	cancel()
	if err != nil {
		return m.fail(ctx, id, err, "")
	}
	sctx, cancel := context.WithTimeout(ctx, m.startTO)
	st, err := rt.Start(sctx, w)
	cancel()
	if err != nil {
		return m.fail(ctx, id, err, "")
	}
	started := st.StartedAt
	if started.IsZero() {
		started = m.now()
	}
	_, err = m.setState(ctx, id, shared.SpaceRunning, "", func(s *shared.Space) {
		s.ContainerID = st.ID
		s.StartedAt = &started
	})
	return err
}

func (m *Manager) inspect(ctx context.Context, rt Runtime, id string) (*Status, error) {
	cctx, cancel := m.call(ctx)
	defer cancel()
	return rt.Inspect(cctx, id)
}

// templateVars returns the variables for this location, protected ones
// opened, and the errors of the protected ones that did not open.
func (m *Manager) templateVars(ctx context.Context) (map[string]string, map[string]error, error) {
	cctx, cancel := m.call(ctx)
	all, err := m.records.ListTemplateVars(cctx)
	cancel()
	if err != nil {
		return nil, nil, err
	}
	vars, sealed := FilterVars(all, m.server.Location, m.sealer)
	return vars, sealed, nil
}

// FilterVars returns the template variables that apply at location, by
// name: a variable for every location ("") is overridden by one for this
// location, which is overridden by a local one. Protected values are opened
// with sealer; those that cannot be opened (no sealer, wrong key) are left
// out and returned in failed, so that only a template that uses one fails.
func FilterVars(all []*shared.TemplateVar, location string, sealer *crypt.Sealer) (vars map[string]string, failed map[string]error) {
	vars = map[string]string{}
	failed = map[string]error{}
	rank := map[string]int{}
	for _, v := range all {
		if v.Location != "" && !strings.EqualFold(v.Location, location) {
			continue
		}
		r := 0
		if v.Location != "" {
			r = 1
		}
		if v.Local {
			r = 2
		}
		if prev, ok := rank[v.Name]; ok && prev > r {
			continue
		}
		rank[v.Name] = r
		value := v.Value
		if v.Protected {
			switch {
			case sealer == nil:
				delete(vars, v.Name)
				failed[v.Name] = shared.Errorf(shared.EINVALID, "variable %s is protected and this server has no encryption key (server.encrypt)", v.Name)
				continue
			default:
				pt, err := sealer.Open(v.Value)
				if err != nil {
					delete(vars, v.Name)
					failed[v.Name] = shared.Wrap(shared.EINVALID, err, "variable %s does not open with this server's encryption key", v.Name)
					continue
				}
				value = pt
			}
		}
		delete(failed, v.Name)
		vars[v.Name] = value
	}
	return vars, failed
}

// explainSealed replaces "X is not defined" for a protected variable that
// did not open with the reason it did not.
func explainSealed(err error, sealed map[string]error) error {
	if len(sealed) == 0 {
		return err
	}
	if name, ok := missingVarName(err); ok {
		if e, ok := sealed[name]; ok {
			return e
		}
	}
	return err
}

func missingVarName(err error) (string, bool) {
	msg := shared.ErrorMessage(err)
	i := strings.Index(msg, ".var.")
	if i < 0 || !strings.HasSuffix(msg, " is not defined") {
		return "", false
	}
	return strings.TrimSuffix(msg[i+len(".var."):], " is not defined"), true
}

// --- Stop ---

// Stop stops the space with id and returns when it has stopped: its
// workload is stopped and removed, its volumes kept. Stopping a stopped or
// never started space does nothing; stopping a failed space clears the
// failure once nothing of it runs.
//
// Errors: ENOTFOUND if there is no such space; ELOCKED if it is being
// deleted; otherwise the runtime's error, also recorded as the failure
// Reason.
func (m *Manager) Stop(ctx context.Context, spaceID string) error {
	return m.locked(ctx, spaceID, m.stop)
}

func (m *Manager) stop(ctx context.Context, id string) error {
	s, err := m.getSpace(ctx, id)
	if err != nil {
		return err
	}
	switch s.State {
	case shared.SpacePending, shared.SpaceStopped, "":
		return nil
	case shared.SpaceDeleting:
		return shared.Errorf(shared.ELOCKED, "space %q is being deleted", s.Name)
	}
	if !m.local(s) {
		return m.notHere(s)
	}
	tmpl, err := m.templateOf(ctx, s)
	if err != nil {
		return err
	}
	rts := m.runtimesOf(tmpl)
	if len(rts) > 0 {
		if _, err := m.setState(ctx, id, shared.SpaceStopping, "", nil); err != nil {
			return err
		}
		for _, rt := range rts {
			if err := m.removeWorkload(ctx, rt, id); err != nil {
				return m.fail(ctx, id, err, "stop failed")
			}
		}
	}
	_, err = m.setState(ctx, id, shared.SpaceStopped, "", func(s *shared.Space) {
		s.ContainerID = ""
		s.StartedAt = nil
	})
	return err
}

// removeWorkload stops the space's workload with grace and removes it.
func (m *Manager) removeWorkload(ctx context.Context, rt Runtime, id string) error {
	sctx, cancel := context.WithTimeout(ctx, m.grace+m.callTO)
	err := rt.Stop(sctx, id, m.grace)
	cancel()
	if err != nil {
		return err
	}
	cctx, cancel := m.call(ctx)
	defer cancel()
	return rt.Remove(cctx, id)
}

// --- Delete ---

// Delete removes the space with id: its workload, its volumes and then its
// record. A running space is stopped first. Deleting a space that does not
// exist does nothing. When a runtime cannot be reached the space stays in
// state deleting with the reason, and the reconciler finishes the delete
// once it can.
//
// Errors: EINVALID if it belongs to another location; otherwise the
// runtime's or the store's error.
func (m *Manager) Delete(ctx context.Context, spaceID string) error {
	return m.locked(ctx, spaceID, m.delete)
}

func (m *Manager) delete(ctx context.Context, spaceID string) error {
	s, err := m.getSpace(ctx, spaceID)
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	if !m.local(s) {
		return m.notHere(s)
	}
	if s.State != shared.SpaceDeleting {
		if _, err := m.setState(ctx, spaceID, shared.SpaceDeleting, "", nil); err != nil {
			return err
		}
	}
	return m.finishDelete(ctx, s)
}

// finishDelete removes what the runtimes hold of s and then its record.
func (m *Manager) finishDelete(ctx context.Context, s *shared.Space) error {
	tmpl, err := m.templateOf(ctx, s)
	if err != nil {
		return err
	}
	for _, rt := range m.runtimesOf(tmpl) {
		err := m.removeWorkload(ctx, rt, s.ID)
		if err == nil {
			cctx, cancel := m.call(ctx)
			err = rt.RemoveVolumes(cctx, s.ID)
			cancel()
		}
		if err != nil {
			reason := "delete waits: " + reasonOf(err)
			if cur, gerr := m.getSpace(ctx, s.ID); gerr == nil && cur.Reason != reason {
				m.setState(ctx, s.ID, shared.SpaceDeleting, reason, nil)
			}
			return err
		}
	}
	cctx, cancel := m.call(ctx)
	err = m.records.DeleteSpace(cctx, s.ID)
	cancel()
	if err != nil && shared.ErrorCode(err) != shared.ENOTFOUND {
		m.logError(s.ID, "deleting the record failed: %s", reasonOf(err))
		return err
	}
	m.settled(s.ID)
	m.log.Info("space deleted", "space", s.ID, "name", s.Name)
	m.logs.drop(s.ID)
	return nil
}

// --- reconciliation ---

// Run reconciles the records of this location's spaces with what the
// runtimes report, once at once and then every ReconcileInterval, until ctx
// ends; it then returns nil. See Reconcile.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		if err := m.Reconcile(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("reconciling spaces failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Reconcile makes one pass over this location's spaces, skipping those
// with an operation in progress:
//   - a running space whose workload vanished outside knot, or stayed
//     exited for SettleTime (in a crash loop, with only its engine's
//     restarts between), becomes stopped (exit code 0) or failed with
//     the reason, and what is left of the workload is removed; one whose
//     workload restarted gets its new start time; while its runtime cannot
//     be reached it stays running with the reason;
//   - a space left starting or stopping by a crash is settled: running if
//     its workload runs, else failed; stopped once its workload is removed;
//   - a space left deleting is deleted;
//   - a stopped, failed or pending space has any workload removed, and a
//     workload of a space that no longer exists is removed (volumes stay).
//
// It returns the first error that kept it from looking at every space.
func (m *Manager) Reconcile(ctx context.Context) error {
	type snapshot struct {
		byID map[string]*Status
		err  error
	}
	snaps := map[Runtime]*snapshot{}
	for _, rt := range m.runtimesOf(nil) {
		cctx, cancel := m.call(ctx)
		list, err := rt.List(cctx)
		cancel()
		sn := &snapshot{byID: map[string]*Status{}, err: err}
		for _, st := range list {
			sn.byID[st.SpaceID] = st
		}
		snaps[rt] = sn
	}
	cctx, cancel := m.call(ctx)
	spaces, err := m.records.ListSpaces(cctx)
	cancel()
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, s := range spaces {
		known[s.ID] = true
		if !m.local(s) {
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		m.reconcileSpace(ctx, s.ID, func(rt Runtime) (*Status, error) {
			sn := snaps[rt]
			if sn.err != nil {
				return nil, sn.err
			}
			if st := sn.byID[s.ID]; st != nil {
				return st, nil
			}
			return &Status{SpaceID: s.ID, State: StateMissing}, nil
		})
	}
	for rt, sn := range snaps {
		for id := range sn.byID {
			if !known[id] {
				m.removeOrphan(ctx, rt, id)
			}
		}
	}
	return nil
}

// reconcileSpace settles one space; observed reports what a runtime's List
// said about it.
func (m *Manager) reconcileSpace(ctx context.Context, id string, observed func(Runtime) (*Status, error)) {
	unlock, ok := m.tryLock(id)
	if !ok {
		return
	}
	defer unlock()
	ctx = context.WithoutCancel(ctx)
	s, err := m.getSpace(ctx, id)
	if err != nil {
		return
	}
	if s.State == shared.SpaceDeleting {
		if err := m.finishDelete(ctx, s); err != nil {
			m.log.Debug("delete still waits", "space", id, "err", err)
		}
		return
	}
	tmpl, err := m.templateOf(ctx, s)
	if err != nil {
		return
	}
	if tmpl != nil && tmpl.Kind == shared.TemplateManual {
		switch s.State {
		case shared.SpaceStarting:
			m.setState(ctx, id, shared.SpaceRunning, "", nil)
		case shared.SpaceStopping:
			m.setState(ctx, id, shared.SpaceStopped, "", nil)
		}
		return
	}
	var rt Runtime
	if tmpl != nil {
		rt, err = m.runtimeFor(tmpl.Kind)
		if err != nil {
			if s.State == shared.SpaceRunning || s.State == shared.SpaceStarting {
				m.fail(ctx, id, err, "")
			}
			return
		}
	} else {
		rts := m.runtimesOf(nil)
		if len(rts) == 0 {
			return
		}
		rt = rts[0]
	}
	st, err := observed(rt)
	if err != nil {
		if s.State == shared.SpaceRunning {
			reason := fmt.Sprintf("cannot reach %s: %s", rt.Name(), reasonOf(err))
			if s.Reason != reason {
				m.setState(ctx, id, shared.SpaceRunning, reason, nil)
			}
		}
		return
	}
	// What List said may predate an operation that has finished since;
	// look again before acting on a difference.
	live := func() (*Status, bool) {
		st, err := m.inspect(ctx, rt, id)
		if err != nil {
			return nil, false
		}
		return st, true
	}
	if s.State != shared.SpaceRunning {
		m.settled(id)
	}
	switch s.State {
	case shared.SpaceRunning:
		if st.State == StateRunning {
			m.seenRunning(id, st.StartedAt)
			m.checkRunning(ctx, rt, s, st)
			return
		}
		if st, ok := live(); ok {
			switch {
			case st.State == StateRunning:
				m.seenRunning(id, st.StartedAt)
				m.checkRunning(ctx, rt, s, st)
			case st.State == StateExited && !m.exitedLongEnough(id):
				// Wait: it may be restarting.
			default:
				m.settled(id)
				m.lost(ctx, rt, s, st)
			}
		}
	case shared.SpaceStarting:
		if st, ok := live(); ok {
			if st.State == StateRunning {
				started := st.StartedAt
				m.setState(ctx, id, shared.SpaceRunning, "", func(s *shared.Space) {
					s.ContainerID = st.ID
					s.StartedAt = &started
				})
				return
			}
			if err := m.removeWorkload(ctx, rt, id); err == nil {
				m.fail(ctx, id, shared.Errorf(shared.EUNAVAILABLE, "the start was interrupted"), "")
			}
		}
	case shared.SpaceStopping:
		if err := m.removeWorkload(ctx, rt, id); err == nil {
			m.setState(ctx, id, shared.SpaceStopped, "", func(s *shared.Space) {
				s.ContainerID = ""
				s.StartedAt = nil
			})
		}
	default: // pending, stopped, failed
		if st.State == StateMissing {
			return
		}
		if st, ok := live(); ok && st.State != StateMissing {
			if err := m.removeWorkload(ctx, rt, id); err == nil {
				m.logInfo(id, "removed a %s that was left over while the space is %s", noun(rt), orPending(s.State))
			}
		}
	}
}

// crashLoop is how many restarts of a running space's workload, each seen
// before it was seen to stay up, make the exits count together: the
// workload is in a crash loop, such as one whose engine restarts it at once
// every time (Podman's restart policy does), and the reconciler would
// otherwise always find it just exited or just restarted.
const crashLoop = 3

// exitWatch is what the reconciler saw of the workload of a running space
// since it was last seen to stay up.
type exitWatch struct {
	since     time.Time // when it was seen exited; zero when seen running since
	restarts  int       // restarts seen
	lastStart time.Time // the start time it was last seen running with
}

// exitedLongEnough notes that the workload of a running space is seen
// exited and reports whether that has lasted SettleTime.
func (m *Manager) exitedLongEnough(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	w := m.exits[id]
	if w == nil {
		w = &exitWatch{}
		m.exits[id] = w
	}
	if w.since.IsZero() {
		w.since = now
		return false
	}
	return now.Sub(w.since) >= m.settle
}

// seenRunning notes that the workload of a running space is seen running,
// started at started. Seen twice with one start time, it stays up, and
// what was seen before is forgotten. A restart ends the exit that came
// before it, unless it is the crashLoop-th restart seen without the
// workload staying up in between.
func (m *Manager) seenRunning(id string, started time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.exits[id]
	switch {
	case w == nil:
	case w.restarts > 0 && started.Equal(w.lastStart):
		delete(m.exits, id)
	default:
		if !started.Equal(w.lastStart) {
			w.restarts++
			w.lastStart = started
		}
		if w.restarts < crashLoop {
			w.since = time.Time{}
		}
	}
}

// settled forgets what was seen of the workload of a space.
func (m *Manager) settled(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.exits, id)
}

// checkRunning updates a running space whose workload runs: a restart
// outside knot, or a runtime that is reachable again.
func (m *Manager) checkRunning(ctx context.Context, rt Runtime, s *shared.Space, st *Status) {
	// Stores keep times to the microsecond at least; a later start time is a
	// restart.
	restarted := !st.StartedAt.IsZero() && (s.StartedAt == nil || st.StartedAt.Sub(*s.StartedAt) > time.Millisecond)
	changed := s.ContainerID != st.ID && st.ID != ""
	if !restarted && !changed && s.Reason == "" {
		return
	}
	if restarted && s.StartedAt != nil {
		m.logInfo(s.ID, "the %s restarted outside knot at %s", noun(rt), st.StartedAt.UTC().Format(time.RFC3339))
	}
	started := st.StartedAt
	m.setState(ctx, s.ID, shared.SpaceRunning, "", func(s *shared.Space) {
		if st.ID != "" {
			s.ContainerID = st.ID
		}
		if !started.IsZero() {
			s.StartedAt = &started
		}
	})
}

// lost records a running space whose workload exited or vanished outside
// knot and removes what is left of the workload.
func (m *Manager) lost(ctx context.Context, rt Runtime, s *shared.Space, st *Status) {
	state := shared.SpaceFailed
	var reason string
	switch st.State {
	case StateMissing:
		reason = fmt.Sprintf("the %s was removed outside knot", noun(rt))
	default:
		reason = st.Reason
		if reason == "" {
			reason = fmt.Sprintf("%s exited with code %d", noun(rt), st.ExitCode)
		}
		reason = "the " + reason + " outside knot"
		if st.ExitCode == 0 {
			state = shared.SpaceStopped
		}
		if err := m.removeWorkload(ctx, rt, s.ID); err != nil {
			m.logError(s.ID, "removing the exited %s failed: %s", noun(rt), reasonOf(err))
		}
	}
	m.setState(ctx, s.ID, state, reason, func(s *shared.Space) {
		s.ContainerID = ""
		s.StartedAt = nil
	})
}

// removeOrphan removes the workload of a space that has no record. Its
// volumes stay: only an explicit delete removes data.
func (m *Manager) removeOrphan(ctx context.Context, rt Runtime, id string) {
	unlock, ok := m.tryLock(id)
	if !ok {
		return
	}
	defer unlock()
	if _, err := m.getSpace(ctx, id); shared.ErrorCode(err) != shared.ENOTFOUND {
		return
	}
	if err := m.removeWorkload(ctx, rt, id); err != nil {
		m.log.Warn("removing the workload of a space that does not exist failed", "space", id, "runtime", rt.Name(), "err", err)
		return
	}
	m.log.Info("removed the workload of a space that does not exist", "space", id, "runtime", rt.Name())
}
