// Package leaf is the spoke of replication: the Uplink keeps a link to the
// origin, applies the origin's change feed to the leaf's own store, reports
// the leaf's spaces to the origin and carries out the origin's commands on
// them. The frames and the protocol flow are documented in shared/wire.
//
// How a leaf stays in step:
//
//  1. Run dials <origin>/api/leaf-server (srv+ names re-resolved on every
//     attempt) with "Authorization: Bearer <token>" and the subprotocol
//     knot-leaf.v1, and sends a hello with the replica state its store
//     persisted with the records: {epoch, applied revision}.
//  2. On a "resume" welcome it expects changes that follow its revision; on
//     a "snapshot" welcome it collects the snapshot and applies it in one
//     Store.Apply that also deletes every replicated record the snapshot did
//     not hold (local template variables stay). A link that breaks
//     mid-snapshot changes nothing. A snapshot of another epoch than the
//     replica's is applied only once the replica is written to a file in
//     Options.BackupDir (epoch.go).
//  3. Each change frame is applied in one Store.Apply together with its
//     revision, strictly in order: a frame already applied is ignored, a
//     frame that does not follow the applied revision closes the link. The
//     applied revision is acknowledged, the snapshot's at once, the frames
//     after it together, after at most wire.AckInterval.
//  4. Changes to the leaf's spaces in its own store (found by scanning the
//     store's own feed after the last acknowledged leaf revision, at once
//     after Notify and every ReportInterval) are sent as space reports until
//     the origin acknowledges them. Commands of the origin go to the
//     SpaceController: Options.Spaces, or the SpaceService made with the
//     uplink. With protocol 2, the audit events of the leaf's
//     store go to the origin the same way (see reportAudit); with
//     protocol 5, the states of its agents (uplinkagents.go); with
//     protocol 6 the origin sends those of the other locations down.
//  5. When the link ends, for whatever reason, Run waits with capped
//     exponential backoff (reset after a welcome) and dials again. It never
//     returns because of the origin: a refused credential, no common protocol
//     or an origin that is down are logged and shown by Status.
//
// Streams to agents from any server (streams.go, relay.go): AgentStreams
// opens a terminal, or any other kind of agent stream, to a space of any
// location. knot relays rather than redirects, since it cannot know that a
// user's client reaches the space's leaf, while every leaf reaches the
// origin: a leaf keeps a relay channel to the origin beside its link, and
// the space's leaf checks and audits every stream itself.
//
// The ways into a space (access.go, webapps.go): Access holds who may open
// a terminal, a forwarded port, a web app or any other agent stream, the
// audit records of every open and close, the agent token of a manual space,
// and the web apps' one-time codes and cookies (AppGrants); web's handlers
// only decode the request, call it and carry the bytes. The pumps
// (pump.go) carry them: between a viewer's websocket (Viewer, which web
// accepts) and the stream to the space, for terminals, SSH, forwarded
// ports and the log, with the reasons each ends for; Pumps lets a server
// stop them all at shutdown.
//
// The space list cache (listcache.go) keeps the encoded entries of
// GET /api/spaces while the store has not changed.
//
// On a leaf the store's own revisions are local: they order the leaf's own
// writes (its spaces). The origin's revisions live only in the replica state
// that Apply records. The leaf serves from its store whether or not the
// origin is reachable; nothing here blocks its start-up.
//
// The origin-owned services of a leaf (GroupService, RoleService,
// FleetService; services.go) read the replica with the origin's permission
// checks and make their writes at the origin with Forward (origin.go):
// through shared/client, acting for the caller with the credential they
// presented here (shared.Credential: an API token, or the session the
// leaf's Origin opened at the origin at their login), failing at once with
// EUNAVAILABLE while the uplink is down, and returning the origin's
// refusal as its shared.Error. A service makes one Forward call per write.
//
// The SpaceService (spaces.go) is the space service of a location, a
// leaf's and an origin's own alike: the checks of a space, placement, the
// quotas decided in the store's transaction (spacequota.go) and the
// lifecycle through a runtime.Manager. On a leaf, web forwards a start,
// stop or delete of another location's space to the origin before it
// reaches the service, as it forwards writes of origin-owned data; on an
// origin the service commands that location's leaf through the hub (a
// Fleet, since origin and leaf do not import each other).
package leaf

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/client"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
)

// SpaceController carries out the origin's commands on the leaf's spaces.
// Errors should be *shared.Error; their code and message go back to the
// origin.
type SpaceController interface {
	Start(ctx context.Context, spaceID string) error
	Stop(ctx context.Context, spaceID string) error
	Delete(ctx context.Context, spaceID string) error
}

// SpaceCreator is implemented by a SpaceController that also creates the
// spaces the origin places on this leaf (protocol 2). Create stores sp as
// a new space of the leaf; creating a space that exists already with the
// same id does nothing. Without it, such a command fails with EUNAVAILABLE.
type SpaceCreator interface {
	Create(ctx context.Context, sp *shared.Space) error
}

// DialFunc opens the websocket; websocket.Dial is one.
type DialFunc func(ctx context.Context, url string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error)

// Options configures an Uplink. Each field says what its zero value means.
type Options struct {
	// Store is the leaf's store. Required.
	Store storage.Store
	// OriginURL is the origin's base URL: http(s)://host[:port][/prefix],
	// ws(s):// likewise, or srv+http(s)://name. Required.
	OriginURL string
	// Token is the leaf's credential: the shared token, a per-leaf token, or
	// a user's API token. Required.
	Token string
	// Location is the leaf's location. The origin overrides it for a
	// restricted leaf (its owner's username).
	Location string
	// NodeID names this leaf node and stays the same across restarts.
	// Required.
	NodeID string
	// Version is this build's version; "" means "dev".
	Version string
	// Runtimes lists the runtimes the leaf drives, for the origin's fleet
	// view.
	Runtimes []string
	// Spaces carries out the origin's commands; nil means the commands of
	// the SpaceService made with this uplink, and without one every command
	// is answered with EUNAVAILABLE.
	Spaces SpaceController
	// Logger receives the uplink's log; nil means slog.Default().
	Logger *slog.Logger
	// Dial opens the websocket; nil means websocket.Dial.
	Dial DialFunc
	// HTTPClient is used for the websocket handshake (TLS settings); nil
	// means http.DefaultClient.
	HTTPClient *http.Client
	// Resolve turns a srv+ URL into a plain one; it is called on every
	// attempt. nil means a srv+ OriginURL cannot be resolved and the
	// uplink reports so in its status.
	Resolve func(ctx context.Context, url string) (string, error)
	// MinBackoff and MaxBackoff bound the wait between attempts; 0 means
	// 1s and 30s. A refusal that retrying cannot fix (a bad credential, no
	// common protocol) waits MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// IdleTimeout ends a link on which the origin sent nothing for so long
	// (it sends keep-alives, every 15s); 0 means 60s. After half of it
	// without a frame the leaf pings the origin, as Probe does, so that an
	// origin that hangs is noticed then.
	IdleTimeout time.Duration
	// ProbeTimeout is how long the origin has to answer the ping that Probe
	// asks for before the link is dropped; 0 means 5s.
	ProbeTimeout time.Duration
	// ReportInterval is how often the leaf looks for space changes to report
	// without being notified; 0 means 2s.
	ReportInterval time.Duration
	// Now is the clock of the status; nil means time.Now.
	Now func() time.Time
	// Agents is the agent endpoint of the leaf's location, whose agents'
	// states go to the origin (protocol 5 on; see AgentChanged); nil means
	// none are reported.
	Agents *Agents
	// AgentReportDelay and AgentRefresh are how often agent states go out
	// (see wire.AgentStates); 0 means wire.AgentReportDelay and
	// wire.AgentRefresh.
	AgentReportDelay, AgentRefresh time.Duration
	// BackupDir is where the leaf writes a copy of its replica before a
	// snapshot of a new epoch replaces it (see ReplicaBackup); "" means
	// os.TempDir().
	BackupDir string
}

// Uplink keeps the leaf's link to its origin. Create it with New and run
// it with Run; its methods are safe for concurrent use.
type Uplink struct {
	opts   Options
	log    *slog.Logger
	dial   DialFunc
	now    func() time.Time
	notify chan struct{} // buffered 1: the leaf's store was written
	audit  chan struct{} // buffered 1: likewise, for the audit reporter
	probe  chan struct{} // buffered 1: Probe was called
	retry  chan struct{} // buffered 1: Retry was called

	agentsChanged chan struct{} // buffered 1: AgentChanged was called

	mu     sync.Mutex
	status shared.LeafStatus          // guarded by mu
	spaces SpaceController            // guarded by mu: Options.Spaces, or the space service's commands
	acked  int64                      // guarded by mu: highest leaf revision whose report the origin acknowledged
	marks  agentMarks                 // guarded by mu: agents to report
	remote map[string]*remoteLocation // guarded by mu: other locations' agents, by location (uplinkagents.go)

	streams *AgentStreams // guarded by mu: serves relayed streams (relay.go); nil keeps no relay channel
	relay   relayState    // guarded by mu
}

// New checks opts and returns an uplink. It starts nothing.
func New(opts Options) (*Uplink, error) {
	switch {
	case opts.Store == nil:
		return nil, shared.Errorf(shared.EINVALID, "leaf: Options.Store is required")
	case opts.OriginURL == "":
		return nil, shared.Errorf(shared.EINVALID, "leaf: the origin server URL is required")
	case opts.Token == "":
		return nil, shared.Errorf(shared.EINVALID, "leaf: a token for the origin is required")
	case opts.NodeID == "":
		return nil, shared.Errorf(shared.EINVALID, "leaf: Options.NodeID is required")
	}
	if _, err := wire.Endpoint(opts.OriginURL); err != nil && !isSRV(opts.OriginURL) {
		return nil, err
	}
	u := &Uplink{opts: opts, log: opts.Logger, dial: opts.Dial, now: opts.Now, notify: make(chan struct{}, 1), audit: make(chan struct{}, 1), probe: make(chan struct{}, 1),
		retry: make(chan struct{}, 1), agentsChanged: make(chan struct{}, 1), marks: agentMarks{dirty: map[string]struct{}{}}}
	if u.log == nil {
		u.log = slog.Default()
	}
	if u.dial == nil {
		u.dial = websocket.Dial
	}
	if u.now == nil {
		u.now = time.Now
	}
	if u.opts.Version == "" {
		u.opts.Version = "dev"
	}
	if u.opts.MinBackoff <= 0 {
		u.opts.MinBackoff = time.Second
	}
	if u.opts.MaxBackoff <= 0 {
		u.opts.MaxBackoff = 30 * time.Second
	}
	u.opts.MaxBackoff = max(u.opts.MaxBackoff, u.opts.MinBackoff)
	if u.opts.IdleTimeout <= 0 {
		u.opts.IdleTimeout = time.Minute
	}
	if u.opts.ProbeTimeout <= 0 {
		u.opts.ProbeTimeout = 5 * time.Second
	}
	if u.opts.AgentReportDelay <= 0 {
		u.opts.AgentReportDelay = wire.AgentReportDelay
	}
	if u.opts.AgentRefresh <= 0 {
		u.opts.AgentRefresh = wire.AgentRefresh
	}
	if u.opts.ReportInterval <= 0 {
		u.opts.ReportInterval = 2 * time.Second
	}
	u.status = shared.LeafStatus{Reason: "not started", Location: opts.Location, OriginServer: opts.OriginURL}
	return u, nil
}

// Run keeps the link up until ctx ends, then returns nil. Nothing the
// origin does, and no failure of the link, makes it return earlier.
func (u *Uplink) Run(ctx context.Context) error {
	delay := u.opts.MinBackoff
	for {
		welcomed, err := u.session(ctx)
		ended := time.Now()
		if ctx.Err() != nil {
			u.down("stopped", "", time.Time{})
			return nil
		}
		if welcomed {
			delay = u.opts.MinBackoff
		}
		reason, detail, slow := describe(err)
		wait := delay
		if slow {
			wait = u.opts.MaxBackoff
		}
		u.down(reason, detail, u.now().Add(wait))
		u.log.Warn("leaf: origin link down", "reason", reason, "error", detail, "retry_in", wait)
		if !u.wait(ctx, wait, ended) {
			u.down("stopped", "", time.Time{})
			return nil
		}
		delay = min(delay*2, u.opts.MaxBackoff)
	}
}

// minRetryGap is the least time between the end of an attempt and the
// next one that Retry brings forward.
const minRetryGap = time.Second

// wait waits d before the next attempt, or less when Retry is called (but
// minRetryGap after ended, when the last attempt ended), and reports
// whether ctx is still live.
func (u *Uplink) wait(ctx context.Context, d time.Duration, ended time.Time) bool {
	select { // a Retry of before the last attempt is spent
	case <-u.retry:
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-u.retry:
			soon := max(minRetryGap-time.Since(ended), 0)
			t.Reset(soon)
			u.update(func(s *shared.LeafStatus) {
				if !s.Connected {
					s.NextAttempt = u.now().Add(soon)
				}
			})
		}
	}
}

// Retry has the leaf dial its origin now, while the link is down and it
// waits for its next attempt, rather than at the end of the back-off (but
// not sooner than a second after the last attempt). It never blocks, and
// does nothing while the link is up.
func (u *Uplink) Retry() {
	select {
	case u.retry <- struct{}{}:
	default:
	}
}

// serveSpaces makes sc carry out the origin's commands unless
// Options.Spaces does.
func (u *Uplink) serveSpaces(sc SpaceController) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.opts.Spaces == nil {
		u.spaces = sc
	}
}

// spaceController returns what carries out the origin's commands, nil for
// nothing.
func (u *Uplink) spaceController() SpaceController {
	if u.opts.Spaces != nil {
		return u.opts.Spaces
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.spaces
}

// Notify tells the uplink that the leaf's store was written (a space
// changed, or an audit event was recorded), so that it reports without
// waiting for the next scan. It never blocks.
func (u *Uplink) Notify() {
	for _, ch := range []chan struct{}{u.notify, u.audit} {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Probe tells the uplink that a request to the origin got no answer, so
// that it checks the link now rather than at its idle timeout: it pings the
// origin, and drops the link when no answer comes within ProbeTimeout. An
// origin that hangs, or a network that drops its packets, keeps the
// websocket open; without a probe the leaf would count the origin as
// reachable, and make its users wait for it, until the idle timeout. It
// never blocks, and does nothing while the link is down.
func (u *Uplink) Probe() {
	select {
	case u.probe <- struct{}{}:
	default:
	}
}

// Status returns the state of the link.
func (u *Uplink) Status() shared.LeafStatus {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.status
	s.Lag = max(s.Head-s.Applied, 0)
	return s
}

func (u *Uplink) update(f func(*shared.LeafStatus)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	f(&u.status)
}

func (u *Uplink) down(reason, detail string, next time.Time) {
	u.update(func(s *shared.LeafStatus) {
		if s.Connected || s.Reason != reason {
			s.Since = u.now()
		}
		s.Connected, s.Reason, s.ReasonDetail, s.NextAttempt = false, reason, detail, next
	})
}

// refusedError is a refusal by the origin: a 401 or a refusal frame.
type refusedError struct {
	reason string
	slow   bool // retrying soon cannot help
}

func (e *refusedError) Error() string { return e.reason }

// unreachableError is a dial that reached no origin: reason says why in
// words, err is the error as the network or TLS gave it.
type unreachableError struct {
	reason string
	err    error
}

func (e *unreachableError) Error() string { return e.reason + ": " + e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// describe turns the error that ended a session into a status reason in
// words, the error behind it when the reason leaves it out, and whether to
// retry slowly.
func describe(err error) (string, string, bool) {
	var re *refusedError
	if errors.As(err, &re) {
		return re.reason, "", re.slow
	}
	var ue *unreachableError
	if errors.As(err, &ue) {
		return ue.reason, ue.err.Error(), false
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return "the origin closed the link: " + ce.Reason, "", false
	}
	if err == nil {
		return "the link closed", "", false
	}
	return err.Error(), "", false
}

// unreachable says in words why a dial of target reached no origin. It
// names no remedy for a refused certificate: the dial's error, shown as the
// detail beside it, does (knot's names the server.tls.origin_* keys).
func unreachable(target string, err error) string {
	words, _ := client.Unreachable(originWording, target, err)
	return words
}

// originWording is how the leaf speaks of its origin.
var originWording = client.Wording{Server: "the origin", Client: "this leaf"}
