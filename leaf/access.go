package leaf

// The ways into a space: terminals, forwarded ports, web apps (and, with
// the same calls, any other kind of agent stream such as SSH), and the
// agent token of a manual space.
//
// Access holds the rules of them, so that an HTTP handler only decodes the
// request, makes one call and carries the bytes: who may open what (the
// space's owner, or a user with Manage Spaces; anyone else is told the
// space does not exist, and the refusal is audited), whether this server
// can reach the space (its agent is linked here, or a terminal is relayed
// to its location), and the audit records of every use: who, from where,
// how long it lasted, the bytes each way and why it ended.
//
// The actor is the one in the context (shared.ActorFrom); the Caller says
// from where they came. Access is a type of this package rather than a
// service declared in shared, as SpaceService's web side is: what it hands
// back are the agent streams of this package (TerminalStream, PortConn),
// which only a server of a location holds.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
)

// Caller is where a request for a way into a space came from, as the
// audit log records it.
type Caller = shared.Caller

// Way names a way into a space in the audit log: its kind ("terminal",
// "port forward", "web app", "ssh") and, for a port, the port.
type Way struct {
	Kind string
	Port int
}

// AccessOptions configures Access.
type AccessOptions struct {
	// Location is this server's location. Required.
	Location string
	// Store holds the spaces, their owners and templates. Required.
	Store storage.Store
	// Spaces is this server's space service, which writes agent tokens.
	// Required.
	Spaces *SpaceService
	// Agents is this location's agent endpoint; nil means none.
	Agents *Agents
	// RemoteAgents returns what this server was told of the agent of a
	// space of another location (an origin hears it from the space's
	// leaf), with the version of the server the agent links to; false when
	// it was told nothing. nil means nothing is known of other locations'
	// agents. An origin's hub (origin.Hub.AgentState) is one.
	RemoteAgents func(location, spaceID string) (st wire.AgentState, server string, ok bool)
	// RemoteStale reports whether what RemoteAgents tells of the agents of
	// location may be out of date (a leaf lost its origin, or the origin
	// the location's leaf): they then say stale and not connected. nil
	// means never; a leaf's uplink (Uplink.RemoteStale) is one.
	RemoteStale func(location string) bool
	// Streams opens streams to the agents of every location. Required.
	Streams *AgentStreams
	// Audit records the uses of the ways; nil records nothing.
	Audit shared.AuditService
	// Version is this server's version, against which agents are outdated.
	Version string
	// NoProxy turns off forwarded ports and web apps
	// (server.disable_proxy).
	NoProxy bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the log; nil means slog.Default().
	Logger *slog.Logger
}

// Access decides and audits the ways into the spaces of a server. Its
// methods are safe for concurrent use.
type Access struct {
	opts AccessOptions
	log  *slog.Logger
	apps appsElsewhere // the web apps of spaces elsewhere (webappsremote.go)
	// lists holds the encoded space lists (ListSpaces).
	lists *SpaceListCache
}

// NewAccess returns the access rules opts describe.
func NewAccess(opts AccessOptions) *Access {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &Access{opts: opts, log: opts.Logger, lists: NewSpaceListCache()}
	if a.log == nil {
		a.log = slog.Default()
	}
	if opts.Streams != nil {
		opts.Streams.setAsks(a.answerAsk)
	}
	return a
}

// Space returns the space with id, of any location. ENOTFOUND when there
// is none.
func (a *Access) Space(ctx context.Context, id string) (*shared.Space, error) {
	sp, err := storage.Get[shared.Space](ctx, a.opts.Store, id)
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		return nil, shared.Errorf(shared.ENOTFOUND, "space %s not found", quote(id))
	}
	return sp, err
}

// Enter returns the space with id when the actor may use way into it: its
// owner or a user with Manage Spaces. To anyone else it does not exist
// (ENOTFOUND), and the refusal is audited. A terminal or SSH connection
// into a space whose template turns them off (with_terminal, with_ssh) is
// EFORBIDDEN, also audited.
func (a *Access) Enter(ctx context.Context, c Caller, id string, way Way) (*shared.Space, error) {
	sp, err := a.Space(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := a.mayEnter(ctx, c, sp, way); err != nil {
		return sp, err
	}
	if err := wayOff(ctx, a.opts.Store, sp, way.Kind); err != nil {
		a.audit(ctx, c, way.Kind+" refused", fmt.Sprintf("%s of space %s refused: %s", way.Kind, sp.Name, shared.ErrorMessage(err)),
			map[string]string{"space_id": sp.ID})
		return sp, err
	}
	return sp, nil
}

// wayOff returns the EFORBIDDEN error for a way of kind ("terminal",
// "ssh") into sp that its template turns off, and nil for a way it allows
// or does not govern, or when the template is gone.
func wayOff(ctx context.Context, store storage.Reader, sp *shared.Space, kind string) error {
	if kind != "terminal" && kind != "ssh" {
		return nil
	}
	t, err := storage.Get[shared.Template](ctx, store, sp.TemplateID)
	switch {
	case shared.ErrorCode(err) == shared.ENOTFOUND:
		return nil
	case err != nil:
		return err
	case kind == "terminal" && !t.AllowsTerminal():
		return forbidden("space %s allows no terminal: its template %s has with_terminal off", quote(sp.Name), quote(t.Name))
	case kind == "ssh" && !t.AllowsSSH():
		return forbidden("space %s allows no SSH: its template %s has with_ssh off", quote(sp.Name), quote(t.Name))
	}
	return nil
}

func (a *Access) mayEnter(ctx context.Context, c Caller, sp *shared.Space, way Way) error {
	act := shared.ActorFrom(ctx)
	if act != nil && act.User != nil && (sp.UserID == act.User.ID || act.Can(shared.PermManageSpaces)) {
		return nil
	}
	props := map[string]string{"space_id": sp.ID}
	details := fmt.Sprintf("%s of space %s refused: not its owner", way.Kind, sp.Name)
	if way.Port != 0 {
		props["port"] = strconv.Itoa(way.Port)
		details = fmt.Sprintf("%s of space %s port %d refused: not its owner", way.Kind, sp.Name, way.Port)
	}
	a.audit(ctx, c, way.Kind+" refused", details, props)
	return shared.Errorf(shared.ENOTFOUND, "space %s not found", quote(sp.ID))
}

// Forward returns the space with id when the actor may reach its port as
// way (a forwarded port, a web app), at this location or relayed to
// another: EFORBIDDEN with server.disable_proxy, ENOTFOUND as Enter,
// EUNAVAILABLE for a space of this location without an agent endpoint.
func (a *Access) Forward(ctx context.Context, c Caller, id string, way Way) (*shared.Space, error) {
	sp, err := a.Space(ctx, id)
	if err != nil {
		return nil, err
	}
	return sp, a.mayForward(ctx, c, sp, way)
}

func (a *Access) mayForward(ctx context.Context, c Caller, sp *shared.Space, way Way) error {
	if a.opts.NoProxy {
		return forbidden("this server does not forward the ports of spaces (server.disable_proxy)")
	}
	if err := a.mayEnter(ctx, c, sp, way); err != nil {
		return err
	}
	if sp.Location == a.opts.Location && a.opts.Agents == nil {
		return shared.Errorf(shared.EUNAVAILABLE, "this server has no agent endpoint, so no ports of spaces")
	}
	return nil
}

// Sessions lists the terminal sessions the agent of sp keeps; sp is one
// Enter returned.
func (a *Access) Sessions(ctx context.Context, c Caller, sp *shared.Space) (api.TerminalSessions, error) {
	list, err := a.opts.Streams.Sessions(ctx, a.streamRequest(ctx, c, sp))
	if err != nil {
		return api.TerminalSessions{}, err
	}
	out := api.TerminalSessions{Sessions: make([]api.TerminalSession, 0, len(list))}
	for _, si := range list {
		out.Sessions = append(out.Sessions, api.TerminalSession{ID: si.ID, Shell: si.Shell, Created: si.Created, Viewers: si.Viewers, Idle: si.Idle})
	}
	return out, nil
}

func (a *Access) streamRequest(ctx context.Context, c Caller, sp *shared.Space) StreamRequest {
	req := StreamRequest{Space: sp, From: c.IP}
	if act := shared.ActorFrom(ctx); act != nil && act.User != nil {
		req.UserID = act.User.ID
	}
	return req
}

// shellOf returns the shell the terminals and SSH sessions of sp run: the
// space's, else its owner's preferred one; "" lets the agent choose.
func shellOf(ctx context.Context, store storage.Reader, sp *shared.Space) string {
	if sp.Shell != "" {
		return sp.Shell
	}
	if u, err := storage.Get[shared.User](ctx, store, sp.UserID); err == nil {
		return u.PreferredShell
	}
	return ""
}

// OpenTerminal opens the terminal t in sp (one Enter returned), local or
// relayed: a new session without a command runs the space's shell, or
// else its owner's preferred one. The Visit records its open and close.
// Errors as AgentStreams.Terminal.
func (a *Access) OpenTerminal(ctx context.Context, c Caller, sp *shared.Space, t agentwire.Terminal) (*TerminalStream, *Visit, error) {
	if t.Shell == "" && len(t.Command) == 0 && t.Attach == "" {
		t.Shell = shellOf(ctx, a.opts.Store, sp)
	}
	ts, err := a.opts.Streams.Terminal(ctx, a.streamRequest(ctx, c, sp), t)
	if err != nil {
		return nil, nil, err
	}
	v := a.visit(ctx, c, sp, Way{Kind: "terminal"})
	v.session = ts.ID
	v.open = map[string]string{}
	if t.Attach != "" {
		v.open["attach"] = "true"
	}
	if len(t.Command) > 0 {
		v.open["command"] = oneCommand(t.Command)
	}
	return ts, v, nil
}

// DialPort connects to port of sp (one Forward returned) through its
// agent, relayed for a space of another location. The Visit records the
// connection's close with the bytes each way. Errors as Agents.DialPort,
// and for a relayed port as AgentStreams.Open.
func (a *Access) DialPort(ctx context.Context, c Caller, sp *shared.Space, way Way) (*PortConn, *Visit, error) {
	pc, err := a.dialPort(ctx, c, sp, way.Port)
	if err != nil {
		return nil, nil, err
	}
	v := a.visit(ctx, c, sp, way)
	v.bytes = pc.Bytes
	return pc, v, nil
}

// OpenStream opens a stream of the kind o.Type (SSH, say) to the agent of
// sp, one Enter returned for way, local or relayed, and sends o: the
// caller reads the agent's answer. The stream's deadline is ctx's; clear
// it once the stream is set up. The Visit records its open at Begin and
// its close at End, with the bytes each way. Errors as AgentStreams.Open.
func (a *Access) OpenStream(ctx context.Context, c Caller, sp *shared.Space, way Way, o agentwire.Open) (net.Conn, *Visit, error) {
	req := a.streamRequest(ctx, c, sp)
	req.Open = o
	st, err := a.opts.Streams.Open(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	cc := &countedConn{Conn: st}
	v := a.visit(ctx, c, sp, way)
	v.open = map[string]string{}
	v.bytes = func() (int64, int64) { return cc.in.Load(), cc.out.Load() }
	return cc, v, nil
}

func (a *Access) dialPort(ctx context.Context, c Caller, sp *shared.Space, port int) (*PortConn, error) {
	if sp.Location == a.opts.Location {
		return a.opts.Agents.DialPort(ctx, sp.ID, port)
	}
	req := a.streamRequest(ctx, c, sp)
	req.Open = agentwire.Open{Type: agentwire.OpenPort, Port: port}
	octx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	st, err := a.opts.Streams.Open(octx, req)
	if err != nil {
		return nil, err
	}
	if err := openAnswer(st, sp.ID, ""); err != nil {
		return nil, err
	}
	return &PortConn{Conn: st}, nil
}

// countedConn counts the bytes written to a space and read from it.
type countedConn struct {
	net.Conn
	in, out atomic.Int64
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.out.Add(int64(n))
	return n, err
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.in.Add(int64(n))
	return n, err
}

// OutdatedAgents lists the spaces the actor may see whose agent runs
// another version than the server it links to: this server for its own
// location, the space's leaf (RemoteAgents) for another. Errors as
// SpaceService.List.
func (a *Access) OutdatedAgents(ctx context.Context) (api.OutdatedAgents, error) {
	out := api.OutdatedAgents{Agents: []api.OutdatedAgent{}}
	l, err := a.opts.Spaces.List(ctx, shared.SpaceFilter{Visible: true})
	if err != nil {
		return out, err
	}
	for _, sp := range l.Spaces {
		ag, server := a.agentOf(sp)
		if ag == nil || !ag.Outdated {
			continue
		}
		o := api.OutdatedAgent{SpaceID: sp.ID, Name: sp.Name, UserID: sp.UserID, Location: sp.Location,
			AgentVersion: ag.Version, ServerVersion: server}
		if u := l.Users[sp.UserID]; u != nil {
			o.Username = u.Username
		}
		out.Agents = append(out.Agents, o)
	}
	out.Count = len(out.Agents)
	return out, nil
}

// Visit is one use of a way into a space, for the audit log.
type Visit struct {
	a       *Access
	ctx     context.Context
	c       Caller
	sp      *shared.Space
	way     Way
	session string
	open    map[string]string // the open record's properties; nil: none is recorded
	bytes   func() (toSpace, fromSpace int64)
	in, out int64 // the bytes at Begin
	began   time.Time
}

func (a *Access) visit(ctx context.Context, c Caller, sp *shared.Space, way Way) *Visit {
	return &Visit{a: a, ctx: context.WithoutCancel(ctx), c: c, sp: sp, way: way, began: a.opts.Now()}
}

// Begin records that the way is open (for a terminal, "terminal
// opened"), and starts its clock and its count of bytes. A nil Visit
// (a log stream) records nothing.
func (v *Visit) Begin() {
	if v == nil {
		return
	}
	if v.bytes != nil {
		v.in, v.out = v.bytes()
	}
	if v.open != nil {
		props := v.props()
		for k, val := range v.open {
			props[k] = val
		}
		v.a.audit(v.ctx, v.c, v.way.Kind+" opened", fmt.Sprintf("%s of space %s opened", v.way.Kind, v.sp.Name), props)
	}
	v.began = v.a.opts.Now()
}

// End records that the way closed, how long it was open, and why.
func (v *Visit) End(reason string) {
	if v == nil {
		return
	}
	props := v.props()
	props["duration"] = v.a.opts.Now().Sub(v.began).Round(time.Millisecond).String()
	details := fmt.Sprintf("%s of space %s closed: %s", v.way.Kind, v.sp.Name, reason)
	if v.way.Port != 0 {
		details = fmt.Sprintf("%s to port %d of space %s closed: %s", v.way.Kind, v.way.Port, v.sp.Name, reason)
	}
	if v.bytes != nil {
		in, out := v.bytes()
		in, out = in-v.in, out-v.out
		props["bytes_to_space"], props["bytes_from_space"] = strconv.FormatInt(in, 10), strconv.FormatInt(out, 10)
		if v.way.Kind == "ssh" { // the names SSH records have always had too
			props["bytes_in"], props["bytes_out"] = props["bytes_to_space"], props["bytes_from_space"]
		}
	}
	props["reason"] = reason
	v.a.audit(v.ctx, v.c, v.way.Kind+" closed", details, props)
}

func (v *Visit) props() map[string]string {
	props := map[string]string{"space_id": v.sp.ID}
	if v.session != "" {
		props["session"] = v.session
	}
	if v.way.Port != 0 {
		props["port"] = strconv.Itoa(v.way.Port)
	}
	return props
}

// oneCommand shows a command for the audit log, bounded.
func oneCommand(args []string) string {
	c := strings.Join(args, " ")
	if len(c) > 256 {
		c = c[:256] + "…"
	}
	return c
}

// MintAgentToken gives the manual space with id a new agent token,
// audited, and returns the space as stored, the token and the agent's
// environment. ownerOnly hides the space from anyone but its owner, even
// with Manage Spaces (ENOTFOUND); else ENOTFOUND as SpaceService.Get.
// For a space of another location it asks that location's leaf (relayed,
// as terminals are), which checks and audits it: the space then is as this
// server holds it, and EUNAVAILABLE when the leaf cannot be reached.
// EUNAVAILABLE without an agent endpoint, EINVALID for a space of another
// kind of template.
func (a *Access) MintAgentToken(ctx context.Context, c Caller, id string, ownerOnly bool) (*shared.Space, string, map[string]string, error) {
	ctx = context.WithoutCancel(ctx)
	cur, err := a.opts.Spaces.Get(ctx, id)
	if err != nil {
		return nil, "", nil, err
	}
	if act := shared.ActorFrom(ctx); ownerOnly && (act == nil || act.User == nil || cur.UserID != act.User.ID) {
		return nil, "", nil, shared.Errorf(shared.ENOTFOUND, "space %s not found", quote(cur.ID))
	}
	if cur.Location != a.opts.Location {
		token, env, err := a.remoteAgentToken(ctx, c, cur, ownerOnly)
		return cur, token, env, err
	}
	if a.opts.Agents == nil {
		return nil, "", nil, shared.Errorf(shared.EUNAVAILABLE, "this server has no agent endpoint")
	}
	t, err := storage.Get[shared.Template](ctx, a.opts.Store, cur.TemplateID)
	if err != nil && shared.ErrorCode(err) != shared.ENOTFOUND {
		return nil, "", nil, err
	}
	if t != nil && t.Kind != shared.TemplateManual {
		return nil, "", nil, invalid("space %s runs from a %s template: knot gives its agent a new token at every start; only a manual space's agent token is made here", quote(cur.Name), t.Kind)
	}
	token := crypt.NewToken()
	sp, err := a.opts.Spaces.update(ctx, id, func(sp *shared.Space) error {
		sp.AgentTokenHash = crypt.HashToken(token)
		sp.UpdatedAt = a.opts.Now().UTC()
		return nil
	})
	if err != nil {
		return nil, "", nil, err
	}
	a.audit(ctx, c, "Space Agent Token", "agent token of space "+sp.Name+" made", map[string]string{"space_id": sp.ID})
	endpoint, fingerprint := a.opts.Agents.Contact()
	return sp, token, map[string]string{
		"KNOT_AGENT_ENDPOINT": endpoint, "KNOT_SPACE_ID": sp.ID, "KNOT_AGENT_TOKEN": token, "KNOT_AGENT_FINGERPRINT": fingerprint,
	}, nil
}

// AgentOf describes the agent of sp: as this server's agent endpoint
// knows it for a space of its location, as RemoteAgents tells for a space
// of another; nil when this server knows nothing of it.
func (a *Access) AgentOf(sp *shared.Space) *api.SpaceAgent {
	ag, _ := a.agentOf(sp)
	return ag
}

// agentOf returns AgentOf(sp) and the version of the server the agent
// links to.
func (a *Access) agentOf(sp *shared.Space) (*api.SpaceAgent, string) {
	var st AgentStatus
	stale := false
	server := a.opts.Version
	switch {
	case sp.Location == a.opts.Location && a.opts.Agents != nil:
		st = a.opts.Agents.Status(sp.ID)
	case sp.Location != a.opts.Location && a.opts.RemoteAgents != nil:
		rs, srv, ok := a.opts.RemoteAgents(sp.Location, sp.ID)
		if !ok {
			return nil, ""
		}
		st, server = AgentStatus{Connected: rs.Connected, Version: rs.Version, LastSeen: rs.LastSeen}, srv
		stale = a.opts.RemoteStale != nil && a.opts.RemoteStale(sp.Location)
		st.Connected = st.Connected && !stale
	default:
		return nil, ""
	}
	ag := &api.SpaceAgent{Connected: st.Connected, Version: st.Version, Outdated: st.Connected && st.Version != server, Stale: stale}
	if !st.LastSeen.IsZero() {
		ag.LastSeen = &st.LastSeen
	}
	return ag, server
}

// audit records an event of the actor in ctx, from c.
func (a *Access) audit(ctx context.Context, c Caller, event, details string, props map[string]string) {
	record(ctx, a.opts.Audit, a.log, c, &shared.AuditEvent{Event: event, Details: details, Properties: props})
}
