package leaf

// The agent endpoint: the listener on server.listen_agent that the agents
// of this location's spaces dial, and the registry of those connected.
//
// An agent speaks first (agentwire.Hello). It is accepted only when the
// space is of this location and the SHA-256 of its token equals the
// space's AgentTokenHash (compared in constant time); a space whose token
// was replaced (the space restarted) or removed refuses the old token, and
// a linked agent whose token stops matching is cut at its next heartbeat.
// A second agent for a space replaces the first only when the first does
// not answer a ping. Every refusal is logged with the remote address.
//
// Memory: an idle linked agent costs the leaf one goroutine, the one that
// reads its connection (agentwire.Mux, yamux's protocol with no goroutines
// of its own): the agent's state and log streams are read in it, its
// heartbeats are watched by a timer, and the checks a heartbeat brings
// (the token, the owner's keys) run in a goroutine of their own that ends
// with them.
//
// Goroutines: Serve owns the accept loop and one goroutine per connection,
// and returns after they have all ended; a connection's goroutine waits
// for the checks of its heartbeats before it ends.

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/sshkey"
)

// AgentsOptions configure Agents.
type AgentsOptions struct {
	// Space returns a space by id (ENOTFOUND when there is none). Required.
	Space func(ctx context.Context, id string) (*shared.Space, error)
	// Location is this server's location: agents of other locations'
	// spaces are refused.
	Location string
	// Endpoint and Fingerprint are what an agent is given to reach and
	// verify this endpoint (server.agent_endpoint and the certificate's
	// SHA-256 fingerprint); see Contact.
	Endpoint, Fingerprint string
	// TLS is the listener's configuration (its certificate). Required.
	TLS *tls.Config
	// Version is told to agents.
	Version string
	// Heartbeat is how often agents report; 0 means 10 seconds. An agent
	// silent for three heartbeats (and at least 5 seconds) is cut.
	Heartbeat time.Duration
	// Changed, if set, is called with a space id after its agent linked,
	// went away, or reported another version or other host keys of the
	// image's sshd (SSHDHostKeys).
	Changed func(spaceID string)
	// Lines, if set, takes the log lines agents forward (see
	// agentlogs.go), validated and held to LogRate a second per agent.
	Lines func(spaceID string, l agentwire.LogLine)
	// LogRate bounds the lines a second one agent forwards; 0 means 200.
	LogRate int
	// Keys, if set, returns the public keys of a space's owner (see
	// OwnerKeys), sent to an agent that keeps them in the authorized_keys
	// of the image's own sshd when it links and whenever they change, as
	// seen at its heartbeats.
	Keys func(ctx context.Context, sp *shared.Space) []string
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Agents accepts and keeps the agents of this location's spaces.
type Agents struct {
	opts AgentsOptions
	log  *slog.Logger

	mu    sync.Mutex
	conns map[string]*agentConn  // by space id; guarded by mu
	left  map[string]AgentStatus // by space id: agents that went away, at most maxLeft; guarded by mu
}

// maxLeft bounds how many agents that went away Agents remembers (their
// version and when they were last seen); past it, it starts over.
const maxLeft = 1 << 16

// AgentStatus is what the leaf knows of a space's agent.
type AgentStatus struct {
	Connected bool      `json:"connected"`
	Version   string    `json:"version,omitempty"`
	State     string    `json:"state,omitempty"`
	Since     time.Time `json:"since,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
}

type agentConn struct {
	spaceID   string
	tokenHash string
	remote    string
	mux       *agentwire.Mux
	since     time.Time
	ports     chan struct{} // a slot per open port connection (ports.go)
	silence   time.Duration // no heartbeat for this long ends the link
	silent    *time.Timer   // ends the link after silence
	checks    sync.WaitGroup
	checkMu   sync.Mutex // one heartbeat's checks at a time

	// The reader's (the link's goroutine, in agentwire.Mux.Run).
	stateSeen bool        // the state stream was accepted
	logs      bool        // a log stream is open
	logRate   *logLimiter // of the open log stream

	mu       sync.Mutex
	version  string    // guarded by mu
	state    string    // guarded by mu
	lastSeen time.Time // guarded by mu
	keys     *string   // guarded by mu; the owner's keys last sent, joined
	reason   string    // guarded by mu; why the link ended, when the leaf ended it
	sshdKeys []string  // guarded by mu; the host keys of the image's sshd, as last reported
}

// end ends the link for reason (the first one given is kept).
func (ac *agentConn) end(reason string) {
	ac.mu.Lock()
	if ac.reason == "" {
		ac.reason = reason
	}
	ac.mu.Unlock()
	ac.mux.Close()
}

// NewAgents returns the agent endpoint; Serve runs it.
func NewAgents(opts AgentsOptions) (*Agents, error) {
	if opts.Space == nil || opts.TLS == nil {
		return nil, errors.New("leaf agents: Space and TLS are required")
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Agents{opts: opts, log: opts.Logger.With("component", "agents"), conns: map[string]*agentConn{}, left: map[string]AgentStatus{}}, nil
}

// Serve accepts agents on ln (TLS is added here) until ctx ends, then
// closes every link and returns when their goroutines have ended.
func (a *Agents) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer a.closeAll()
	for {
		raw, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("server.listen_agent: %w", err)
		}
		wg.Go(func() { a.serveConn(ctx, agentwire.LinkServer(raw, a.opts.TLS)) })
	}
}

func (a *Agents) closeAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.conns {
		c.mux.Close()
	}
}

// refuse answers a refused Hello and logs why.
func (a *Agents) refuse(c net.Conn, spaceID, reason string) {
	a.log.Warn("agent refused", "remote", c.RemoteAddr().String(), "space_id", spaceID, "reason", reason)
	agentwire.WriteJSON(c, agentwire.Welcome{OK: false, Error: reason})
	c.Close()
}

// serveConn registers one agent and serves its link until it ends.
func (a *Agents) serveConn(ctx context.Context, c *agentwire.LinkConn) {
	c.SetDeadline(time.Now().Add(15 * time.Second))
	var h agentwire.Hello
	if err := agentwire.ReadJSON(c, &h); err != nil {
		a.log.Warn("agent refused", "remote", c.RemoteAddr().String(), "reason", err.Error())
		var fe *agentwire.FrameError
		if errors.As(err, &fe) {
			agentwire.WriteJSON(c, agentwire.Welcome{Error: fe.Error()})
		}
		c.Close()
		return
	}
	sp, err := a.opts.Space(ctx, h.SpaceID)
	switch {
	case shared.ErrorCode(err) == shared.ENOTFOUND:
		a.refuse(c, h.SpaceID, "the token is not valid for this space")
		return
	case err != nil:
		a.refuse(c, h.SpaceID, "the leaf cannot read the space now; try again")
		return
	case !tokenMatches(h.Token, sp.AgentTokenHash):
		a.refuse(c, h.SpaceID, "the token is not valid for this space")
		return
	case a.opts.Location != "" && sp.Location != a.opts.Location:
		a.refuse(c, h.SpaceID, fmt.Sprintf("the space belongs to location %q, not to this leaf's %q", sp.Location, a.opts.Location))
		return
	}
	if old := a.get(h.SpaceID); old != nil {
		if a.answers(old) {
			a.refuse(c, h.SpaceID, "another agent of this space is connected and answers")
			return
		}
		a.log.Info("agent replaces one that no longer answers", "space_id", h.SpaceID, "old", old.remote)
		old.mux.Close()
	}
	if err := agentwire.WriteJSON(c, agentwire.Welcome{OK: true, Version: a.opts.Version, HeartbeatMS: a.opts.Heartbeat.Milliseconds()}); err != nil {
		c.Close()
		return
	}
	c.SetDeadline(time.Time{})
	// The leaf sends no keepalives of its own: an agent that stops
	// reporting is cut after three heartbeats (runLink).
	ac := &agentConn{spaceID: h.SpaceID, tokenHash: sp.AgentTokenHash, remote: c.RemoteAddr().String(),
		ports: make(chan struct{}, MaxPortConns), since: time.Now().UTC(), version: h.Version, lastSeen: time.Now().UTC()}
	ac.mux = agentwire.NewMux(c, agentwire.MuxOptions{
		Accept:       func(st *agentwire.Stream) { a.accept(ctx, ac, st) },
		MaxIncoming:  32,
		WriteTimeout: 10 * time.Second,
		OpenTimeout:  10 * time.Second,
		CloseTimeout: time.Minute,
	})
	mux := ac.mux
	a.mu.Lock()
	if prev := a.conns[h.SpaceID]; prev != nil {
		prev.mux.Close()
	}
	a.conns[h.SpaceID] = ac
	delete(a.left, h.SpaceID)
	a.mu.Unlock()
	a.log.Info("agent linked", "space_id", h.SpaceID, "remote", ac.remote, "version", h.Version)
	a.changed(h.SpaceID)

	reason := a.runLink(ctx, ac)

	mux.Close()
	a.mu.Lock()
	if a.conns[h.SpaceID] == ac {
		delete(a.conns, h.SpaceID)
		if len(a.left) >= maxLeft {
			clear(a.left)
		}
		ac.mu.Lock()
		a.left[h.SpaceID] = AgentStatus{Version: ac.version, LastSeen: ac.lastSeen}
		ac.mu.Unlock()
	}
	a.mu.Unlock()
	a.log.Info("agent link ended", "space_id", h.SpaceID, "remote", ac.remote, "reason", reason)
	a.changed(h.SpaceID)
}

func (a *Agents) changed(id string) {
	if a.opts.Changed != nil {
		a.opts.Changed(id)
	}
}

// tokenMatches compares the hash of token with want in constant time; an
// empty want matches nothing.
func tokenMatches(token, want string) bool {
	if want == "" {
		return false
	}
	got := crypt.HashToken(token)
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// runLink reads the link in this goroutine until it ends, and returns
// why. The agent's first stream must be its state stream; its State
// frames, and the log stream's lines (agentlogs.go), are handled as the
// reader meets them (accept). A timer cuts an agent silent for three
// heartbeats (and never less than 5s, as a busy host delays them).
func (a *Agents) runLink(ctx context.Context, ac *agentConn) string {
	ac.silence = max(3*a.opts.Heartbeat, 5*time.Second)
	ac.silent = time.AfterFunc(ac.silence, func() { ac.end("no heartbeat for " + ac.silence.String()) })
	stop := context.AfterFunc(ctx, func() { ac.end("the leaf is stopping") })
	err := ac.mux.Run()
	stop()
	ac.silent.Stop()
	ac.checks.Wait()
	ac.mu.Lock()
	reason := ac.reason
	ac.mu.Unlock()
	var fe *agentwire.FrameError
	var pe *agentwire.ProtocolError
	switch {
	case reason != "":
		return reason
	case ctx.Err() != nil:
		return "the leaf is stopping"
	case errors.As(err, &fe):
		return fe.Error()
	case errors.As(err, &pe):
		return pe.Error()
	}
	return "the link closed"
}

// accept takes a stream the agent opened (in the link's reader): first
// its state stream, then log streams. Its first frame must be an Open
// within 15 seconds.
func (a *Agents) accept(ctx context.Context, ac *agentConn, st *agentwire.Stream) {
	first := !ac.stateSeen
	ac.stateSeen = true
	refuse := func(reason string) {
		if first {
			ac.end(reason)
			return
		}
		a.log.Warn("agent stream refused", "space_id", ac.spaceID, "reason", reason)
		st.Close()
	}
	late := time.AfterFunc(15*time.Second, func() { refuse("no open frame within 15s") })
	var handle func(kind agentwire.Kind, p []byte, err error)
	st.OnFrames(func(kind agentwire.Kind, p []byte, err error) {
		if handle != nil {
			handle(kind, p, err)
			return
		}
		late.Stop()
		var o agentwire.Open
		if err == nil && kind != agentwire.KindJSON {
			err = &agentwire.FrameError{Reason: "a control message was expected, not data"}
		}
		if err == nil {
			err = agentwire.DecodeJSON(p, &o)
		}
		switch {
		case first && (err != nil || o.Type != agentwire.OpenState):
			ac.end("the agent's first stream is not its state")
		case err != nil:
			if errors.Is(err, io.EOF) || errors.Is(err, agentwire.ErrMuxClosed) {
				st.Close()
				return
			}
			refuse(err.Error())
		case first:
			handle = func(kind agentwire.Kind, p []byte, err error) { a.stateFrame(ctx, ac, kind, p, err) }
		case o.Type != agentwire.OpenLogs || a.opts.Lines == nil || ac.logs:
			st.Close()
		default:
			ac.logs = true
			ac.logRate = newLogLimiter(a.opts.LogRate)
			handle = func(kind agentwire.Kind, p []byte, err error) { a.logFrame(ac, st, kind, p, err) }
		}
	})
}

// stateFrame takes a frame of the agent's state stream: a State, or the
// stream's end, which ends the link.
func (a *Agents) stateFrame(ctx context.Context, ac *agentConn, kind agentwire.Kind, p []byte, err error) {
	var s agentwire.State
	if err == nil && kind != agentwire.KindJSON {
		err = &agentwire.FrameError{Reason: "a control message was expected, not data"}
	}
	if err == nil {
		err = agentwire.DecodeJSON(p, &s)
	}
	if err != nil {
		var fe *agentwire.FrameError
		if errors.As(err, &fe) {
			ac.end(fe.Error())
		} else {
			ac.end("the link closed")
		}
		return
	}
	ac.silent.Reset(ac.silence)
	sshdKeys := hostKeys(s.SSHDHostKeys)
	ac.mu.Lock()
	newVersion := s.Version != ac.version || !slices.Equal(sshdKeys, ac.sshdKeys)
	ac.version, ac.state, ac.lastSeen, ac.sshdKeys = s.Version, s.State, time.Now().UTC(), sshdKeys
	ac.mu.Unlock()
	// What a heartbeat brings to check may wait on the store: not in the
	// reader.
	ac.checks.Go(func() {
		ac.checkMu.Lock()
		defer ac.checkMu.Unlock()
		if newVersion {
			a.changed(ac.spaceID)
		}
		if reason := a.stillValid(ctx, ac); reason != "" {
			ac.end(reason)
			return
		}
		if s.AuthorizedKeys {
			a.sendKeys(ctx, ac)
		}
	})
}

// sendKeys sends the public keys of the space's owner to the agent when
// they are not those it was sent last.
func (a *Agents) sendKeys(ctx context.Context, ac *agentConn) {
	if a.opts.Keys == nil {
		return
	}
	sp, err := a.opts.Space(ctx, ac.spaceID)
	if err != nil {
		return
	}
	keys := a.opts.Keys(ctx, sp)
	joined := strings.Join(keys, "\n")
	ac.mu.Lock()
	same := ac.keys != nil && *ac.keys == joined
	ac.mu.Unlock()
	if same {
		return
	}
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := a.open(octx, ac, agentwire.Open{Type: agentwire.OpenKeys, Keys: &agentwire.Keys{Keys: keys}})
	if err != nil {
		a.log.Warn("agent: cannot send the owner's keys", "space_id", ac.spaceID, "err", err)
		return
	}
	st.Close()
	ac.mu.Lock()
	ac.keys = &joined
	ac.mu.Unlock()
}

// stillValid returns why the agent's token no longer holds, or "".
func (a *Agents) stillValid(ctx context.Context, ac *agentConn) string {
	sp, err := a.opts.Space(ctx, ac.spaceID)
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		return "the space was deleted"
	}
	if err != nil {
		return "" // the store will answer again
	}
	if subtle.ConstantTimeCompare([]byte(sp.AgentTokenHash), []byte(ac.tokenHash)) != 1 {
		a.log.Warn("agent refused", "remote", ac.remote, "space_id", ac.spaceID, "reason", "its token was revoked")
		return "the token was revoked"
	}
	return ""
}

func (a *Agents) get(id string) *agentConn {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.conns[id]
}

// answers pings an agent and reports whether it answered in time.
func (a *Agents) answers(ac *agentConn) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	st, err := a.open(ctx, ac, agentwire.Open{Type: agentwire.OpenPing})
	if err != nil {
		return false
	}
	defer st.Close()
	var p agentwire.Pong
	return agentwire.ReadJSON(st, &p) == nil && p.OK
}

// open opens a stream to an agent and sends o; the stream's deadline
// follows ctx until it returns.
func (a *Agents) open(ctx context.Context, ac *agentConn, o agentwire.Open) (*agentwire.Stream, error) {
	st, err := ac.mux.Open()
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		st.SetDeadline(d)
	}
	if err := agentwire.WriteJSON(st, o); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// Contact returns the endpoint and fingerprint agents are given.
func (a *Agents) Contact() (endpoint, fingerprint string) {
	return a.opts.Endpoint, a.opts.Fingerprint
}

// Status returns what the leaf knows of the agent of a space: of an agent
// that went away since the leaf started, its version and when it was last
// seen.
func (a *Agents) Status(spaceID string) AgentStatus {
	a.mu.Lock()
	ac, gone := a.conns[spaceID], a.left[spaceID]
	a.mu.Unlock()
	if ac == nil {
		return gone
	}
	ac.mu.Lock()
	defer ac.mu.Unlock()
	return AgentStatus{Connected: true, Version: ac.version, State: ac.state, Since: ac.since, LastSeen: ac.lastSeen}
}

// SSHDHostKeys returns the host keys of the image's own sshd that the
// agent of a space reported, and whether that agent is linked (else it
// says nothing of them).
func (a *Agents) SSHDHostKeys(spaceID string) ([]string, bool) {
	a.mu.Lock()
	ac := a.conns[spaceID]
	a.mu.Unlock()
	if ac == nil {
		return nil, false
	}
	ac.mu.Lock()
	defer ac.mu.Unlock()
	return ac.sshdKeys, true
}

// hostKeys returns the keys an agent reported that parse as SSH public
// keys, in authorized_keys form without a comment, without repeats.
func hostKeys(reported []string) []string {
	var keys []string
	for _, r := range reported {
		k, err := sshkey.Parse(r)
		if err == nil && !slices.Contains(keys, k.Line) {
			keys = append(keys, k.Line)
		}
	}
	return keys
}

// Linked returns the ids of the spaces whose agent is linked now.
func (a *Agents) Linked() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := make([]string, 0, len(a.conns))
	for id := range a.conns {
		ids = append(ids, id)
	}
	return ids
}

// Known returns the ids of the spaces whose agent is linked now or went
// away since the leaf started (those Status knows; at most maxLeft gone).
func (a *Agents) Known() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := make([]string, 0, len(a.conns)+len(a.left))
	for id := range a.conns {
		ids = append(ids, id)
	}
	for id := range a.left {
		ids = append(ids, id)
	}
	return ids
}

// notLinked is the error for a space without a linked agent.
func notLinked(spaceID string) error {
	return shared.Errorf(shared.EUNAVAILABLE, "the agent of space %s is not connected", spaceID)
}

// Sessions lists the terminal sessions the agent of a space keeps.
func (a *Agents) Sessions(ctx context.Context, spaceID string) ([]agentwire.SessionInfo, error) {
	return sessionsOn(ctx, spaceID, a.OpenStream)
}

// TerminalStream is an open terminal of a space: data frames carry the
// terminal's bytes both ways, Control frames the rest (see agentwire).
type TerminalStream struct {
	// ID is the session's id, for reattaching.
	ID string
	io.ReadWriteCloser
}

// OpenTerminal opens a terminal in a space: a new session, or t.Attach.
// It fails with EUNAVAILABLE when the agent is not linked or does not
// answer, and EINVALID (with the agent's reason) when it refuses.
func (a *Agents) OpenTerminal(ctx context.Context, spaceID string, t agentwire.Terminal) (*TerminalStream, error) {
	return terminalOn(ctx, spaceID, t, a.OpenStream)
}

// OpenStream opens a stream to the agent of a space and sends o, for any
// kind of stream: the caller reads the agent's answer. The stream's
// deadline is ctx's; the caller clears it once the stream is set up.
// EINVALID for an o that is not valid, EUNAVAILABLE when the agent is not
// linked or the stream cannot be opened.
func (a *Agents) OpenStream(ctx context.Context, spaceID string, o agentwire.Open) (net.Conn, error) {
	if err := o.Validate(); err != nil {
		return nil, shared.Errorf(shared.EINVALID, "%v", err)
	}
	ac := a.get(spaceID)
	if ac == nil {
		return nil, notLinked(spaceID)
	}
	st, err := a.open(ctx, ac, o)
	if err != nil {
		return nil, shared.Errorf(shared.EUNAVAILABLE, "the agent of space %s does not answer: %v", spaceID, err)
	}
	return st, nil
}
