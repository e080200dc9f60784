package leafsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
)

// history is how many applied frames a leaf remembers the time of.
const history = 16

// simLeaf is one simulated leaf. Its goroutine (run) owns the link; the
// atomics are read by the driver.
type simLeaf struct {
	sim    *Sim
	id     int
	probe  bool
	resume chan struct{} // buffered 1: Resume was called

	conn      atomic.Pointer[websocket.Conn]
	paused    atomic.Bool
	connected atomic.Bool
	syncing   atomic.Bool // a snapshot is coming in

	epoch   atomic.Pointer[string]
	applied atomic.Int64
	head    atomic.Int64

	bytes, frames             atomic.Int64
	changeBytes, changeFrames atomic.Int64
	snapBytes, snapshots      atomic.Int64
	snapRecords               atomic.Int64
	sessions                  atomic.Int64

	mu   sync.Mutex
	hist [history]stamp // guarded by mu: ring of the last applied frames
	next int            // guarded by mu: where the next stamp goes
}

// stamp is when a leaf applied the frame that took it to rev.
type stamp struct {
	rev, at int64
}

// record remembers that the leaf applied rev now.
func (l *simLeaf) record(rev int64) {
	at := l.sim.now()
	l.mu.Lock()
	l.hist[l.next%history] = stamp{rev: rev, at: at}
	l.next++
	l.mu.Unlock()
	l.applied.Store(rev)
}

// appliedAt returns when the leaf applied the first frame that took it to
// rev or beyond. It is false when the leaf has not, or when that frame is no
// longer in its history.
func (l *simLeaf) appliedAt(rev int64) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := min(l.next, history)
	// Walk from the oldest stamp kept to the newest.
	for k := l.next - n; k < l.next; k++ {
		s := l.hist[k%history]
		if s.rev >= rev {
			if k == l.next-n && l.next > history {
				// The frame before it is gone: it may have been the first
				// to reach rev, unless that one is known to be below.
				return 0, false
			}
			return s.at, true
		}
	}
	return 0, false
}

// errGone marks a link that broke without a close frame.
var errGone = errors.New("the connection to the origin ended")

// closeError ends a link with a websocket close code and a reason.
type closeError struct {
	code   websocket.StatusCode
	reason string
}

func (e *closeError) Error() string { return e.reason }

func closeWith(code int, format string, args ...any) *closeError {
	return &closeError{code: websocket.StatusCode(code), reason: fmt.Sprintf(format, args...)}
}

// run keeps the leaf's link up until ctx ends.
func (l *simLeaf) run(ctx context.Context) {
	s := l.sim
	delay := s.opts.MinBackoff
	for ctx.Err() == nil {
		if l.paused.Load() {
			select {
			case <-ctx.Done():
				return
			case <-l.resume:
				delay = s.opts.MinBackoff
				continue
			}
		}
		welcomed, err := l.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil && !l.paused.Load() {
			s.failed(fmt.Errorf("leaf %s: %w", s.Name(l.id), err))
			s.log.Debug("leafsim: link ended", "leaf", s.Name(l.id), "err", err)
		}
		if welcomed {
			delay = s.opts.MinBackoff
		}
		// Jitter spreads a fleet that lost its origin at the same moment.
		wait := delay/2 + rand.N(delay/2+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-l.resume:
			t.Stop()
		case <-t.C:
		}
		delay = min(delay*2, s.opts.MaxBackoff)
	}
}

// session dials the origin and serves one link until it ends. It reports
// whether the origin welcomed the leaf.
func (l *simLeaf) session(ctx context.Context) (bool, error) {
	s := l.sim
	select {
	case s.dials <- struct{}{}:
	case <-ctx.Done():
		return false, nil
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	conn, resp, err := websocket.Dial(dctx, s.url, &websocket.DialOptions{
		HTTPClient:   s.opts.HTTPClient,
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + s.opts.Token}},
		Subprotocols: []string{wire.Subprotocol},
	})
	cancel()
	<-s.dials
	if err != nil {
		if resp != nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return false, fmt.Errorf("the origin answered %s: %s", resp.Status, bytes.TrimSpace(b))
		}
		return false, fmt.Errorf("the origin is unreachable: %w", err)
	}
	defer conn.CloseNow()
	if conn.Subprotocol() != wire.Subprotocol {
		conn.Close(websocket.StatusPolicyViolation, "the leaf link needs the subprotocol "+wire.Subprotocol)
		return false, fmt.Errorf("the origin does not speak %s", wire.Subprotocol)
	}
	conn.SetReadLimit(wire.MaxFrameSize)
	l.conn.Store(conn)
	defer l.conn.Store(nil)
	if l.paused.Load() {
		return false, nil // paused while dialing
	}
	w := newWatchdog(ctx, conn, s.opts.IdleTimeout)
	welcomed, err := l.serve(conn, w)
	w.release()
	l.connected.Store(false)
	l.syncing.Store(false)
	s.poke()
	l.close(conn, err)
	if ctx.Err() != nil {
		return welcomed, nil
	}
	return welcomed, err
}

// close closes the websocket with the code and reason err calls for.
func (l *simLeaf) close(conn *websocket.Conn, err error) {
	code, reason := websocket.StatusNormalClosure, ""
	var ce *closeError
	switch {
	case errors.As(err, &ce):
		code, reason = ce.code, ce.reason
	case errors.Is(err, errGone), websocket.CloseStatus(err) != -1:
		conn.CloseNow()
		return
	case errors.Is(err, context.Canceled):
		code, reason = websocket.StatusGoingAway, "leaf is shutting down"
	}
	conn.Close(code, wire.CloseReason(reason))
}

// buffers holds read buffers between frames, so that an idle leaf holds
// none.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// maxPooled is the largest buffer put back into the pool.
const maxPooled = 1 << 20

// read reads one message into a pooled buffer. The caller puts the buffer
// back. Reads and writes take no context of their own: the link's watchdog
// closes the connection when the origin sent nothing for the idle timeout,
// and the session closes it when the simulation stops.
func (l *simLeaf) read(conn *websocket.Conn, w *watchdog) (*[]byte, error) {
	typ, r, err := conn.Reader(context.Background())
	if err != nil {
		return nil, w.explain(err)
	}
	w.alive()
	if typ != websocket.MessageText {
		return nil, closeWith(wire.CloseMalformed, "expected a text frame")
	}
	bp := buffers.Get().(*[]byte)
	b := (*bp)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			*bp = b
			putBuffer(bp)
			return nil, w.explain(err)
		}
	}
	*bp = b
	return bp, nil
}

// watchdog closes a link on which the origin sent nothing for the idle
// timeout, or when the simulation stops.
type watchdog struct {
	idle    time.Duration
	timer   *time.Timer
	stop    func() bool
	expired atomic.Bool
	ctx     context.Context
}

func newWatchdog(ctx context.Context, conn *websocket.Conn, idle time.Duration) *watchdog {
	w := &watchdog{idle: idle, ctx: ctx}
	w.timer = time.AfterFunc(idle, func() {
		w.expired.Store(true)
		conn.CloseNow()
	})
	w.stop = context.AfterFunc(ctx, func() { conn.Close(websocket.StatusGoingAway, "leaf is shutting down") })
	return w
}

// alive tells the watchdog the origin sent something.
func (w *watchdog) alive() { w.timer.Reset(w.idle) }

func (w *watchdog) release() {
	w.timer.Stop()
	w.stop()
}

// explain turns the error of a read or write into why the link ended.
func (w *watchdog) explain(err error) error {
	var ce *closeError
	switch {
	case errors.As(err, &ce):
		return err
	case w.expired.Load():
		return closeWith(wire.CloseTimeout, "the origin sent nothing for %s", w.idle)
	case w.ctx.Err() != nil:
		return w.ctx.Err()
	case websocket.CloseStatus(err) == -1:
		return fmt.Errorf("%w: %v", errGone, err)
	}
	return err
}

func putBuffer(bp *[]byte) {
	if cap(*bp) <= maxPooled {
		buffers.Put(bp)
	}
}

// send writes one frame; see read.
func send(conn *websocket.Conn, f wire.Frame) error {
	b, err := wire.Encode(f)
	if err != nil {
		return err
	}
	return conn.Write(context.Background(), websocket.MessageText, b)
}

// serve says hello and handles the origin's frames until the link ends.
func (l *simLeaf) serve(conn *websocket.Conn, w *watchdog) (bool, error) {
	s := l.sim
	var epoch string
	if e := l.epoch.Load(); e != nil {
		epoch = *e
	}
	name := s.Name(l.id)
	hello := &wire.Hello{
		NodeID: name, Location: name, Version: s.opts.Version,
		ProtocolMin: wire.ProtocolMin, ProtocolMax: wire.ProtocolMax,
		Epoch: epoch, AppliedRevision: l.applied.Load(),
	}
	if err := send(conn, hello); err != nil {
		return false, fmt.Errorf("send hello: %w", w.explain(err))
	}
	bp, err := l.read(conn, w)
	if err != nil {
		return false, err
	}
	l.count(len(*bp))
	f, err := wire.Decode(*bp)
	putBuffer(bp)
	if err != nil {
		return false, closeWith(wire.CloseMalformed, "%s", shared.ErrorMessage(err))
	}
	var snap *snapshot
	var ackInterval int64
	switch f := f.(type) {
	case *wire.Refusal:
		return false, fmt.Errorf("the origin refused the link: %s", f.Reason)
	case *wire.Welcome:
		if f.Mode == wire.ModeSnapshot {
			snap = &snapshot{epoch: f.Epoch}
			l.syncing.Store(true)
		} else if f.Epoch != epoch {
			return false, closeWith(wire.CloseMalformed, "the origin resumes epoch %s, but the leaf holds epoch %q", f.Epoch, epoch)
		}
		l.head.Store(f.Head)
		ackInterval = f.AckIntervalMS
	default:
		return false, closeWith(wire.CloseMalformed, "expected a welcome, got %s", f.FrameType())
	}
	l.sessions.Add(1)
	l.connected.Store(true)
	s.poke()
	// Acks go out as a real leaf's do; a scheduled one that fails drops
	// the connection, which ends the reader.
	acks := wire.NewAcker(func(applied int64) error { return send(conn, &wire.Ack{Applied: applied}) }, func(error) { conn.CloseNow() })
	defer acks.Stop()
	acks.SetInterval(ackInterval)
	for {
		bp, err := l.read(conn, w)
		if err != nil {
			return true, err
		}
		err = l.handle(conn, acks, *bp, &snap)
		putBuffer(bp)
		if err != nil {
			return true, w.explain(err)
		}
	}
}

// snapshot is a snapshot coming in.
type snapshot struct {
	epoch string
	rev   int64
	count int
	bytes int64
	parts int
}

func (l *simLeaf) count(n int) {
	l.bytes.Add(int64(n))
	l.frames.Add(1)
}

// handle applies one frame of the origin.
func (l *simLeaf) handle(conn *websocket.Conn, acks *wire.Acker, b []byte, snap **snapshot) error {
	l.count(len(b))
	if !l.probe && !l.sim.opts.Verify {
		typ, prev, rev, ok := header(b)
		switch {
		case ok && typ == wire.TypeChanges:
			return l.changes(acks, len(b), prev, rev, nil)
		case ok && typ == wire.TypeSnapshot && *snap != nil:
			(*snap).bytes += int64(len(b))
			(*snap).parts++
			return nil
		}
	}
	f, err := wire.Decode(b)
	if err != nil {
		return closeWith(wire.CloseMalformed, "%s", shared.ErrorMessage(err))
	}
	switch f := f.(type) {
	case *wire.Snapshot:
		sn := *snap
		if sn == nil {
			return closeWith(wire.CloseMalformed, "a snapshot frame outside a snapshot")
		}
		if sn.parts > 0 && f.Revision != sn.rev {
			return closeWith(wire.CloseMalformed, "snapshot part at revision %d, the snapshot is at %d", f.Revision, sn.rev)
		}
		sn.rev = f.Revision
		sn.count += len(f.Records)
		sn.bytes += int64(len(b))
		sn.parts++
		if l.probe {
			l.sim.logProbe(l.applied.Load(), f.Records)
		}
		return nil
	case *wire.SnapshotEnd:
		sn := *snap
		if sn == nil {
			return closeWith(wire.CloseMalformed, "a snapshot end outside a snapshot")
		}
		if (l.probe || l.sim.opts.Verify) && (f.Count != sn.count || sn.parts > 0 && f.Revision != sn.rev) {
			return closeWith(wire.CloseMalformed, "the snapshot ends with %d records at revision %d, but %d came at revision %d", f.Count, f.Revision, sn.count, sn.rev)
		}
		l.snapBytes.Add(sn.bytes)
		l.snapshots.Add(1)
		l.snapRecords.Store(int64(f.Count))
		if e := l.sim.epoch.Load(); e != nil && *e == sn.epoch {
			l.epoch.Store(e) // share one string among the leaves
		} else {
			e := sn.epoch
			l.sim.epoch.Store(&e)
			l.epoch.Store(&e)
		}
		*snap = nil
		l.record(f.Revision)
		l.syncing.Store(false)
		l.head.Store(max(l.head.Load(), f.Revision))
		l.sim.poke()
		return acks.Ack(f.Revision)
	case *wire.Changes:
		return l.changes(acks, len(b), f.Prev, f.Revision, f.Changes)
	case *wire.KeepAlive:
		l.head.Store(max(l.head.Load(), f.Head))
		acks.SetInterval(f.AckIntervalMS)
		return nil
	case *wire.SpaceAck:
		return nil
	case *wire.AgentStates: // the agents of other locations: a simulated leaf shows none
		return nil
	case *wire.Command:
		return send(conn, &wire.CommandResult{ID: f.ID, Code: shared.EUNAVAILABLE, Message: "a simulated leaf runs no spaces"})
	default:
		return closeWith(wire.CloseMalformed, "unexpected %s frame from the origin", f.FrameType())
	}
}

// changes applies a change frame from prev to rev of n bytes.
func (l *simLeaf) changes(acks *wire.Acker, n int, prev, rev int64, cs []wire.Change) error {
	applied := l.applied.Load()
	if l.epoch.Load() == nil {
		return closeWith(wire.CloseMalformed, "a change frame before any snapshot")
	}
	if rev <= applied {
		return nil // already applied
	}
	if prev != applied {
		return closeWith(wire.CloseOutOfOrder, "change frame from revision %d, but the leaf holds %d", prev, applied)
	}
	l.changeBytes.Add(int64(n))
	l.changeFrames.Add(1)
	if l.probe {
		l.sim.logProbe(rev, cs)
	}
	l.record(rev)
	l.head.Store(max(l.head.Load(), rev))
	l.sim.poke()
	return acks.Ack(rev)
}

// header reads, from the start of a frame as wire.Encode writes it, the
// type and, for a change frame, prev and revision. ok is false for frames
// other than change and snapshot frames, when the frame does not start so,
// or, for a change frame, when it does not end as a whole one; the caller
// then decodes it in full.
func header(b []byte) (typ string, prev, rev int64, ok bool) {
	rest, found := bytes.CutPrefix(b, []byte(`{"type":"`))
	if !found {
		return "", 0, 0, false
	}
	i := bytes.IndexByte(rest, '"')
	if i < 0 || i > 32 {
		return "", 0, 0, false
	}
	t, rest := rest[:i], rest[i+1:]
	switch string(t) {
	case wire.TypeChanges:
		var ok1, ok2 bool
		prev, rest, ok1 = number(rest, `,"prev":`)
		rev, rest, ok2 = number(rest, `,"revision":`)
		if !ok1 || !ok2 || !bytes.HasPrefix(rest, []byte(`,"changes":`)) || rev <= prev || !complete(rest[len(`,"changes":`):]) {
			return "", 0, 0, false
		}
		return wire.TypeChanges, prev, rev, true
	case wire.TypeSnapshot:
		return wire.TypeSnapshot, 0, 0, true
	}
	return "", 0, 0, false
}

// complete reports whether b, the rest of a change frame after its
// "changes" key, holds the whole list and ends the frame, as wire.Encode
// writes it: a frame cut short, or with more after the list, is left to
// decode in full.
func complete(b []byte) bool {
	return string(b) == "null}" || len(b) >= 3 && b[0] == '[' && string(b[len(b)-2:]) == "]}"
}

// number reads `<key><digits>` at the start of b.
func number(b []byte, key string) (int64, []byte, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(key))
	if !ok {
		return 0, nil, false
	}
	var n int64
	i := 0
	for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
		if i == 18 {
			return 0, nil, false // beyond any revision
		}
		n = n*10 + int64(rest[i]-'0')
	}
	if i == 0 {
		return 0, nil, false
	}
	return n, rest[i:], true
}
