package leaf

// What a space's leaf answers itself for a user at another server
// (wire.AskAgentToken, AskAgentEnv, AskLogs, AskLogsFollow): the agent
// token of a manual space, whose record and agent endpoint only the leaf
// holds, and the space's log, which only the leaf keeps. They travel on the
// relay channel as agent streams do (streams.go), and the leaf checks them
// as those: the space must be its own and the user active, its owner or
// holding Manage Spaces (and its owner alone for the agent environment);
// then it answers as it would a local call of that user.

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/wire"
)

// askHandler answers a relayed ask of u about sp on conn, after the reply.
type askHandler func(ctx context.Context, h *wire.RelayOpen, sp *shared.Space, u *shared.User, conn net.Conn)

// setAsks makes f answer the asks that reach this server.
func (s *AgentStreams) setAsks(f askHandler) {
	s.mu.Lock()
	s.asks = f
	s.mu.Unlock()
}

// serveAsk serves a relayed ask: see ServeRelayed.
func (s *AgentStreams) serveAsk(ctx context.Context, h *wire.RelayOpen, conn net.Conn) {
	sp, u, err := s.mayRelay(ctx, h)
	s.mu.Lock()
	f := s.asks
	s.mu.Unlock()
	if err == nil && f == nil {
		err = shared.Errorf(shared.EUNAVAILABLE, "the server of location %s answers no such requests", s.opts.Location)
	}
	if err == nil && h.Ask == wire.AskAgentEnv && sp.UserID != u.ID {
		err = shared.Errorf(shared.ENOTFOUND, "space %q not found", h.SpaceID)
	}
	if err != nil {
		wire.WriteRelay(conn, wire.ReplyOf(err))
		return
	}
	f(ctx, h, sp, u, conn)
}

// ask opens a relayed ask about a space of another location and reads the
// reply; the stream then carries the answer. Errors as Open.
func (s *AgentStreams) ask(ctx context.Context, req StreamRequest, ask string) (net.Conn, error) {
	sp := req.Space
	s.mu.Lock()
	remote := s.remote
	s.mu.Unlock()
	if remote == nil {
		return nil, shared.Errorf(shared.EUNAVAILABLE, "space %s runs at location %s, and this server has no way to other locations", sp.Name, sp.Location)
	}
	h := &wire.RelayOpen{SpaceID: sp.ID, UserID: req.UserID, From: bounded(req.From, 256), Ask: ask}
	if err := h.Validate(); err != nil {
		return nil, shared.Errorf(shared.EINVALID, "%v", err)
	}
	return remote.OpenRelay(ctx, sp.Location, h)
}

// answerAsk answers the asks of the relay channel for this server's
// spaces, as the local calls do.
func (a *Access) answerAsk(ctx context.Context, h *wire.RelayOpen, sp *shared.Space, u *shared.User, conn net.Conn) {
	perms, err := PermissionsIn(ctx, a.opts.Store, u)
	if err != nil {
		wire.WriteRelay(conn, wire.ReplyOf(err))
		return
	}
	ctx = shared.NewContextWithActor(ctx, shared.NewActor(u, perms))
	c := Caller{IP: h.From}
	switch h.Ask {
	case wire.AskAgentToken, wire.AskAgentEnv:
		_, token, env, err := a.MintAgentToken(ctx, c, sp.ID, h.Ask == wire.AskAgentEnv)
		if err != nil {
			wire.WriteRelay(conn, wire.ReplyOf(err))
			return
		}
		if wire.WriteRelay(conn, wire.ReplyOf(nil)) == nil {
			agentwire.WriteJSON(conn, &wire.RelayAgentToken{Token: token, Env: env})
		}
	case wire.AskLogs, wire.AskLogsFollow:
		lines, next, cancel, err := a.opts.Spaces.Logs(ctx, sp.ID, h.Ask == wire.AskLogsFollow)
		if err != nil {
			wire.WriteRelay(conn, wire.ReplyOf(err))
			return
		}
		defer cancel()
		if wire.WriteRelay(conn, wire.ReplyOf(nil)) != nil {
			return
		}
		conn.SetDeadline(time.Time{})
		for _, e := range lines {
			if writeLogLine(conn, e) != nil {
				return
			}
		}
		if next == nil {
			return
		}
		gone := make(chan struct{})
		go func() { // the asking side sends nothing: a read ends when it goes
			conn.Read(make([]byte, 1))
			close(gone)
		}()
		for {
			select {
			case e, ok := <-next:
				if !ok || writeLogLine(conn, e) != nil {
					return
				}
			case <-gone:
				return
			case <-ctx.Done():
				return
			}
		}
	}
}

// writeLogLine sends one line of a space's log, its text cut to the bound.
func writeLogLine(conn net.Conn, e shared.SpaceLogEntry) error {
	l := wire.RelayLogLine{At: e.At, Level: bounded(e.Level, wire.MaxRelayLogLevel), Text: clipUTF8(e.Text, wire.MaxRelayLogText)}
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return agentwire.WriteJSON(conn, &l)
}

// clipUTF8 cuts s to at most n bytes of valid UTF-8.
func clipUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// remoteAgentToken asks the leaf of sp for a new agent token of its
// manual space, for the actor in ctx.
func (a *Access) remoteAgentToken(ctx context.Context, c Caller, sp *shared.Space, ownerOnly bool) (string, map[string]string, error) {
	ask := wire.AskAgentToken
	if ownerOnly {
		ask = wire.AskAgentEnv
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := a.opts.Streams.ask(ctx, a.streamRequest(ctx, c, sp), ask)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close()
	var t wire.RelayAgentToken
	if err := agentwire.ReadJSON(conn, &t); err != nil {
		return "", nil, shared.Errorf(shared.EUNAVAILABLE, "the leaf of location %s did not answer: %v", sp.Location, err)
	}
	if err := t.Validate(); err != nil {
		return "", nil, shared.Errorf(shared.EUNAVAILABLE, "the leaf of location %s answered badly: %v", sp.Location, err)
	}
	return t.Token, t.Env, nil
}

// Logs returns the log of the space with id as SpaceService.Logs does, for
// a space of any location: the log of a space of another location is
// relayed from its leaf, which keeps it. With follow, the lines of such a
// space all come on the channel (the recent ones first), which closes when
// the log or the relay ends; cancel ends it. ENOTFOUND as SpaceService.Get;
// EUNAVAILABLE when the space's leaf cannot be reached.
func (a *Access) Logs(ctx context.Context, c Caller, id string, follow bool) ([]shared.SpaceLogEntry, <-chan shared.SpaceLogEntry, func(), error) {
	sp, err := a.opts.Spaces.Get(ctx, id)
	if err != nil {
		return nil, nil, nil, err
	}
	if sp.Location == a.opts.Location {
		return a.opts.Spaces.Logs(ctx, id, follow)
	}
	ask := wire.AskLogs
	if follow {
		ask = wire.AskLogsFollow
	}
	octx, cancelOpen := context.WithTimeout(ctx, 15*time.Second)
	conn, err := a.opts.Streams.ask(octx, a.streamRequest(ctx, c, sp), ask)
	cancelOpen()
	if err != nil {
		return nil, nil, nil, err
	}
	conn.SetDeadline(time.Time{})
	if !follow {
		defer conn.Close()
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		var lines []shared.SpaceLogEntry
		for len(lines) < maxRelayedLogLines {
			e, err := readLogLine(conn)
			if err != nil {
				if errors.Is(err, errLogEnd) {
					break
				}
				return nil, nil, nil, shared.Errorf(shared.EUNAVAILABLE, "the log of space %s from location %s broke off: %v", sp.Name, sp.Location, err)
			}
			lines = append(lines, e)
		}
		return lines, nil, func() {}, nil
	}
	next := make(chan shared.SpaceLogEntry, 64)
	done := make(chan struct{})
	go func() {
		defer close(next)
		for {
			e, err := readLogLine(conn)
			if err != nil {
				return
			}
			select {
			case next <- e:
			case <-done:
				return
			}
		}
	}()
	stop := func() {
		select {
		case <-done:
		default:
			close(done)
			conn.Close()
		}
	}
	return nil, next, stop, nil
}

// maxRelayedLogLines bounds the recent lines of a relayed log.
const maxRelayedLogLines = 100_000

// errLogEnd is the end of a relayed log.
var errLogEnd = errors.New("the log ended")

// readLogLine reads one relayed log line; errLogEnd when the stream ended
// cleanly.
func readLogLine(conn net.Conn) (shared.SpaceLogEntry, error) {
	var l wire.RelayLogLine
	if err := agentwire.ReadJSON(conn, &l); err != nil {
		var fe *agentwire.FrameError
		if !errors.As(err, &fe) && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)) {
			return shared.SpaceLogEntry{}, errLogEnd
		}
		return shared.SpaceLogEntry{}, err
	}
	if err := l.Validate(); err != nil {
		return shared.SpaceLogEntry{}, err
	}
	return shared.SpaceLogEntry{At: l.At, Level: l.Level, Text: l.Text}, nil
}
