package leaf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/wire"
)

// session is one connection to the origin. run owns its goroutines: the
// reader (in place), the reporter and the command handlers.
type session struct {
	u    *Uplink
	conn *websocket.Conn
	ctx  context.Context // ends with the session; for commands

	proto     int                 // the protocol of the welcome
	location  string              // the leaf's location, as the welcome named it
	auditAcks chan *wire.AuditAck // buffered: acks for the audit reporter

	// Owned by the reader.
	epoch   string
	applied int64
	snap    *snapshot // non-nil while a snapshot is coming in

	mu   sync.Mutex
	sent []int64 // guarded by mu: leaf revisions of unacknowledged reports

	acks *wire.Acker // acknowledges applied frames
	cmds sync.WaitGroup
}

// errGone wraps a read error that is not a close frame: the connection
// broke, or the library closed it (a frame over the read limit).
var errGone = errors.New("the connection to the origin ended")

// closeError ends a session with a websocket close code and a reason.
type closeError struct {
	code   websocket.StatusCode
	reason string
}

func (e *closeError) Error() string { return e.reason }

func closeWith(code int, format string, args ...any) *closeError {
	return &closeError{code: websocket.StatusCode(code), reason: fmt.Sprintf(format, args...)}
}

// session dials the origin and serves one connection until it ends. It
// reports whether the origin welcomed the leaf.
func (u *Uplink) session(ctx context.Context) (bool, error) {
	target, err := u.url(ctx)
	if err != nil {
		return false, err
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	conn, resp, err := u.dial(dctx, target, &websocket.DialOptions{
		HTTPClient:   u.opts.HTTPClient,
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + u.opts.Token}},
		Subprotocols: []string{wire.Subprotocol},
	})
	cancel()
	if err != nil {
		return false, dialError(target, resp, err)
	}
	defer conn.CloseNow()
	if conn.Subprotocol() != wire.Subprotocol {
		conn.Close(websocket.StatusPolicyViolation, "the leaf link needs the subprotocol "+wire.Subprotocol)
		return false, &refusedError{reason: "the origin does not speak " + wire.Subprotocol, slow: true}
	}
	conn.SetReadLimit(wire.MaxFrameSize)
	s := &session{u: u, conn: conn, auditAcks: make(chan *wire.AuditAck, 1)}
	return s.run(ctx)
}

// url returns the websocket URL of the origin's leaf endpoint, resolving a
// srv+ name first.
func (u *Uplink) url(ctx context.Context) (string, error) {
	s := u.opts.OriginURL
	if isSRV(s) {
		if u.opts.Resolve == nil {
			return "", shared.Errorf(shared.EINVALID, "the origin server %q is a srv+ name, but no resolver is configured", s)
		}
		r, err := u.opts.Resolve(ctx, s)
		if err != nil {
			return "", fmt.Errorf("resolve the origin server %s: %w", s, err)
		}
		s = r
	}
	return wire.Endpoint(s)
}

func isSRV(s string) bool { return strings.HasPrefix(s, "srv+") }

// dialError explains a failed dial of target: a refused credential,
// another answer of the origin, or an origin that cannot be reached.
func dialError(target string, resp *http.Response, err error) error {
	if resp == nil {
		return &unreachableError{reason: unreachable(target, err), err: err}
	}
	msg := resp.Status
	if resp.Body != nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		var body api.ErrorBody
		if json.Unmarshal(b, &body) == nil && body.Error != "" {
			msg = body.Error
		} else if t := strings.TrimSpace(string(b)); t != "" {
			msg = t
		}
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return &refusedError{reason: "the origin refused this leaf's token (its server.shared_token): " + msg, slow: true}
	}
	return fmt.Errorf("the origin answered %s: %s", resp.Status, msg)
}

// send writes one frame. The write is bounded by a timeout but not by ctx's
// cancellation: the websocket drops the connection when a write's context
// ends, even just after the write, and the session must be able to close
// with a reason. Closing the session unblocks a stuck write.
func (s *session) send(ctx context.Context, f wire.Frame) error {
	b, err := wire.Encode(f)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return s.conn.Write(wctx, websocket.MessageText, b)
}

// readFrame reads and decodes one frame, waiting at most IdleTimeout.
func (s *session) readFrame(ctx context.Context) (wire.Frame, error) {
	idle := s.u.opts.IdleTimeout
	rctx, cancel := context.WithTimeout(ctx, idle)
	typ, b, err := s.conn.Read(rctx)
	timedOut := rctx.Err() != nil && ctx.Err() == nil
	cancel()
	if err != nil {
		if timedOut {
			return nil, closeWith(wire.CloseTimeout, "the origin sent nothing for %s", idle)
		}
		if websocket.CloseStatus(err) == -1 {
			return nil, fmt.Errorf("%w: %v", errGone, err)
		}
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, closeWith(wire.CloseMalformed, "expected a text frame")
	}
	f, err := wire.Decode(b)
	if err != nil {
		return nil, closeWith(wire.CloseMalformed, "%s", shared.ErrorMessage(err))
	}
	return f, nil
}

func (s *session) run(ctx context.Context) (bool, error) {
	u := s.u
	epoch, applied, err := u.opts.Store.Replica(ctx)
	if err != nil {
		s.close(err)
		return false, fmt.Errorf("read the replica state: %w", err)
	}
	s.epoch, s.applied = epoch, applied
	hello := &wire.Hello{
		NodeID: u.opts.NodeID, Location: u.opts.Location, Version: u.opts.Version,
		ProtocolMin: wire.ProtocolMin, ProtocolMax: wire.ProtocolMax,
		Epoch: epoch, AppliedRevision: applied, Runtimes: u.opts.Runtimes,
	}
	if err := s.send(ctx, hello); err != nil {
		return false, fmt.Errorf("send hello: %w", err)
	}
	welcome, err := s.welcome(ctx)
	if err != nil {
		s.close(err)
		return false, err
	}
	u.forgetRemote() // the origin sends them all again
	u.update(func(st *shared.LeafStatus) {
		st.Connected, st.Reason, st.Since, st.NextAttempt = true, "", u.now(), time.Time{}
		st.Protocol, st.Location, st.Restricted = welcome.Protocol, welcome.Location, welcome.Restricted
		st.Epoch, st.Applied, st.Head = s.epoch, s.applied, welcome.Head
	})
	u.log.Info("leaf: connected to the origin", "location", welcome.Location, "mode", welcome.Mode, "protocol", welcome.Protocol)

	// The goroutines' context ends only after the close frame went out:
	// a write cut short by a context drops the connection at once.
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	s.ctx = gctx
	s.proto, s.location = welcome.Protocol, welcome.Location
	s.acks = wire.NewAcker(func(applied int64) error { return s.send(gctx, &wire.Ack{Applied: applied}) }, func(err error) {
		if gctx.Err() == nil {
			u.log.Warn("leaf: send an ack", "err", err)
		}
		s.conn.CloseNow() // the reader ends the session
	})
	s.acks.SetInterval(welcome.AckIntervalMS)
	errc := make(chan error, 6)
	go func() { errc <- s.read(context.WithoutCancel(ctx)) }()
	go func() { errc <- s.report(gctx) }()
	go func() { errc <- s.probe(gctx) }()
	n := 3
	if s.proto >= 2 {
		go func() { errc <- s.reportAudit(gctx) }()
		n++
	}
	if s.proto >= 5 && u.opts.Agents != nil {
		go func() { errc <- s.reportAgents(gctx) }()
		n++
	}
	u.mu.Lock()
	relays := u.streams != nil
	u.mu.Unlock()
	if relays {
		go func() { errc <- s.keepRelay(gctx) }()
		n++
	}
	select {
	case err = <-errc:
		n--
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.close(err)
	cancel()
	for ; n > 0; n-- {
		<-errc
	}
	s.acks.Stop()
	s.cmds.Wait()
	return true, err
}

// probe pings the origin each time Uplink.Probe asks, until ctx ends. An
// origin that does not answer within ProbeTimeout ends the session. A probe
// asked for before the session began is for an earlier link and is dropped.
func (s *session) probe(ctx context.Context) error {
	select {
	case <-s.u.probe:
	default:
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.u.probe:
		}
		d := s.u.opts.ProbeTimeout
		pctx, cancel := context.WithTimeout(ctx, d)
		err := s.conn.Ping(pctx)
		cancel()
		switch {
		case err == nil:
		case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
			return closeWith(wire.CloseTimeout, "the origin did not answer a ping within %s", d)
		default: // the link ended: the reader tells why
			<-ctx.Done()
			return nil
		}
	}
}

// welcome reads the origin's answer to the hello.
func (s *session) welcome(ctx context.Context) (*wire.Welcome, error) {
	f, err := s.readFrame(ctx)
	if err != nil {
		return nil, err
	}
	switch f := f.(type) {
	case *wire.Refusal:
		return nil, &refusedError{reason: "the origin refused the link: " + f.Reason, slow: !f.Retryable}
	case *wire.Welcome:
		if f.Protocol < wire.ProtocolMin || f.Protocol > wire.ProtocolMax {
			return nil, closeWith(wire.CloseMalformed, "the origin chose protocol %d, but this leaf speaks %d to %d", f.Protocol, wire.ProtocolMin, wire.ProtocolMax)
		}
		switch {
		case f.Mode == wire.ModeSnapshot:
			s.snap = &snapshot{epoch: f.Epoch, rev: -1, seen: map[key]bool{}}
			if s.epoch != "" && s.epoch != f.Epoch {
				s.snap.replaces = s.epoch
			}
		case f.Epoch != s.epoch:
			return nil, closeWith(wire.CloseMalformed, "the origin resumes epoch %s, but the replica is of epoch %q", f.Epoch, s.epoch)
		}
		return f, nil
	default:
		return nil, closeWith(wire.CloseMalformed, "expected a welcome, got %s", f.FrameType())
	}
}

// close closes the websocket with the code and reason err calls for.
func (s *session) close(err error) {
	code, reason := websocket.StatusNormalClosure, ""
	var ce *closeError
	isClose := errors.As(err, &ce)
	switch {
	case errors.Is(err, errGone), isClose && ce.code == wire.CloseTimeout:
		// Gone, or not answering: an origin that does not answer would not
		// answer a close either, and waiting for it would keep the leaf's
		// status wrong for longer.
		s.conn.CloseNow()
		return
	case isClose:
		code, reason = ce.code, ce.reason
	case err == nil, errors.As(err, new(*refusedError)):
	case errors.Is(err, context.Canceled):
		code, reason = websocket.StatusGoingAway, "leaf is shutting down"
	case websocket.CloseStatus(err) != -1:
	default:
		code, reason = wire.CloseInternal, "leaf error"
	}
	s.conn.Close(code, wire.CloseReason(reason))
}

// read handles the origin's frames until the link ends. The next frame is
// read and decoded while the one before it is handled, so that a leaf
// catching up decodes one frame of changes while it applies another.
func (s *session) read(ctx context.Context) error {
	type decoded struct {
		f   wire.Frame
		err error
	}
	next := make(chan decoded, 1)
	done := make(chan struct{})
	defer close(done)
	// The decoder ends when it has passed on an error, or when read has
	// returned: run then closes the connection, which ends its Read.
	//
	// After half the idle timeout spent waiting for a frame, it has the
	// origin pinged: an origin that hangs keeps its connection open and is
	// otherwise noticed only at the idle timeout, or when a request to it
	// gets no answer. (While the decoder waits for the reader, nothing
	// reads the answer, so the clock runs only while it waits for a frame.)
	quiet := s.u.opts.IdleTimeout / 2
	ping := time.AfterFunc(quiet, s.u.Probe)
	go func() {
		defer close(next)
		for {
			f, err := s.readFrame(ctx)
			ping.Stop()
			select {
			case next <- decoded{f, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
			ping.Reset(quiet)
		}
	}()
	for d := range next {
		f, err := d.f, d.err
		if err != nil {
			return err
		}
		switch f := f.(type) {
		case *wire.Snapshot:
			err = s.snapshotPart(f)
		case *wire.SnapshotEnd:
			err = s.snapshotEnd(ctx, f)
		case *wire.Changes:
			err = s.changes(ctx, f)
		case *wire.KeepAlive:
			s.u.update(func(st *shared.LeafStatus) { st.Head = max(st.Head, f.Head) })
			s.acks.SetInterval(f.AckIntervalMS)
		case *wire.SpaceAck:
			s.reportAcked(f)
		case *wire.AgentStates:
			err = s.remoteAgents(f)
		case *wire.Command:
			if f.Action == wire.ActionCreate && s.proto < 2 {
				return closeWith(wire.CloseMalformed, "a create command needs protocol 2, and this link speaks %d", s.proto)
			}
			s.command(f)
		case *wire.AuditAck:
			select {
			case s.auditAcks <- f:
			default:
				return closeWith(wire.CloseMalformed, "an audit ack the leaf did not ask for")
			}
		default:
			err = closeWith(wire.CloseMalformed, "unexpected %s frame from the origin", f.FrameType())
		}
		if err != nil {
			return err
		}
	}
	return nil // not reached: the decoder passes on an error before it ends
}

// command runs one of the origin's commands and answers it.
func (s *session) command(f *wire.Command) {
	s.cmds.Add(1)
	go func() {
		defer s.cmds.Done()
		err := s.u.runCommand(s.ctx, f)
		res := &wire.CommandResult{ID: f.ID}
		if err != nil {
			res.Code, res.Message = shared.ErrorCode(err), shared.ErrorMessage(err)
			s.u.log.Warn("leaf: command failed", "action", f.Action, "space", f.SpaceID, "err", err)
		}
		if err := s.send(s.ctx, res); err != nil && s.ctx.Err() == nil {
			s.u.log.Warn("leaf: answer command", "err", err)
		}
	}()
}

func (u *Uplink) runCommand(ctx context.Context, f *wire.Command) error {
	sc := u.spaceController()
	if sc == nil {
		return shared.Errorf(shared.EUNAVAILABLE, "this leaf does not run spaces")
	}
	switch f.Action {
	case wire.ActionStart:
		return sc.Start(ctx, f.SpaceID)
	case wire.ActionStop:
		return sc.Stop(ctx, f.SpaceID)
	case wire.ActionDelete:
		return sc.Delete(ctx, f.SpaceID)
	case wire.ActionCreate:
		cr, ok := sc.(SpaceCreator)
		if !ok {
			return shared.Errorf(shared.EUNAVAILABLE, "this leaf does not create spaces for the origin")
		}
		sp := new(shared.Space)
		if err := json.Unmarshal(f.Space, sp); err != nil {
			return shared.Wrap(shared.EINVALID, err, "the space to create does not decode")
		}
		if sp.ID != f.SpaceID {
			return shared.Errorf(shared.EINVALID, "the command creates space %q but carries space %q", f.SpaceID, sp.ID)
		}
		return cr.Create(ctx, sp)
	}
	return shared.Errorf(shared.EINVALID, "unknown command %q", f.Action)
}

func (s *session) reportAcked(f *wire.SpaceAck) {
	if f.Code != "" {
		s.u.log.Warn("leaf: the origin refused a space report", "leaf_revision", f.LeafRevision, "code", f.Code, "message", f.Message)
	}
	s.mu.Lock()
	s.sent = slices.DeleteFunc(s.sent, func(r int64) bool { return r <= f.LeafRevision })
	n := len(s.sent)
	s.mu.Unlock()
	u := s.u
	u.mu.Lock()
	u.acked = max(u.acked, f.LeafRevision)
	u.status.PendingReports = n
	u.mu.Unlock()
}
