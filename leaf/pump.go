package leaf

// Pumps: the copying between the websocket of a person using a way into a
// space and the stream to the space's agent, for terminals, SSH and
// forwarded ports, and the sending of a space's log. The web layer
// accepts the websocket and makes one call here; the messages and close
// codes each way are those its handlers document.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/wire"
)

// Pumps are the pumps and log streams a server runs. http.Server.Shutdown
// neither closes nor waits for their websockets (they are hijacked
// connections), so the server calls Close. The zero value is ready for
// use.
type Pumps struct {
	mu     sync.Mutex
	closed bool          // guarded by mu
	stop   chan struct{} // guarded by mu; closed by Close
	wg     sync.WaitGroup
}

// Open registers a pump: it is to end when stop is closed and to call
// done when it has. EUNAVAILABLE once the server is shutting down.
func (ps *Pumps) Open() (stop <-chan struct{}, done func(), err error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil, nil, shared.Errorf(shared.EUNAVAILABLE, shuttingDown)
	}
	if ps.stop == nil {
		ps.stop = make(chan struct{})
	}
	ps.wg.Add(1)
	return ps.stop, ps.wg.Done, nil
}

// Close tells every pump to end, refuses new ones, and waits for them to
// end or for ctx to.
func (ps *Pumps) Close(ctx context.Context) {
	ps.mu.Lock()
	if !ps.closed {
		ps.closed = true
		if ps.stop != nil {
			close(ps.stop)
		}
	}
	ps.mu.Unlock()
	ended := make(chan struct{})
	go func() {
		ps.wg.Wait()
		close(ended)
	}()
	select {
	case <-ended:
	case <-ctx.Done():
	}
}

// Viewer is the websocket of a person using a way into a space: whole
// messages both ways. *websocket.Conn is one.
type Viewer interface {
	Read(ctx context.Context) (websocket.MessageType, []byte, error)
	Write(ctx context.Context, typ websocket.MessageType, p []byte) error
	Close(code websocket.StatusCode, reason string) error
}

// viewerWriteTimeout bounds the sending of one message to a viewer.
const viewerWriteTimeout = 30 * time.Second

// shuttingDown is why a pump ends when the server shuts down.
const shuttingDown = "the server is shutting down"

// pump copies between a viewer and a stream to a space in two directions,
// each a goroutine, until one of them ends it, and keeps why it ended.
type pump struct {
	ctx    context.Context // ends when the pump does
	cancel context.CancelFunc
	v      Viewer
	st     io.Closer

	mu     sync.Mutex
	reason string // guarded by mu: the first reason given
}

func newPump(ctx context.Context, v Viewer, st io.Closer) *pump {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &pump{ctx: ctx, cancel: cancel, v: v, st: st}
}

// note keeps why as the reason the pump ended, unless one was given.
func (p *pump) note(why string) {
	p.mu.Lock()
	if p.reason == "" {
		p.reason = why
	}
	p.mu.Unlock()
}

// end ends the pump for why: both directions stop and the stream closes.
func (p *pump) end(why string) {
	p.note(why)
	p.cancel()
	p.st.Close()
}

// write sends a message to the viewer, within viewerWriteTimeout.
func (p *pump) write(typ websocket.MessageType, b []byte) error {
	ctx, cancel := context.WithTimeout(p.ctx, viewerWriteTimeout)
	defer cancel()
	return p.v.Write(ctx, typ, b)
}

// run runs the directions until one ends the pump or stop is closed;
// then shutdown tells the viewer. It returns, after both directions, why
// the pump ended.
func (p *pump) run(stop <-chan struct{}, shutdown func(), directions ...func()) string {
	defer p.cancel()
	var wg sync.WaitGroup
	for _, d := range directions {
		wg.Go(d)
	}
	select {
	case <-p.ctx.Done():
	case <-stop:
		p.note(shuttingDown)
		shutdown()
		p.end(shuttingDown)
	}
	wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reason
}

// goingAway closes the viewer with 1001 as the server shuts down.
func (p *pump) goingAway() { p.v.Close(websocket.StatusGoingAway, shuttingDown) }

// messageReader is a Viewer that also hands out a message as a reader,
// so that a pump reads it into a buffer of its own rather than a new one
// per message (*websocket.Conn is one).
type messageReader interface {
	Reader(ctx context.Context) (websocket.MessageType, io.Reader, error)
}

// readMessage reads a message from the viewer, into buf when buf is not
// nil and the viewer is a messageReader; a message longer than buf is an
// error.
func (p *pump) readMessage(buf []byte) (websocket.MessageType, []byte, error) {
	mr, ok := p.v.(messageReader)
	if buf == nil || !ok {
		return p.v.Read(p.ctx)
	}
	typ, r, err := mr.Reader(p.ctx)
	if err != nil {
		return 0, nil, err
	}
	n, err := io.ReadFull(r, buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return typ, buf[:n], nil
	case err != nil:
		return 0, nil, err
	}
	// buf is full: the message fits only if it ends here.
	var more [1]byte
	if m, err := r.Read(more[:]); m == 0 && err == io.EOF {
		return typ, buf, nil
	} else if err != nil && err != io.EOF {
		return 0, nil, err
	}
	return 0, nil, websocket.CloseError{Code: websocket.StatusMessageTooBig}
}

// read reads a message from the viewer, who is who ("the viewer", "the
// client"), into buf as readMessage does. When that fails it ends the
// pump, saying why unless it had ended already, and returns false.
func (p *pump) read(who string, goingAwayCloses bool, buf []byte) (websocket.MessageType, []byte, bool) {
	typ, b, err := p.readMessage(buf)
	if err == nil {
		return typ, b, true
	}
	switch status := websocket.CloseStatus(err); {
	case p.ctx.Err() != nil:
	case status == websocket.StatusNormalClosure || (goingAwayCloses && status == websocket.StatusGoingAway):
		p.end(who + " closed it")
	case status == websocket.StatusMessageTooBig || strings.Contains(err.Error(), "read limited"):
		p.end(who + " sent a message over 64 KiB")
	default:
		p.end(who + " went away")
	}
	return 0, nil, false
}

// RelayTerminal copies between the viewer and the terminal ts until one
// ends, and returns why the terminal ended. The viewer gets
// {"type":"session"} first, output as binary messages and
// {"type":"exit"} at the end; it sends input as binary messages and
// resize and eof as text ones. It owns its two copying goroutines and
// returns after both.
func RelayTerminal(ctx context.Context, v Viewer, ts *TerminalStream, stop <-chan struct{}) string {
	p := newPump(ctx, v, ts)
	hello, _ := json.Marshal(api.TerminalMessage{Type: "session", ID: ts.ID})
	if err := p.write(websocket.MessageText, hello); err != nil {
		p.cancel()
		return "the viewer went away"
	}
	return p.run(stop, p.goingAway, func() { terminalOut(p, ts) }, func() { terminalIn(p, ts) })
}

// terminalOut copies the agent's frames to the viewer.
func terminalOut(p *pump, ts *TerminalStream) {
	for {
		kind, b, err := agentwire.ReadFrame(ts)
		if err != nil {
			var fe *agentwire.FrameError
			if errors.As(err, &fe) {
				p.end("the agent sent a bad frame: " + fe.Reason)
			} else {
				p.end("the agent link closed")
			}
			return
		}
		if kind == agentwire.KindData {
			if p.write(websocket.MessageBinary, b) != nil {
				p.end("the viewer went away")
				return
			}
			continue
		}
		var c agentwire.Control
		if agentwire.DecodeJSON(b, &c) != nil || c.Type != agentwire.CtlExit {
			continue
		}
		code := c.Code
		msg, _ := json.Marshal(api.TerminalMessage{Type: "exit", Code: &code, Reason: c.Reason})
		p.write(websocket.MessageText, msg)
		why := fmt.Sprintf("the program exited with code %d", code)
		if c.Reason != "" {
			why = "the session ended: " + c.Reason
		}
		p.note(why)
		p.v.Close(websocket.StatusNormalClosure, why)
		p.end(why)
		return
	}
}

// terminalIn copies the viewer's messages to the agent.
func terminalIn(p *pump, ts *TerminalStream) {
	for {
		typ, b, ok := p.read("the viewer", true, nil)
		if !ok {
			return
		}
		if typ == websocket.MessageBinary {
			if agentwire.WriteFrame(ts, agentwire.KindData, b) != nil {
				p.end("the agent link closed")
				return
			}
			continue
		}
		c, err := viewerControl(b)
		if err != nil {
			p.note("the viewer sent a bad message: " + err.Error())
			p.v.Close(websocket.StatusPolicyViolation, err.Error())
			p.end("")
			return
		}
		if agentwire.WriteJSON(ts, c) != nil {
			p.end("the agent link closed")
			return
		}
	}
}

// viewerControl checks a text message from a viewer.
func viewerControl(b []byte) (agentwire.Control, error) {
	var m api.TerminalMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return agentwire.Control{}, fmt.Errorf("a text message must be a JSON control message: %v", err)
	}
	c := agentwire.Control{Type: m.Type, Cols: m.Cols, Rows: m.Rows}
	if c.Type != agentwire.CtlResize && c.Type != agentwire.CtlEOF {
		return c, fmt.Errorf("unknown control message type %s: resize or eof", quote(m.Type))
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// ParseTerminal reads the terminal a viewer asks for from the query of its
// websocket: attach, cols, rows, cmd (repeated) and pty. EINVALID naming
// the parameter that is wrong.
func ParseTerminal(q url.Values) (agentwire.Terminal, error) {
	t := agentwire.Terminal{Attach: q.Get("attach"), Command: q["cmd"]}
	for name, dst := range map[string]*uint16{"cols": &t.Cols, "rows": &t.Rows} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > agentwire.MaxSize {
			return t, shared.Errorf(shared.EINVALID, "query parameter %s must be a number from 1 to %d, not %s", name, agentwire.MaxSize, quote(v))
		}
		*dst = uint16(n)
	}
	switch q.Get("pty") {
	case "", "1", "true":
	case "0", "false":
		t.NoPTY = true
	default:
		return t, shared.Errorf(shared.EINVALID, "query parameter pty must be 0 or 1, not %s", quote(q.Get("pty")))
	}
	if err := t.Validate(); err != nil {
		return t, shared.Errorf(shared.EINVALID, "%v", err)
	}
	return t, nil
}

// RelayPort copies between the viewer and the port connection pc until
// both directions ended or either broke, and returns why it ended. Binary
// messages carry the bytes; a text message {"type":"eof"} is a
// half-close. It owns its two goroutines and returns after both.
func RelayPort(ctx context.Context, v Viewer, pc *PortConn, stop <-chan struct{}) string {
	p := newPump(ctx, v, pc)
	var (
		mu   sync.Mutex
		eofs int // guarded by mu: sides that wrote their last byte
	)
	// halfClosed notes that one side wrote its last byte; after both, the
	// connection ended well.
	halfClosed := func() {
		mu.Lock()
		eofs++
		both := eofs == 2
		mu.Unlock()
		if both {
			v.Close(websocket.StatusNormalClosure, "")
			p.end("the connection ended")
		}
	}
	return p.run(stop, p.goingAway, func() { portOut(p, pc, halfClosed) }, func() { portIn(p, pc, halfClosed) })
}

// portMessage bounds a message of a forwarded port's websocket each way:
// the most its clients take and send.
const portMessage = 64 << 10

// portOut copies what the space's program writes to the viewer, in
// messages as large as the client takes.
func portOut(p *pump, pc *PortConn, halfClosed func()) {
	eof, _ := json.Marshal(api.TerminalMessage{Type: "eof"})
	buf := make([]byte, portMessage)
	for {
		n, err := pc.Read(buf)
		if n > 0 && p.write(websocket.MessageBinary, buf[:n]) != nil {
			p.end("the client went away")
			return
		}
		if err != nil {
			if p.ctx.Err() != nil {
				return
			}
			if p.v.Write(p.ctx, websocket.MessageText, eof) != nil {
				p.end("the client went away")
				return
			}
			halfClosed()
			return
		}
	}
}

// portIn copies the viewer's messages to the space's program.
func portIn(p *pump, pc *PortConn, halfClosed func()) {
	buf := make([]byte, portMessage)
	for {
		typ, b, ok := p.read("the client", false, buf)
		if !ok {
			return
		}
		if typ == websocket.MessageBinary {
			if _, err := pc.Write(b); err != nil {
				p.end("the space's program closed the connection")
				return
			}
			continue
		}
		var m api.TerminalMessage
		if json.Unmarshal(b, &m) != nil || m.Type != "eof" {
			p.v.Close(websocket.StatusPolicyViolation, `a text message must be {"type":"eof"}`)
			p.end("the client sent a bad message")
			return
		}
		pc.CloseWrite()
		halfClosed()
	}
}

// RelaySSH copies between the viewer and the SSH stream st, the bytes in
// binary messages both ways, and returns why it ended; the viewer's
// websocket then closes with 1000. A text message {"type":"eof"} is a
// half-close, as on a forwarded port: from the client, the space reads
// EOF and its answer still flows back; when the space wrote its last byte
// the client gets one, and what it sends still reaches the space. The
// relay ends once both sides ended their writing (saying which one did
// first), or when either breaks. It owns its goroutines and returns after
// them.
func RelaySSH(ctx context.Context, v Viewer, st net.Conn, stop <-chan struct{}) string {
	p := newPump(ctx, v, st)
	var once sync.Once
	end := func(why string) {
		once.Do(func() {
			p.note(why)
			v.Close(websocket.StatusNormalClosure, "")
			p.end(why)
		})
	}
	var (
		mu    sync.Mutex
		first string // guarded by mu: why the side that ended its writing first did
		eofs  int    // guarded by mu: the sides whose end went through
	)
	// A side ends its writing: ending notes it (before the other side can
	// hear of it), halfClosed once its end went through; after both, the
	// connection ended well.
	ending := func(why string) {
		mu.Lock()
		if first == "" {
			first = why
		}
		mu.Unlock()
	}
	halfClosed := func() {
		mu.Lock()
		eofs++
		both, why := eofs == 2, first
		mu.Unlock()
		if both {
			end(why)
		}
	}
	eof, _ := json.Marshal(api.TerminalMessage{Type: "eof"})
	return p.run(stop, func() { end(shuttingDown) }, func() {
		for {
			typ, b, err := v.Read(p.ctx)
			if err != nil {
				end("the client closed it")
				return
			}
			if typ == websocket.MessageBinary {
				if _, err := st.Write(b); err != nil {
					end("the space closed it")
					return
				}
				continue
			}
			var m api.TerminalMessage
			if json.Unmarshal(b, &m) != nil || m.Type != "eof" {
				v.Close(websocket.StatusUnsupportedData, `a text message must be {"type":"eof"}`)
				end("the client sent a bad message")
				return
			}
			ending("the client closed it")
			wire.CloseWrite(st)
			halfClosed()
		}
	}, func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := st.Read(buf)
			if n > 0 && v.Write(p.ctx, websocket.MessageBinary, buf[:n]) != nil {
				end("the client went away")
				return
			}
			if err == io.EOF {
				ending("the space closed it")
				if v.Write(p.ctx, websocket.MessageText, eof) == nil {
					halfClosed()
					return
				}
			}
			if err != nil {
				end("the space closed it")
				return
			}
		}
	})
}

// SendLog sends lines and then every line of next to the viewer, one
// api.LogLine as JSON a text message, until next is closed (1000), stop
// is (1001), or gone ends or a line is not taken within timeout (no close
// message).
func SendLog(gone context.Context, v Viewer, lines []shared.SpaceLogEntry, next <-chan shared.SpaceLogEntry, stop <-chan struct{}, timeout time.Duration) {
	send := func(e shared.SpaceLogEntry) bool {
		ctx, cancel := context.WithTimeout(gone, timeout)
		defer cancel()
		b, err := json.Marshal(NewLogLine(e))
		return err == nil && v.Write(ctx, websocket.MessageText, append(b, '\n')) == nil
	}
	for _, e := range lines {
		if !send(e) {
			return
		}
	}
	for {
		select {
		case e, ok := <-next:
			if !ok {
				v.Close(websocket.StatusNormalClosure, "the log has ended")
				return
			}
			if !send(e) {
				return
			}
		case <-gone.Done():
			return
		case <-stop:
			v.Close(websocket.StatusGoingAway, shuttingDown)
			return
		}
	}
}

// LogStream is a followed log of a space (Access.Logs with follow), for
// RelayLog: Lines, then every line of Next. Its Close does nothing: the
// caller of Access.Logs cancels it.
type LogStream struct {
	Lines []shared.SpaceLogEntry
	Next  <-chan shared.SpaceLogEntry
}

func (*LogStream) Close() error { return nil }

// logWriteTimeout bounds the sending of one line to a follower.
const logWriteTimeout = 10 * time.Second

// readCloser is a viewer that reads nothing but the peer's close
// (*websocket.Conn).
type readCloser interface {
	CloseRead(context.Context) context.Context
}

// RelayLog sends l to the viewer as SendLog does, within logWriteTimeout
// a line. The viewer sends nothing: it is gone when its websocket closes,
// or, for a *websocket.Conn, when it sends a message (CloseRead).
func RelayLog(ctx context.Context, v Viewer, l *LogStream, stop <-chan struct{}) string {
	gone := ctx
	if c, ok := v.(readCloser); ok {
		gone = c.CloseRead(context.WithoutCancel(ctx))
	}
	SendLog(gone, v, l.Lines, l.Next, stop, logWriteTimeout)
	return "the log stream ended"
}

// NewSpaceLogs is the API's form of the recent lines of a space's log.
func NewSpaceLogs(lines []shared.SpaceLogEntry) api.SpaceLogs {
	res := api.SpaceLogs{Lines: []string{}, Entries: []api.LogLine{}}
	for _, e := range lines {
		l := NewLogLine(e)
		res.Lines = append(res.Lines, l.Line)
		res.Entries = append(res.Entries, l)
	}
	return res
}

// NewLogLine is the API's form of a line of a space's log.
func NewLogLine(e shared.SpaceLogEntry) api.LogLine {
	at := e.At.UTC()
	return api.LogLine{At: at, Level: e.Level, Text: e.Text, Line: at.Format(time.RFC3339) + " " + e.Level + " " + e.Text}
}
