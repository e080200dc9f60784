// Package origin is the hub of replication: it serves the leaf websocket,
// authenticates leaves, streams each one the filtered change feed of the
// origin's store, keeps the registry of the fleet, stores the space reports
// of leaves and sends them commands. The frames and the protocol flow are
// documented in shared/wire.
//
// How a leaf is served:
//
//  1. The web layer serves GET /api/leaf-server: it calls Authenticate with
//     the bearer credential (a refused one gets 401 with the reason, before
//     the upgrade, and Refused logs it, throttled per source), upgrades to a websocket with the subprotocol
//     knot-leaf.v1, and calls Accept. This package knows no HTTP handlers.
//  2. Accept reads the leaf's hello, picks the highest common protocol,
//     settles the location (a per-leaf token binds it, a user API token makes
//     it the owner's restricted location), refuses a second live connection
//     for the location from another node, and answers with a welcome:
//     "resume" when the leaf's epoch is the store's and its applied revision
//     is at or above the tombstone horizon, else "snapshot". It then
//     returns; the link goes on in goroutines of its own.
//  3. The link then streams, per page of storage.Changes after the leaf's
//     revision, one wire.Changes frame holding the records of the leaf's view
//     and tombstones for records deleted or gone out of it. The feed is pulled
//     by the links from the store; Run only wakes the links when the store's
//     head moves (on Notify, or on a slow poll). The trusted view is the same
//     for every trusted leaf, so a page after a revision is read and encoded
//     once for all the trusted links at that revision (fanout.go); a
//     restricted link reads its own. Likewise the trusted snapshot is made
//     once for the links that ask for it at one revision.
//  4. The link keeps-alive, pings for the round trip, checks that its
//     credential still holds, and handles acks, space reports, command
//     results and (protocol 2) audit reports from the leaf. An idle link
//     holds one goroutine, its reader, started after the handshake so that
//     its stack stays small: its streamer runs only while Run has woken it
//     for a change or a keep-alive that is due.
//
// Views. A trusted leaf (the shared token or a per-leaf token) sees every
// origin-owned record except local template variables, password hashes
// included. A restricted leaf (a user's API token, with EnableLeafAPITokens)
// sees its owner's user record without secrets, the owner's groups, roles
// and API tokens, the templates the owner may use, and the variables that
// are neither protected, restricted nor local and are unscoped or scoped to
// its own location. When the owner's record changes, the link re-evaluates
// the whole view in the same frame. On
// protocol 3 both views also hold spaces: every location's for a trusted
// leaf, the owner's for a restricted one, never their agent token hash.
//
// The origin's own location. The origin's store is the authority of its
// location's spaces and of everything the feed carries, so the origin runs
// that location straight from its store: it keeps no replica of itself and
// serves no link to itself. Its spaces reach the leaves through the feed
// like every other space. The web layer tells the hub that location
// (SetHome), and the hub refuses every link and every leaf token for it.
//
// Two namespaces of locations. A trusted leaf serves a trusted location, a
// plain name (shared.ValidTrustedLocation); a restricted leaf serves its
// owner's restricted location, "user:" and the owner's username
// (shared.RestrictedLocation). A trusted location holds no colon, so the
// two can never be confused: no username names a trusted leaf's location,
// the shared token and leaf tokens cannot claim a restricted location, and
// a link replaces another of its location only when it is the same node on
// a credential of the same holder (both trusted, or both the same owner's).
// A refusal never names the node that holds a location. A restricted leaf
// speaks for its owner alone: it is sent commands only about its owner's
// spaces (the web layer refuses other users' spaces at such a location with
// 403), its space reports pass the checks of POST /api/spaces (SpaceCheck,
// which the web layer gives), and its audit events are stored with its
// owner as the actor and the time the origin received them.
//
// Relays. A leaf also keeps a relay channel to the origin, beside its link
// and on its credential (relay.go): the origin relays on it the streams
// (terminals, and the other kinds of agent streams) opened at the origin or
// at another leaf to the spaces of that leaf's location, and answers 503
// at once while the leaf is not connected.
//
// Bounds. Any leaf credential, a user's API token included, may connect,
// so nothing a leaf sends grows what the origin holds or does without a
// bound: wire bounds every field of its frames; the fleet registry forgets
// a disconnected node after Options.ForgetAfter and keeps a few per
// location (fleet.go); the audit positions of leaf stores are an index
// read from the audit log once and bounded per location (auditindex.go);
// and each link has token buckets for its frames and audit events
// (limits.go).
//
// Services. origin also holds the services of origin-owned data (DESIGN.md,
// "The application layer"); groups.go and roles.go are the pattern the
// others follow:
//
//   - shared declares the interface (shared.GroupService) with domain types
//     and a small update struct of pointers (shared.GroupUpdate), and each
//     method's doc names the coded errors it returns.
//   - The implementation takes the actor from the context
//     (shared.ActorRequired: EUNAUTHORIZED without one) and checks the
//     permission the call needs (Actor.Needs: EFORBIDDEN) before anything
//     else, so no caller can forget it. It then validates (EINVALID), and
//     makes every change that reads before it writes, or writes more than
//     one record, in one store.Update transaction: a record's
//     read-check-write, and a delete with the check that nothing refers to
//     the record (ELOCKED). Writes run with context.WithoutCancel, so a
//     caller that hangs up does not cut them short.
//   - The rules of who may grant what are JudgeChange (grants.go), the one
//     copy: the role service applies them, and web's user handlers call
//     them until users have their service.
//   - Every write goes through the storage.Store the service was given.
//     web gives its own, which tells the hub of every committed write, so
//     the leaves hear of it at once; whoever wires a service over another
//     store must do the same.
//   - A leaf implements the same interface in package leaf: it reads the
//     replica and sends writes to the origin through shared/client.
//   - web's handler decodes the body (shared/api), maps it to the domain
//     type, makes one service call with the request's context, audits and
//     encodes: at most about 40 lines (layout_test.go holds it).
//   - Tests are black-box (package origin_test) over storage/memory, named
//     for the outcome, and assert on codes (services_test.go); web's tests
//     keep every route, status and field.
//   - The auth service (sessions.go, loginlimit.go, totp.go) differs where
//     a login must: it acts for no actor (it makes one), records its own
//     audit events (AuthOptions.Audit), since only it knows why a login
//     failed, and a leaf runs it over its replica too: sessions are each
//     server's own, and leaf.AuthService adds the leaf's session at the
//     origin around it.
package origin

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
)

// Options configures a Hub. Each field says what its zero value means.
type Options struct {
	// Store is the origin's store. Required.
	Store storage.Store
	// Logger receives the hub's log; nil means slog.Default().
	Logger *slog.Logger
	// SharedTokenHash is crypt.HashToken(server.shared_token); "" means no
	// leaf may connect with a shared token.
	SharedTokenHash string
	// EnableLeafAPITokens lets a user's API token connect a restricted leaf.
	EnableLeafAPITokens bool
	// Version is this build's version, shown to leaves; "" means "dev".
	Version string
	// Now is the clock for token expiry and the fleet registry; nil means
	// time.Now.
	Now func() time.Time
	// PollInterval is how often Run looks at the store's head without being
	// notified; 0 means 2s.
	PollInterval time.Duration
	// KeepAlive is how often an idle link sends a keep-alive frame and a
	// ping, and rechecks its credential; 0 means 15s. A leaf that does not
	// answer a ping within twice this is disconnected.
	KeepAlive time.Duration
	// HelloTimeout bounds the wait for a leaf's hello; 0 means 10s.
	HelloTimeout time.Duration
	// ForgetAfter is how long the fleet view keeps a disconnected leaf
	// node; 0 means 24h.
	ForgetAfter time.Duration
}

// Hub serves leaves. Create it with New and run it with Run; Accept serves
// one leaf while Run runs. Its methods are safe for concurrent use.
type Hub struct {
	store        storage.Store
	log          *slog.Logger
	sharedHash   string
	apiTokens    bool
	version      string
	now          func() time.Time
	pollInterval time.Duration
	keepAlive    time.Duration
	helloTimeout time.Duration
	forgetAfter  time.Duration

	notify  chan struct{} // buffered 1: the store changed
	started chan struct{} // closed when Run starts

	mu      sync.Mutex
	runCtx  context.Context  // guarded by mu: Run's context
	running bool             // guarded by mu
	stopped bool             // guarded by mu: Run has returned or is returning
	links   map[string]*link // guarded by mu: by location
	fleet   fleetTable       // guarded by mu: by node id
	head    storage.Head     // guarded by mu: as last seen by Run
	pages   pages            // the shared pages of the trusted view
	snaps   snapshots        // the shared snapshots of the trusted view
	audits  auditIndex       // highest leaf audit id stored, by location and leaf store
	conns   sync.WaitGroup   // links being opened or served, and relay channels
	relays  relayTable       // the relay channels of the leaves (relay.go)
	agents  agentTable       // guarded by mu: the leaves' agents (agents.go)

	// Set by SetHome, guarded by mu.
	home       string     // the origin's own location
	checkSpace SpaceCheck // checks the space reports of restricted leaves

	refusals refusalLog // the throttle of the log of refused credentials
}

// ErrClosed is returned by Accept when the hub is not running anymore.
var ErrClosed = errors.New("origin: hub closed")

// New checks opts and returns a hub. It starts nothing.
func New(opts Options) (*Hub, error) {
	if opts.Store == nil {
		return nil, shared.Errorf(shared.EINVALID, "origin: Options.Store is required")
	}
	if h := opts.SharedTokenHash; h != "" && (len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "") {
		return nil, shared.Errorf(shared.EINVALID, "origin: Options.SharedTokenHash must be crypt.HashToken of the shared token, not the token")
	}
	h := &Hub{
		store:        opts.Store,
		log:          opts.Logger,
		sharedHash:   opts.SharedTokenHash,
		apiTokens:    opts.EnableLeafAPITokens,
		version:      opts.Version,
		now:          opts.Now,
		pollInterval: opts.PollInterval,
		keepAlive:    opts.KeepAlive,
		helloTimeout: opts.HelloTimeout,
		forgetAfter:  opts.ForgetAfter,
		notify:       make(chan struct{}, 1),
		started:      make(chan struct{}),
		links:        map[string]*link{},
		fleet:        newFleetTable(),
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.version == "" {
		h.version = "dev"
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.pollInterval <= 0 {
		h.pollInterval = 2 * time.Second
	}
	if h.keepAlive <= 0 {
		h.keepAlive = 15 * time.Second
	}
	if h.helloTimeout <= 0 {
		h.helloTimeout = 10 * time.Second
	}
	if h.forgetAfter <= 0 {
		h.forgetAfter = 24 * time.Hour
	}
	return h, nil
}

// Run watches the store's head and wakes the links when it moves, until ctx
// ends. It then closes every leaf connection, waits for them, and returns
// nil. A hub runs once.
func (h *Hub) Run(ctx context.Context) error {
	h.mu.Lock()
	if h.running || h.stopped {
		h.mu.Unlock()
		return errors.New("origin: Run called twice")
	}
	h.running, h.runCtx = true, ctx
	h.mu.Unlock()
	close(h.started)

	t := time.NewTicker(h.pollInterval)
	defer t.Stop()
	// Keep-alives are due per link, every KeepAlive; this looks for the due
	// ones, and a link's keep-alive comes at most a quarter late.
	ka := time.NewTicker(max(h.keepAlive/4, 1))
	defer ka.Stop()
	agents := time.NewTicker(wire.AgentReportDelay)
	defer agents.Stop()
	for {
		h.refresh(ctx)
		select {
		case <-agents.C:
			h.wakeAgents()
		case now := <-ka.C:
			h.keepAlives(now)
			h.forgetGone()
		case <-ctx.Done():
			h.mu.Lock()
			h.stopped = true
			h.mu.Unlock()
			// Every link's context ends with ctx; wait until they are closed.
			h.conns.Wait()
			return nil
		case <-h.notify:
		case <-t.C:
		}
	}
}

// Notify tells the hub that the store was written. The web layer calls it
// after every write of origin-owned data; without it, leaves learn of writes
// at the next poll. It never blocks.
func (h *Hub) Notify() {
	select {
	case h.notify <- struct{}{}:
	default:
	}
}

// refresh reads the store's head and wakes every link if it moved.
func (h *Hub) refresh(ctx context.Context) {
	head, err := h.store.Head(ctx)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("origin: read store head", "err", err)
		}
		return
	}
	h.mu.Lock()
	if head == h.head {
		h.mu.Unlock()
		return
	}
	h.head = head
	h.pages.known.Store(head.Revision)
	links := make([]*link, 0, len(h.links))
	for _, l := range h.links {
		links = append(links, l)
	}
	h.mu.Unlock()
	for _, l := range links {
		l.poke()
	}
}

// Accept serves one leaf on conn, authenticated as cred (by Authenticate).
// It answers the leaf's hello within ctx and returns once the link is up
// or refused; the link then goes on in goroutines of its own until it
// ends, the leaf goes away or Run stops. Accept waits for Run to start.
// It closes conn when the hello is refused, with a refusal frame and a
// reason, and the link closes it with a close reason when it ends. The
// returned error says why the handshake failed; it is nil once the link is
// up.
func (h *Hub) Accept(ctx context.Context, conn *websocket.Conn, cred Credential) error {
	select {
	case <-h.started:
	case <-ctx.Done():
		conn.CloseNow()
		return ctx.Err()
	}
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		conn.Close(websocket.StatusTryAgainLater, "origin is shutting down")
		return ErrClosed
	}
	h.conns.Add(1)
	runCtx := h.runCtx
	h.mu.Unlock()
	l := &link{hub: h, conn: conn, cred: cred, pending: map[string]chan wire.CommandResult{}}
	if err := l.open(ctx, runCtx); err != nil {
		h.conns.Done()
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	go l.serve()
	return nil
}

// ackRate is the most acks a second the origin asks of all its leaves. A
// leaf acks at most once per wire.AckInterval; in a fleet of more than
// ackRate leaves each is asked for a longer interval, so that the acks of a
// fleet that takes a stream of changes cost the origin a bounded share of
// its time, however many leaves it serves: reading an ack costs the origin
// about as much as sending a change frame.
const ackRate = 2000

// ackInterval returns the ack interval, in milliseconds, that the origin
// asks of each of n connected leaves.
func ackInterval(n int) int64 {
	d := max(wire.AckInterval, time.Duration(n)*time.Second/ackRate)
	return min(d, wire.MaxAckInterval).Milliseconds()
}

// ackIntervalNow is ackInterval for the leaves connected now, for protocol
// 4 and later; 0, none, for older peers.
func (h *Hub) ackIntervalNow(proto int) int64 {
	if proto < 4 {
		return 0
	}
	h.mu.Lock()
	n := len(h.links)
	h.mu.Unlock()
	return ackInterval(n)
}

// Leaves returns every leaf node connected, or disconnected for less than
// Options.ForgetAfter (see fleet.go for the bounds), ordered by location
// and node id.
func (h *Hub) Leaves() []shared.LeafNode {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fleet.expire(h.now().Add(-h.forgetAfter))
	out := make([]shared.LeafNode, 0, len(h.fleet.nodes))
	for _, n := range h.fleet.nodes {
		in := &n.info
		c := *in
		c.Runtimes = append([]string(nil), in.Runtimes...)
		c.Lag = max(h.head.Revision-c.Applied, 0)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Location != out[j].Location {
			return out[i].Location < out[j].Location
		}
		return out[i].NodeID < out[j].NodeID
	})
	return out
}

// Linked reports whether a leaf of location is connected now: whether
// the spaces of that location can be reached through the hub.
func (h *Hub) Linked(location string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.links[location] != nil
}

// seen updates the registry entry of node with f, under mu.
func (h *Hub) seen(node string, f func(*shared.LeafNode)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if in := h.fleet.get(node); in != nil {
		f(in)
	}
}

// forgetGone forgets the leaf nodes disconnected for Options.ForgetAfter.
func (h *Hub) forgetGone() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fleet.expire(h.now().Add(-h.forgetAfter))
}
