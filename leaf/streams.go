package leaf

// Streams to the agents of spaces, wherever they run.
//
// A user may open a terminal (and, with the same call, any other kind of
// agent stream: SSH, a forwarded port) at any server for a space of any
// location. AgentStreams.Open is the one call for it: for a space of this
// server's location it opens the stream on the agent link; for another
// location it asks the Remote (the origin's hub on an origin, the uplink
// on a leaf) for a stream relayed to that location's leaf, and the stream
// that comes back behaves as a local one. A new kind of stream needs only
// its agentwire.Open type, added to wire.RelayKind, and a reader of the
// agent's answer like terminalOn.
//
// Relay, not redirect. knot relays: the server the user reached carries the
// stream to the space's leaf over the relay channel the leaves keep to the
// origin (see wire.RelayPath): origin → leaf, or leaf → origin → leaf. A
// redirect would need the user's client to reach the space's leaf, and
// knot cannot know that (a leaf is often behind NAT, reachable only from
// its own site, or has no public URL); every leaf, though, reaches the
// origin. So a relay works wherever the leaf link works, and costs one or
// two extra hops. When the way is not there (the space's leaf is not
// connected to the origin, or this leaf cannot reach the origin) Open
// fails at once with EUNAVAILABLE saying which, never waiting.
//
// Who may. The server the user reached checks as for a local space. Each
// hop checks again what it can: the origin refuses a restricted leaf's
// streams for anyone but its owner and never sends it streams of other
// users' spaces; the leaf of the space (ServeRelayed) trusts nobody for
// who may: the space must be its own, and the user must exist in its
// replica, be active, and own the space or hold Manage Spaces. It audits
// the terminal as a local one, with "via" naming the servers it came
// through. A stream of another kind is carried unchanged after the same
// checks; a kind that the space's leaf must audit itself (as every SSH or
// forwarded-port connection) gets its record in ServeRelayed, as the
// terminal has.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/sshkey"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
)

// RemoteStreams relays streams to the spaces of other locations.
type RemoteStreams interface {
	// OpenRelay opens a stream to the leaf of location for h, sends h and
	// reads the reply. The stream then carries the agent stream. Errors are
	// *shared.Error: EUNAVAILABLE when the way to that location is down.
	OpenRelay(ctx context.Context, location string, h *wire.RelayOpen) (net.Conn, error)
}

// StreamsOptions configures AgentStreams.
type StreamsOptions struct {
	// Location is this server's location. Required.
	Location string
	// Store holds the spaces, users and roles of this server. Required.
	Store storage.Reader
	// Agents is this location's agent endpoint; nil means no agent of
	// this location can be reached.
	Agents *Agents
	// Audit records the relayed terminals this server serves; nil records
	// nothing.
	Audit shared.AuditService
	// Sealer opens the sealed SSH host keys of this location's spaces
	// (and seals those Access makes); nil means they are in clear.
	Sealer *crypt.Sealer
	// NoProxy refuses the ports (forwarded ports, web apps) of this
	// location's spaces relayed from other servers, as Access does local
	// ones (server.disable_proxy).
	NoProxy bool
	// Logger receives the log; nil means slog.Default().
	Logger *slog.Logger
}

// AgentStreams opens streams to the agents of spaces of any location, and
// serves the relayed streams that reach this server for its own location.
// Its methods are safe for concurrent use.
type AgentStreams struct {
	opts StreamsOptions
	log  *slog.Logger

	mu     sync.Mutex
	remote RemoteStreams // guarded by mu
	asks   askHandler    // guarded by mu: answers wire.RelayOpen.Ask (relayasks.go)
}

// NewAgentStreams returns the streams of a server.
func NewAgentStreams(opts StreamsOptions) *AgentStreams {
	s := &AgentStreams{opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// SetRemote sets how streams reach other locations; without one they
// fail with EUNAVAILABLE.
func (s *AgentStreams) SetRemote(r RemoteStreams) {
	s.mu.Lock()
	s.remote = r
	s.mu.Unlock()
}

// StreamRequest asks for a stream to the agent of Space.
type StreamRequest struct {
	Space *shared.Space
	// UserID is the user who asks, already checked by the caller; a relay
	// checks it again at every hop that can.
	UserID string
	// From is the client's address, for the audit log.
	From string
	// Open is what the agent is asked for; its Type is the stream's kind.
	Open agentwire.Open
}

// Open opens a stream to the agent of req.Space, local or relayed, and
// sends req.Open: the caller reads the agent's answer from the stream.
// The stream's deadline is ctx's; clear it once the stream is set up.
// EINVALID for a kind that is not relayed (to another location) or not
// valid, EUNAVAILABLE when the agent or the way to it is down, and the
// refusals of the space's leaf (ENOTFOUND, EFORBIDDEN).
func (s *AgentStreams) Open(ctx context.Context, req StreamRequest) (net.Conn, error) {
	sp := req.Space
	if sp.Location == s.opts.Location {
		if s.opts.Agents == nil {
			return nil, shared.Errorf(shared.EUNAVAILABLE, "this server has no agent endpoint")
		}
		if o := req.Open; o.Type == agentwire.OpenSSH && o.SSH != nil {
			// For an agent that hands it to the image's own sshd.
			ssh := *o.SSH
			ssh.Owner = &agentwire.Keys{Keys: OwnerKeys(ctx, s.opts.Store, sp)}
			req.Open.SSH = &ssh
		}
		return s.opts.Agents.OpenStream(ctx, sp.ID, req.Open)
	}
	s.mu.Lock()
	remote := s.remote
	s.mu.Unlock()
	if remote == nil {
		return nil, shared.Errorf(shared.EUNAVAILABLE, "space %s runs at location %s, and this server has no way to other locations", sp.Name, sp.Location)
	}
	h := &wire.RelayOpen{SpaceID: sp.ID, UserID: req.UserID, From: bounded(req.From, 256), Open: req.Open}
	if err := h.Validate(); err != nil {
		return nil, shared.Errorf(shared.EINVALID, "%v", err)
	}
	return remote.OpenRelay(ctx, sp.Location, h)
}

// Terminal opens a terminal (req.Open.Terminal) in req.Space: see Open.
func (s *AgentStreams) Terminal(ctx context.Context, req StreamRequest, t agentwire.Terminal) (*TerminalStream, error) {
	return terminalOn(ctx, req.Space.ID, t, func(ctx context.Context, _ string, o agentwire.Open) (net.Conn, error) {
		req.Open = o
		return s.Open(ctx, req)
	})
}

// Sessions lists the terminal sessions the agent of req.Space keeps.
func (s *AgentStreams) Sessions(ctx context.Context, req StreamRequest) ([]agentwire.SessionInfo, error) {
	return sessionsOn(ctx, req.Space.ID, func(ctx context.Context, _ string, o agentwire.Open) (net.Conn, error) {
		req.Open = o
		return s.Open(ctx, req)
	})
}

// opener opens a stream to a space's agent and sends o.
type opener func(ctx context.Context, spaceID string, o agentwire.Open) (net.Conn, error)

// terminalOn opens a terminal with open and reads the agent's answer.
func terminalOn(ctx context.Context, spaceID string, t agentwire.Terminal, open opener) (*TerminalStream, error) {
	if err := t.Validate(); err != nil {
		return nil, shared.Errorf(shared.EINVALID, "%v", err)
	}
	octx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	st, err := open(octx, spaceID, agentwire.Open{Type: agentwire.OpenTerminal, Terminal: &t})
	if err != nil {
		return nil, err
	}
	var o agentwire.Opened
	if err := agentwire.ReadJSON(st, &o); err != nil {
		st.Close()
		return nil, shared.Errorf(shared.EUNAVAILABLE, "the agent of space %s does not answer: %v", spaceID, err)
	}
	if o.Error != "" {
		st.Close()
		if t.Attach != "" {
			return nil, shared.Errorf(shared.ENOTFOUND, "%s", o.Error)
		}
		return nil, shared.Errorf(shared.EINVALID, "the agent cannot open a terminal: %s", o.Error)
	}
	st.SetDeadline(time.Time{})
	return &TerminalStream{ID: o.ID, ReadWriteCloser: st}, nil
}

// sessionsOn asks the agent for its terminal sessions with open.
func sessionsOn(ctx context.Context, spaceID string, open opener) ([]agentwire.SessionInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := open(ctx, spaceID, agentwire.Open{Type: agentwire.OpenSessions})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var l agentwire.SessionList
	if err := agentwire.ReadJSON(st, &l); err != nil {
		return nil, shared.Errorf(shared.EUNAVAILABLE, "the agent of space %s does not answer: %v", spaceID, err)
	}
	return l.Sessions, nil
}

// ServeRelayed serves a relayed stream that reached this server: it checks
// h against this server's own records, answers the reply, and carries the
// stream to the agent until either side ends. It closes conn.
func (s *AgentStreams) ServeRelayed(ctx context.Context, h *wire.RelayOpen, conn net.Conn) {
	defer conn.Close()
	if h.Ask != "" {
		s.serveAsk(ctx, h, conn)
		return
	}
	sp, u, err := s.mayRelay(ctx, h)
	if err != nil {
		wire.WriteRelay(conn, wire.ReplyOf(err))
		return
	}
	octx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var agent net.Conn
	if h.Open.Type == agentwire.OpenPort {
		if s.opts.NoProxy {
			err = shared.Errorf(shared.EFORBIDDEN, "the server of location %s does not forward the ports of its spaces (its server.disable_proxy)", s.opts.Location)
		} else {
			agent, err = s.dialPort(octx, sp, h.Open.Port)
		}
	} else {
		var o agentwire.Open
		if o, err = s.ownOpen(ctx, h, sp, u); err == nil {
			agent, err = s.Open(octx, StreamRequest{Space: sp, UserID: u.ID, From: h.From, Open: o})
		}
	}
	if err != nil {
		wire.WriteRelay(conn, wire.ReplyOf(err))
		return
	}
	defer agent.Close()
	if err := wire.WriteRelay(conn, wire.ReplyOf(nil)); err != nil {
		return
	}
	switch h.Open.Type {
	case agentwire.OpenSSH, agentwire.OpenPort:
		s.serveRelayedBytes(ctx, h, sp, u, conn, agent)
		return
	case agentwire.OpenSessions:
		agent.SetDeadline(time.Time{})
		wire.Splice(conn, agent)
		return
	}
	// A terminal: read the agent's answer for the audit log, pass it on,
	// then carry the frames, watching for the exit.
	var o agentwire.Opened
	if err := agentwire.ReadJSON(agent, &o); err != nil {
		return
	}
	agent.SetDeadline(time.Time{})
	if agentwire.WriteJSON(conn, o) != nil || o.Error != "" {
		return
	}
	props := map[string]string{"space_id": sp.ID, "session": o.ID, "via": h.Via, "ip": h.From, "user_id": u.ID}
	if h.Open.Terminal.Attach != "" {
		props["attach"] = "true"
	}
	s.audit(ctx, u.Username, "terminal opened", fmt.Sprintf("terminal of space %s opened via %s", sp.Name, h.Via), props)
	began := time.Now()
	reason := relayTerminal(conn, agent)
	closeProps := map[string]string{"space_id": sp.ID, "session": o.ID, "via": h.Via, "ip": h.From, "user_id": u.ID,
		"duration": time.Since(began).Round(time.Millisecond).String(), "reason": reason}
	s.audit(ctx, u.Username, "terminal closed", fmt.Sprintf("terminal of space %s closed: %s", sp.Name, reason), closeProps)
}

// mayRelay checks h against this server's records: the space is of this
// location, the user exists, is active, and owns it or holds Manage
// Spaces, and the space's template allows a terminal or SSH (wayOff). A
// terminal, SSH connection or port refused to a user who is not its owner
// is audited.
func (s *AgentStreams) mayRelay(ctx context.Context, h *wire.RelayOpen) (*shared.Space, *shared.User, error) {
	sp, err := storage.Get[shared.Space](ctx, s.opts.Store, h.SpaceID)
	if shared.ErrorCode(err) == shared.ENOTFOUND || (err == nil && sp.Location != s.opts.Location) {
		return nil, nil, shared.Errorf(shared.ENOTFOUND, "space %q is not at location %s", h.SpaceID, s.opts.Location)
	} else if err != nil {
		return nil, nil, err
	}
	u, err := storage.Get[shared.User](ctx, s.opts.Store, h.UserID)
	if shared.ErrorCode(err) == shared.ENOTFOUND || (err == nil && !u.Active) {
		return nil, nil, shared.Errorf(shared.EFORBIDDEN, "user %q is not an active user at location %s", h.UserID, s.opts.Location)
	} else if err != nil {
		return nil, nil, err
	}
	if sp.UserID != u.ID {
		perms, err := PermissionsIn(ctx, s.opts.Store, u)
		if err != nil {
			return nil, nil, err
		}
		if !perms.Has(shared.PermManageSpaces) {
			if kind := relayedWays[h.Open.Type]; kind != "" {
				s.audit(ctx, u.Username, kind+" refused", fmt.Sprintf("%s of space %s refused: not its owner (via %s)", kind, sp.Name, h.Via),
					s.relayedProps(h, sp, u))
			}
			return nil, nil, shared.Errorf(shared.ENOTFOUND, "space %q not found", h.SpaceID)
		}
	}
	if err := wayOff(ctx, s.opts.Store, sp, templateWays[h.Open.Type]); err != nil {
		return nil, nil, err
	}
	return sp, u, nil
}

// templateWays names the kinds of relayed streams a template can turn off
// by the way (see wayOff) they belong to.
var templateWays = map[string]string{agentwire.OpenTerminal: "terminal", agentwire.OpenSessions: "terminal", agentwire.OpenSSH: "ssh"}

// relayedWays names, for the audit log, the kinds of relayed streams the
// space's leaf audits as it would local ones.
var relayedWays = map[string]string{agentwire.OpenTerminal: "terminal", agentwire.OpenSSH: "ssh", agentwire.OpenPort: "port forward"}

// relayedProps are the properties of the audit records of the relayed
// stream h.
func (s *AgentStreams) relayedProps(h *wire.RelayOpen, sp *shared.Space, u *shared.User) map[string]string {
	props := map[string]string{"space_id": sp.ID, "via": h.Via, "ip": h.From, "user_id": u.ID}
	if h.Open.Type == agentwire.OpenPort {
		props["port"] = strconv.Itoa(h.Open.Port)
	}
	return props
}

// ownOpen returns what the agent is asked for h: as it came, except that
// an SSH connection gets the space's host key and the keys of the user's
// profile from this server's records, whatever the header said.
func (s *AgentStreams) ownOpen(ctx context.Context, h *wire.RelayOpen, sp *shared.Space, u *shared.User) (agentwire.Open, error) {
	o := h.Open
	if o.Type != agentwire.OpenSSH {
		return o, nil
	}
	key, err := openHostKey(s.opts.Sealer, sp)
	if err != nil {
		return o, err
	}
	o.SSH = &agentwire.SSH{HostKey: key, Keys: sshkey.Fingerprints(u), User: u.Username, Remote: bounded(h.From, 128), Shell: shellOf(ctx, s.opts.Store, sp)}
	return o, nil
}

// dialPort connects to port of sp, one of this location, through its
// agent, which answered already: its refusal is the relay's.
func (s *AgentStreams) dialPort(ctx context.Context, sp *shared.Space, port int) (net.Conn, error) {
	if s.opts.Agents == nil {
		return nil, shared.Errorf(shared.EUNAVAILABLE, "this server has no agent endpoint")
	}
	return s.opts.Agents.DialPort(ctx, sp.ID, port)
}

// serveRelayedBytes carries a relayed SSH connection or port (the agent's
// answer first) and audits it as a local one, with via: an SSH
// connection when it opens, both when they close, with the bytes each
// way.
func (s *AgentStreams) serveRelayedBytes(ctx context.Context, h *wire.RelayOpen, sp *shared.Space, u *shared.User, conn, agent net.Conn) {
	var o agentwire.Opened // a port's agent answered in dialPort
	if h.Open.Type != agentwire.OpenPort && agentwire.ReadJSON(agent, &o) != nil {
		return
	}
	agent.SetDeadline(time.Time{})
	if agentwire.WriteJSON(conn, o) != nil || o.Error != "" {
		return
	}
	kind := relayedWays[h.Open.Type]
	what := fmt.Sprintf("%s of space %s", kind, sp.Name)
	if h.Open.Type == agentwire.OpenPort {
		what = fmt.Sprintf("%s to port %d of space %s", kind, h.Open.Port, sp.Name)
	}
	if h.Open.Type == agentwire.OpenSSH {
		s.audit(ctx, u.Username, kind+" opened", fmt.Sprintf("%s opened via %s", what, h.Via), s.relayedProps(h, sp, u))
	}
	cc := &countedConn{Conn: agent}
	began := time.Now()
	wire.Splice(conn, cc)
	props := s.relayedProps(h, sp, u)
	props["duration"] = time.Since(began).Round(time.Millisecond).String()
	props["bytes_to_space"], props["bytes_from_space"] = strconv.FormatInt(cc.in.Load(), 10), strconv.FormatInt(cc.out.Load(), 10)
	if h.Open.Type == agentwire.OpenSSH { // the names SSH records have always had too
		props["bytes_in"], props["bytes_out"] = props["bytes_to_space"], props["bytes_from_space"]
	}
	props["reason"] = "the relayed stream ended"
	s.audit(ctx, u.Username, kind+" closed", fmt.Sprintf("%s closed via %s", what, h.Via), props)
}

// PermissionsIn returns the permissions of u's roles, built-in or stored
// in r; roles that are gone grant nothing.
func PermissionsIn(ctx context.Context, r storage.Reader, u *shared.User) (shared.PermissionSet, error) {
	var out shared.PermissionSet
	builtin := map[string]*shared.Role{}
	for _, b := range shared.BuiltinRoles() {
		builtin[b.ID] = b
	}
	for _, id := range u.Roles {
		role, ok := builtin[id]
		if !ok {
			var err error
			role, err = storage.Get[shared.Role](ctx, r, id)
			if shared.ErrorCode(err) == shared.ENOTFOUND {
				continue
			} else if err != nil {
				return 0, err
			}
		}
		out |= shared.PermissionsOf(role.Permissions)
	}
	return out, nil
}

func (s *AgentStreams) audit(ctx context.Context, actor, event, details string, props map[string]string) {
	if s.opts.Audit == nil {
		return
	}
	ev := &shared.AuditEvent{Actor: actor, Event: event, Details: details, Properties: props}
	if err := s.opts.Audit.Record(context.WithoutCancel(ctx), ev); err != nil {
		s.log.Error("append audit event", "event", event, "err", err)
	}
}

// relayTerminal carries a terminal between the relay stream conn and the
// agent stream until one ends, and returns why it ended. The agent's
// frames are read one by one, so that a bad one ends the stream with its
// reason and the exit is seen.
func relayTerminal(conn, agent net.Conn) string {
	var (
		once   sync.Once
		reason string
	)
	end := func(why string) {
		once.Do(func() { reason = why })
		conn.Close()
		agent.Close()
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := io.Copy(agent, conn)
		if err == nil {
			end("the viewer closed it")
		} else {
			end("the relay closed")
		}
	})
	for {
		kind, p, err := agentwire.ReadFrame(agent)
		if err != nil {
			var fe *agentwire.FrameError
			if errors.As(err, &fe) {
				end("the agent sent a bad frame: " + fe.Reason)
			} else {
				end("the agent link closed")
			}
			break
		}
		if kind == agentwire.KindJSON {
			var c agentwire.Control
			if agentwire.DecodeJSON(p, &c) == nil && c.Type == agentwire.CtlExit {
				once.Do(func() {
					reason = fmt.Sprintf("the program exited with code %d", c.Code)
					if c.Reason != "" {
						reason = "the session ended: " + c.Reason
					}
				})
			}
		}
		if agentwire.WriteFrame(conn, kind, p) != nil {
			end("the relay closed")
			break
		}
	}
	wg.Wait()
	return reason
}

// bounded cuts s to at most n bytes.
func bounded(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// CloseWrite ends the writing of the stream c counts (see wire.CloseWrite).
func (c *countedConn) CloseWrite() error { return wire.CloseWrite(c.Conn) }

// OwnerKeys returns the public keys of the owner of sp in r, one
// authorized_keys line each with the key's name as its comment, within the
// bounds of agentwire.Keys: none when the owner is not found.
func OwnerKeys(ctx context.Context, r storage.Reader, sp *shared.Space) []string {
	u, err := storage.Get[shared.User](ctx, r, sp.UserID)
	if err != nil {
		return []string{}
	}
	out, n := []string{}, 0
	add := func(line, comment string) {
		if comment = strings.Join(strings.FieldsFunc(comment, func(r rune) bool { return r < ' ' || r == 0x7f || r == ' ' }), "-"); comment != "" {
			line += " " + comment
		}
		if line == "" || len(out) >= agentwire.MaxSSHKeys || n+len(line) > agentwire.MaxAuthorizedKeys {
			return
		}
		out, n = append(out, line), n+len(line)
	}
	for _, k := range u.SSHKeys {
		if key, err := sshkey.Parse(k.Key); err == nil {
			add(key.Line, "knot:"+u.Username+":"+k.Name)
		}
	}
	for l := range strings.Lines(u.SSHPublicKey) {
		if key, err := sshkey.Parse(l); err == nil {
			add(key.Line, "knot:"+u.Username)
		}
	}
	return out
}
