package agentwire

// Mux is the leaf's side of the agent link's multiplexer. It speaks
// yamux's protocol (github.com/hashicorp/yamux, spec.md there; the agent
// runs hashicorp/yamux as the client), and costs an idle link one
// goroutine: the one that runs Run and reads the connection.
//
// Decisions:
//
//   - Frames are written by the goroutine that has something to say, one
//     at a time (a mutex), with a write deadline of WriteTimeout; yamux's
//     send goroutine and queue are gone. A frame's header and body are
//     written as muxConn writes them (LinkConn: a small data frame's body
//     apart from its header, a large one gathered with it).
//   - There is no accept queue: a stream the peer opens is given to
//     Accept in the reader's goroutine, at once. Accept either lets the
//     stream keep its data for Read, or hands its frames (agentwire
//     frames, see OnFrames) to a function the reader calls; such a stream
//     costs no goroutine either.
//   - The reader reads straight from the connection (crypto/tls keeps a
//     record's plaintext; there is no bufio.Reader over it), and a stream
//     holds no buffer while it holds no data.
//   - Timers, not goroutines, bound a stream that is never accepted
//     (OpenTimeout closes the link, as yamux's StreamOpenTimeout does) and
//     one the peer never closes after this side did (CloseTimeout resets
//     it).
//   - The peer's keepalive pings are answered; Mux sends none.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// yamux's frame header (version, type, flags (2), stream id (4), length
// (4); a data frame's body of length bytes follows it), frame types,
// flags, initial window and go-away codes.
const (
	muxHeader = 12

	muxTypeData   = 0
	muxTypeWindow = 1
	muxTypePing   = 2
	muxTypeGoAway = 3

	muxFlagSYN = 1
	muxFlagACK = 2
	muxFlagFIN = 4
	muxFlagRST = 8

	muxWindow = 256 << 10

	muxGoAwayNormal   = 0
	muxGoAwayProtoErr = 1
)

// Errors of Mux and its streams.
var (
	ErrMuxClosed    = errors.New("agent link: closed")
	ErrStreamClosed = errors.New("agent link: stream closed")
	ErrStreamReset  = errors.New("agent link: stream reset")
	errGoneAway     = errors.New("agent link: the agent takes no more streams")
)

// muxTimeout is the error of an operation past its deadline.
type muxTimeout struct{}

func (muxTimeout) Error() string   { return "agent link: i/o deadline reached" }
func (muxTimeout) Timeout() bool   { return true }
func (muxTimeout) Temporary() bool { return true }
func (muxTimeout) Unwrap() error   { return os.ErrDeadlineExceeded }

// ProtocolError is a frame of the multiplexer that breaks its protocol;
// the link ends with it.
type ProtocolError struct{ Reason string }

func (e *ProtocolError) Error() string { return "agent link: " + e.Reason }

// MuxOptions configure a Mux.
type MuxOptions struct {
	// Accept is given each stream the peer opens, in the reader's
	// goroutine: it must not block. It may call OnFrames. Nil refuses
	// every stream.
	Accept func(*Stream)
	// MaxIncoming bounds the streams the peer has open at once; past it a
	// new one is reset. 0 means 256.
	MaxIncoming int
	// WriteTimeout bounds the write of one frame; a frame not written in
	// time ends the link. 0 means 10 seconds.
	WriteTimeout time.Duration
	// OpenTimeout is how long an opened stream may wait for the peer's
	// acknowledgement before the link ends; 0 means it waits.
	OpenTimeout time.Duration
	// CloseTimeout is how long after this side closed a stream the peer
	// may take to close it too before it is reset; 0 means a minute.
	CloseTimeout time.Duration
}

// Mux is one multiplexed agent link, the server side. Run reads it.
type Mux struct {
	conn net.Conn
	opts MuxOptions
	done chan struct{}

	wmu sync.Mutex // one frame at a time

	mu        sync.Mutex
	streams   map[uint32]*Stream // guarded by mu
	nIncoming int                // guarded by mu: open streams the peer opened
	nextID    uint32             // guarded by mu
	closed    bool               // guarded by mu
	goneAway  bool               // guarded by mu
	err       error              // guarded by mu: why it closed

	hdr [muxHeader]byte // the reader's
}

// NewMux returns the server side of a multiplexed link over conn. Run it.
func NewMux(conn net.Conn, opts MuxOptions) *Mux {
	if opts.MaxIncoming <= 0 {
		opts.MaxIncoming = 256
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.CloseTimeout <= 0 {
		opts.CloseTimeout = time.Minute
	}
	return &Mux{conn: conn, opts: opts, done: make(chan struct{}), streams: map[uint32]*Stream{}, nextID: 2}
}

// Done is closed when the link has closed.
func (m *Mux) Done() <-chan struct{} { return m.done }

// Close ends the link and its streams. It does not wait for Run.
func (m *Mux) Close() error {
	m.closeWith(ErrMuxClosed)
	return nil
}

func (m *Mux) closeWith(err error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed, m.err = true, err
	streams := make([]*Stream, 0, len(m.streams))
	for _, s := range m.streams {
		streams = append(streams, s)
	}
	m.mu.Unlock()
	close(m.done)
	m.conn.Close()
	for _, s := range streams {
		s.forceClose()
	}
}

// Run reads the link until it ends, and returns why: the error that
// ended the reading (io.EOF, a *ProtocolError) or, when Close ended it,
// Close's. Frame handlers (OnFrames) are called in its goroutine, and
// all of them have been told the end when it returns.
func (m *Mux) Run() error {
	err := m.read()
	m.closeWith(err)
	m.mu.Lock()
	err = m.err
	m.mu.Unlock()
	for _, s := range m.framed() {
		s.endFrames(ErrMuxClosed)
	}
	return err
}

// framed returns the streams whose frames go to a handler. A stream
// removed from the map was told its end when it was removed.
func (m *Mux) framed() []*Stream {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Stream
	for _, s := range m.streams {
		if s.frames != nil {
			out = append(out, s)
		}
	}
	return out
}

func (m *Mux) read() error {
	h := m.hdr[:]
	for {
		if _, err := io.ReadFull(m.conn, h); err != nil {
			return err
		}
		if h[0] != 0 {
			return &ProtocolError{Reason: fmt.Sprintf("frame version %d", h[0])}
		}
		flags := binary.BigEndian.Uint16(h[2:])
		id := binary.BigEndian.Uint32(h[4:])
		length := binary.BigEndian.Uint32(h[8:])
		var err error
		switch h[1] {
		case muxTypeData, muxTypeWindow:
			err = m.streamFrame(h[1], flags, id, length)
		case muxTypePing:
			if flags&muxFlagSYN != 0 {
				err = m.writeFrame(muxTypePing, muxFlagACK, 0, length, nil)
			}
		case muxTypeGoAway:
			if length != muxGoAwayNormal {
				return &ProtocolError{Reason: fmt.Sprintf("the agent went away with code %d", length)}
			}
			m.mu.Lock()
			m.goneAway = true
			m.mu.Unlock()
		default:
			return &ProtocolError{Reason: fmt.Sprintf("frame type %d", h[1])}
		}
		if err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) {
				m.writeFrame(muxTypeGoAway, 0, 0, muxGoAwayProtoErr, nil)
			}
			return err
		}
	}
}

// streamFrame handles a data or window update frame.
func (m *Mux) streamFrame(typ byte, flags uint16, id, length uint32) error {
	var s *Stream
	if flags&muxFlagSYN != 0 {
		var err error
		if s, err = m.incoming(id); err != nil {
			return err
		}
	} else {
		m.mu.Lock()
		s = m.streams[id]
		m.mu.Unlock()
	}
	if s != nil && !s.remote {
		s.answered()
	}
	if s == nil { // reset or closed here: drop what was in flight
		if typ == muxTypeData && length > 0 {
			if length > muxWindow {
				return &ProtocolError{Reason: fmt.Sprintf("%d bytes for stream %d, over its window", length, id)}
			}
			if _, err := io.CopyN(io.Discard, m.conn, int64(length)); err != nil {
				return err
			}
		}
		return nil
	}
	if typ == muxTypeWindow {
		s.flags(flags)
		s.mu.Lock()
		s.sendWindow += length
		s.mu.Unlock()
		notify(s.writeCh)
		return nil
	}
	if length > 0 {
		if err := s.data(length); err != nil {
			return err
		}
	}
	s.flags(flags)
	return nil
}

// incoming makes the stream the peer opens with id and gives it to
// Accept; nil when it was refused.
func (m *Mux) incoming(id uint32) (*Stream, error) {
	if id%2 == 0 {
		return nil, &ProtocolError{Reason: fmt.Sprintf("the agent opened stream %d, an id of the leaf's", id)}
	}
	m.mu.Lock()
	if _, ok := m.streams[id]; ok {
		m.mu.Unlock()
		return nil, &ProtocolError{Reason: fmt.Sprintf("the agent opened stream %d twice", id)}
	}
	if m.opts.Accept == nil || m.nIncoming >= m.opts.MaxIncoming || m.closed {
		m.mu.Unlock()
		return nil, m.writeFrame(muxTypeWindow, muxFlagRST, id, 0, nil)
	}
	s := newStream(m, id)
	s.acked, s.remote = true, true
	m.streams[id] = s
	m.nIncoming++
	m.mu.Unlock()
	if err := m.writeFrame(muxTypeWindow, muxFlagACK, id, 0, nil); err != nil {
		return nil, err
	}
	m.opts.Accept(s)
	return s, nil
}

// remove forgets the stream s.
func (m *Mux) remove(s *Stream) {
	m.mu.Lock()
	if m.streams[s.id] == s {
		delete(m.streams, s.id)
		if s.remote {
			m.nIncoming--
		}
	}
	m.mu.Unlock()
}

// Open opens a stream to the peer.
func (m *Mux) Open() (*Stream, error) {
	m.mu.Lock()
	switch {
	case m.closed:
		m.mu.Unlock()
		return nil, ErrMuxClosed
	case m.goneAway:
		m.mu.Unlock()
		return nil, errGoneAway
	case m.nextID >= 1<<32-2:
		m.mu.Unlock()
		return nil, errors.New("agent link: stream ids exhausted")
	}
	s := newStream(m, m.nextID)
	m.nextID += 2
	m.streams[s.id] = s
	m.mu.Unlock()
	if m.opts.OpenTimeout > 0 {
		s.mu.Lock()
		s.openTimer = time.AfterFunc(m.opts.OpenTimeout, func() {
			s.mu.Lock()
			acked := s.acked
			s.mu.Unlock()
			if !acked {
				m.closeWith(&ProtocolError{Reason: "the agent did not accept a stream within " + m.opts.OpenTimeout.String()})
			}
		})
		s.mu.Unlock()
	}
	if err := m.writeFrame(muxTypeWindow, muxFlagSYN, s.id, 0, nil); err != nil {
		m.remove(s)
		return nil, err
	}
	return s, nil
}

// writeFrame writes one frame; a failed or late write ends the link.
func (m *Mux) writeFrame(typ byte, flags uint16, id, length uint32, body []byte) error {
	var h [muxHeader]byte
	h[1] = typ
	binary.BigEndian.PutUint16(h[2:], flags)
	binary.BigEndian.PutUint32(h[4:], id)
	binary.BigEndian.PutUint32(h[8:], length)
	m.wmu.Lock()
	defer m.wmu.Unlock()
	select {
	case <-m.done:
		return ErrMuxClosed
	default:
	}
	m.conn.SetWriteDeadline(time.Now().Add(m.opts.WriteTimeout))
	var err error
	if lc, ok := m.conn.(*LinkConn); ok && len(body) > maxRecord {
		err = lc.writeGathered(h[:], body)
	} else {
		_, err = m.conn.Write(h[:])
		if err == nil && len(body) > 0 {
			_, err = m.conn.Write(body)
		}
	}
	if err != nil {
		m.closeWith(err)
		return ErrMuxClosed
	}
	return nil
}

// Stream is one stream of a Mux: a net.Conn whose Close ends only this
// side's writing (as a yamux stream's), the peer's reads ending with EOF;
// reads here go on until the peer closes too, or a deadline.
type Stream struct {
	m       *Mux
	id      uint32
	remote  bool                      // the peer opened it
	writeCh chan struct{}             // a writer waiting for window or a deadline
	readCh  chan struct{}             // a reader waiting for data or a deadline
	wmu     sync.Mutex                // one Write at a time
	frames  func(Kind, []byte, error) // the reader's: see OnFrames
	pending []byte                    // the reader's: a frame not complete yet
	ended   bool                      // the reader's: frames was told the end

	mu            sync.Mutex
	acked         bool        // guarded by mu: the peer accepted it
	localClosed   bool        // guarded by mu: this side sent FIN
	remoteClosed  bool        // guarded by mu: the peer sent FIN
	reset         bool        // guarded by mu
	gone          bool        // guarded by mu: the link closed
	buf           []chunk     // guarded by mu: data for Read
	buffered      int         // guarded by mu
	recvWindow    uint32      // guarded by mu: what the peer may send
	sendWindow    uint32      // guarded by mu
	readDeadline  time.Time   // guarded by mu
	writeDeadline time.Time   // guarded by mu
	openTimer     *time.Timer // guarded by mu
	closeTimer    *time.Timer // guarded by mu
}

func newStream(m *Mux, id uint32) *Stream {
	return &Stream{m: m, id: id, recvWindow: muxWindow, sendWindow: muxWindow,
		writeCh: make(chan struct{}, 1), readCh: make(chan struct{}, 1)}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// OnFrames makes the reader pass the agentwire frames that come on s to
// fn, in its own goroutine, instead of keeping them for Read: fn must not
// block. After the last frame fn is called once with an error: io.EOF
// when the peer closed the stream, a *FrameError for a frame that breaks
// agentwire's framing (the rest of the stream is dropped; fn closes it),
// ErrStreamReset, or ErrMuxClosed. Once this side closed the stream, fn
// is not called again, and data that still comes resets it. Call it only
// from Accept.
func (s *Stream) OnFrames(fn func(kind Kind, p []byte, err error)) {
	s.frames = fn
}

// data reads a data frame of n bytes for s.
func (s *Stream) data(n uint32) error {
	s.mu.Lock()
	if n > s.recvWindow {
		s.mu.Unlock()
		return &ProtocolError{Reason: fmt.Sprintf("%d bytes for stream %d, over its window of %d", n, s.id, s.recvWindow)}
	}
	if s.frames != nil {
		s.recvWindow -= n
		s.mu.Unlock()
		return s.pushFrames(n)
	}
	s.mu.Unlock()
	c := getChunk(int(n))
	if _, err := io.ReadFull(s.m.conn, c.p); err != nil {
		putChunk(c)
		return err
	}
	// The window shrinks as the data is kept, not before: Read, which
	// gives it back, must not count data still on its way as read.
	s.mu.Lock()
	s.recvWindow -= n
	if !s.reset && !s.gone {
		s.buf = append(s.buf, c)
		s.buffered += len(c.p)
	} else {
		putChunk(c)
	}
	s.mu.Unlock()
	notify(s.readCh)
	return nil
}

// pushFrames reads n bytes for a stream whose frames go to a handler, and
// passes on the frames they complete.
func (s *Stream) pushFrames(n uint32) error {
	start := len(s.pending)
	s.pending = append(s.pending, make([]byte, n)...)
	if _, err := io.ReadFull(s.m.conn, s.pending[start:]); err != nil {
		return err
	}
	s.mu.Lock()
	closed := s.localClosed && !s.reset
	if closed {
		// This side closed it and is not reading: the peer's writes
		// fail rather than go nowhere.
		s.reset = true
		if s.closeTimer != nil {
			s.closeTimer.Stop()
		}
	}
	s.mu.Unlock()
	if closed {
		s.pending = nil
		s.m.remove(s)
		return s.m.writeFrame(muxTypeWindow, muxFlagRST, s.id, 0, nil)
	}
	if s.ended {
		s.pending = nil
	}
	for !s.ended && len(s.pending) >= 4 {
		size := binary.BigEndian.Uint32(s.pending)
		if err := frameSize(size, s.pending[4:]); err != nil {
			s.endFrames(err)
			break
		}
		if len(s.pending) < int(4+size) {
			break
		}
		kind, p := Kind(s.pending[4]), s.pending[5:4+size]
		s.pending = s.pending[4+size:]
		s.frames(kind, p, nil)
	}
	if len(s.pending) == 0 || s.ended {
		s.pending = nil // an idle stream keeps no buffer
	}
	// The data is taken: give the window back as yamux does, once half
	// of it is used.
	s.windowUpdate()
	return nil
}

// frameSize checks a frame's length (the kind byte and the payload) and
// its kind, when rest holds it, against ReadFrame's bounds.
func frameSize(n uint32, rest []byte) error {
	if n == 0 {
		return &FrameError{Reason: "empty frame"}
	}
	if n-1 > MaxFrame {
		return &FrameError{Reason: fmt.Sprintf("frame of %d bytes is over %d", n-1, MaxFrame)}
	}
	if len(rest) == 0 {
		return nil
	}
	switch Kind(rest[0]) {
	case KindData:
	case KindJSON:
		if n-1 > MaxControl {
			return &FrameError{Reason: fmt.Sprintf("control message of %d bytes is over %d", n-1, MaxControl)}
		}
	default:
		return &FrameError{Reason: fmt.Sprintf("unknown frame kind 0x%02x", rest[0])}
	}
	return nil
}

// endFrames tells the handler the end, once, unless this side closed
// the stream.
func (s *Stream) endFrames(err error) {
	if s.frames == nil || s.ended {
		return
	}
	s.ended = true
	if errors.Is(err, io.EOF) && len(s.pending) > 0 {
		err = io.ErrUnexpectedEOF
	}
	s.pending = nil
	s.mu.Lock()
	closed := s.localClosed
	s.mu.Unlock()
	if !closed {
		s.frames(0, nil, err)
	}
}

// answered marks a stream this side opened as known to the peer, as a
// frame of the peer on it says: its ACK, or any other frame. yamux sends
// no ACK for a stream whose FIN came before it was accepted (it is no
// longer "SYN received" then), and its answer must not leave the open
// timer to end the link.
func (s *Stream) answered() {
	s.mu.Lock()
	s.acked = true
	if s.openTimer != nil {
		s.openTimer.Stop()
	}
	s.mu.Unlock()
}

// flags applies a frame's ACK, FIN and RST to s.
func (s *Stream) flags(f uint16) {
	if f&(muxFlagACK|muxFlagFIN|muxFlagRST) == 0 {
		return
	}
	s.mu.Lock()
	if f&muxFlagACK != 0 {
		s.acked = true
	}
	done := false
	if f&muxFlagFIN != 0 && !s.remoteClosed {
		s.remoteClosed = true
		done = s.localClosed
	}
	if f&muxFlagRST != 0 {
		s.reset, done = true, true
	}
	if done && s.closeTimer != nil {
		s.closeTimer.Stop()
	}
	if f&muxFlagACK != 0 && s.openTimer != nil {
		s.openTimer.Stop()
	}
	s.mu.Unlock()
	if done {
		s.m.remove(s)
	}
	if f&muxFlagRST != 0 {
		s.endFrames(ErrStreamReset)
	} else if f&muxFlagFIN != 0 {
		s.endFrames(io.EOF)
	}
	notify(s.readCh)
	notify(s.writeCh)
}

// forceClose ends s as the link closes.
func (s *Stream) forceClose() {
	s.mu.Lock()
	s.gone = true
	if s.closeTimer != nil {
		s.closeTimer.Stop()
	}
	if s.openTimer != nil {
		s.openTimer.Stop()
	}
	s.mu.Unlock()
	notify(s.readCh)
	notify(s.writeCh)
}

// windowUpdate gives the peer back the window Read or the handler
// freed, once it is half of it.
func (s *Stream) windowUpdate() {
	s.mu.Lock()
	delta := muxWindow - s.buffered - int(s.recvWindow)
	if delta < muxWindow/2 || s.gone || s.reset {
		s.mu.Unlock()
		return
	}
	s.recvWindow += uint32(delta)
	s.mu.Unlock()
	s.m.writeFrame(muxTypeWindow, 0, s.id, uint32(delta), nil)
}

// wait waits for ch, the link's end or the deadline dl.
func (s *Stream) wait(ch chan struct{}, dl time.Time) error {
	var timeout <-chan time.Time
	if !dl.IsZero() {
		d := time.Until(dl)
		if d <= 0 {
			return muxTimeout{}
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ch:
	case <-s.m.done:
	case <-timeout:
		return muxTimeout{}
	}
	return nil
}

// Read reads data the peer sent; io.EOF once it closed the stream.
func (s *Stream) Read(p []byte) (int, error) {
	for {
		s.mu.Lock()
		if s.buffered > 0 {
			n := 0
			for n < len(p) && len(s.buf) > 0 {
				c := copy(p[n:], s.buf[0].p)
				n += c
				if s.buf[0].p = s.buf[0].p[c:]; len(s.buf[0].p) == 0 {
					putChunk(s.buf[0])
					s.buf[0] = chunk{}
					s.buf = s.buf[1:]
				}
			}
			s.buffered -= n
			if s.buffered == 0 {
				s.buf = nil
			}
			s.mu.Unlock()
			s.windowUpdate()
			return n, nil
		}
		switch {
		case s.reset:
			s.mu.Unlock()
			return 0, ErrStreamReset
		case s.remoteClosed || s.gone:
			s.mu.Unlock()
			return 0, io.EOF
		}
		dl := s.readDeadline
		s.mu.Unlock()
		if err := s.wait(s.readCh, dl); err != nil {
			return 0, err
		}
	}
}

// Write writes p to the peer within the stream's window.
func (s *Stream) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	total := 0
	for total < len(p) {
		s.mu.Lock()
		switch {
		case s.reset:
			s.mu.Unlock()
			return total, ErrStreamReset
		case s.localClosed || s.gone:
			s.mu.Unlock()
			return total, ErrStreamClosed
		}
		if s.sendWindow == 0 {
			dl := s.writeDeadline
			s.mu.Unlock()
			if err := s.wait(s.writeCh, dl); err != nil {
				return total, err
			}
			continue
		}
		n := min(int(s.sendWindow), len(p)-total)
		s.sendWindow -= uint32(n)
		s.mu.Unlock()
		if err := s.m.writeFrame(muxTypeData, 0, s.id, uint32(n), p[total:total+n]); err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// Close ends this side's writing (the peer reads EOF); see Stream.
func (s *Stream) Close() error {
	s.mu.Lock()
	if s.localClosed || s.reset || s.gone {
		s.mu.Unlock()
		return nil
	}
	s.localClosed = true
	both := s.remoteClosed
	if !both {
		s.closeTimer = time.AfterFunc(s.m.opts.CloseTimeout, s.closeTimeout)
	}
	s.mu.Unlock()
	notify(s.writeCh)
	err := s.m.writeFrame(muxTypeWindow, muxFlagFIN, s.id, 0, nil)
	if both {
		s.m.remove(s)
	}
	return err
}

// closeTimeout resets a stream the peer did not close in time.
func (s *Stream) closeTimeout() {
	s.mu.Lock()
	s.reset = true
	for _, c := range s.buf {
		putChunk(c)
	}
	s.buf, s.buffered = nil, 0
	s.mu.Unlock()
	s.m.remove(s)
	notify(s.readCh)
	s.m.writeFrame(muxTypeWindow, muxFlagRST, s.id, 0, nil)
}

// SetDeadline sets the read and write deadlines.
func (s *Stream) SetDeadline(t time.Time) error {
	s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline of Read.
func (s *Stream) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	s.readDeadline = t
	s.mu.Unlock()
	notify(s.readCh)
	return nil
}

// SetWriteDeadline sets the deadline of Write waiting for window.
func (s *Stream) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	s.writeDeadline = t
	s.mu.Unlock()
	notify(s.writeCh)
	return nil
}

// LocalAddr and RemoteAddr are the link's.
func (s *Stream) LocalAddr() net.Addr  { return s.m.conn.LocalAddr() }
func (s *Stream) RemoteAddr() net.Addr { return s.m.conn.RemoteAddr() }

var _ net.Conn = (*Stream)(nil)

// chunk is the data of one frame kept for Read: p, in the buffer home
// from chunkPools when it came from there.
type chunk struct {
	p    []byte
	home *[]byte
}

// chunkPools hold the buffers of frames of 4 KiB << i bytes or less, so
// that a bulk stream does not allocate a buffer for each frame.
var chunkPools [7]sync.Pool

func getChunk(n int) chunk {
	if n <= 1<<10 {
		return chunk{p: make([]byte, n)}
	}
	i := 0
	for 4<<10<<i < n {
		i++
	}
	if i >= len(chunkPools) {
		return chunk{p: make([]byte, n)}
	}
	home, _ := chunkPools[i].Get().(*[]byte)
	if home == nil {
		b := make([]byte, 4<<10<<i)
		home = &b
	}
	return chunk{p: (*home)[:n], home: home}
}

func putChunk(c chunk) {
	if c.home == nil {
		return
	}
	for i := range chunkPools {
		if cap(*c.home) == 4<<10<<i {
			chunkPools[i].Put(c.home)
			return
		}
	}
}
