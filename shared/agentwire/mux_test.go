package agentwire

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
)

// muxPair links a Mux (the leaf's side) and a hashicorp/yamux client (the
// agent's) over loopback TCP. accepted gets the streams the client opens
// that accept does not take as framed streams.
type muxPair struct {
	mux      *Mux
	client   *yamux.Session
	accepted chan *Stream
	ran      chan error
}

func newMuxPair(t *testing.T, accept func(*Stream) bool, opts MuxOptions) *muxPair {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	p := &muxPair{accepted: make(chan *Stream, 16), ran: make(chan error, 1)}
	opts.Accept = func(s *Stream) {
		if accept == nil || !accept(s) {
			p.accepted <- s
		}
	}
	p.mux = NewMux(&dribble{Conn: sc}, opts)
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	cfg.KeepAliveInterval = 50 * time.Millisecond
	p.client, err = yamux.Client(cc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	go func() { p.ran <- p.mux.Run() }()
	t.Cleanup(func() {
		p.client.Close()
		p.mux.Close()
		<-p.ran
	})
	return p
}

// dribble is a connection whose reads return at most 1 KiB and let other
// goroutines run first, so that a frame takes many reads to come in.
type dribble struct{ net.Conn }

func (d *dribble) Read(p []byte) (int, error) {
	runtime.Gosched()
	return d.Conn.Read(p[:min(len(p), 1<<10)])
}

// Streams both ways carry their bytes, far more than a window, with the
// client reading slowly; closing one side's writing gives the other EOF
// and leaves its reading; the client's keepalive pings are answered.
func TestMuxCarriesStreamsBothWaysWithYamux(t *testing.T) {
	p := newMuxPair(t, nil, MuxOptions{})
	big := make([]byte, 3<<20)
	rand.Read(big)

	// The leaf opens; the agent echoes.
	go func() {
		st, err := p.client.AcceptStream()
		if err != nil {
			return
		}
		io.Copy(st, st)
		st.Close()
	}()
	st, err := p.mux.Open()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(st); got <- b }()
	if n, err := st.Write(big); err != nil || n != len(big) {
		t.Fatalf("write %d, %v", n, err)
	}
	st.Close()
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("echo: %d bytes, want the %d written", len(b), len(big))
	}
	if _, err := st.Write([]byte("x")); !errors.Is(err, ErrStreamClosed) {
		t.Errorf("write after close: %v", err)
	}

	// The agent opens; the leaf reads it through Read and answers.
	cs, err := p.client.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	go func() { cs.Write(big); cs.Close() }()
	ss := <-p.accepted
	// Small reads, each giving window back while frames come in.
	var got2 bytes.Buffer
	_, err = io.CopyBuffer(&got2, struct{ io.Reader }{ss}, make([]byte, 1000))
	if b := got2.Bytes(); err != nil || !bytes.Equal(b, big) {
		t.Fatalf("agent to leaf: %d bytes, %v", len(b), err)
	}
	select {
	case <-p.mux.Done():
		t.Fatal("the link closed")
	default:
	}
	ss.Write([]byte("bye"))
	ss.Close()
	if b, err := io.ReadAll(cs); err != nil || string(b) != "bye" {
		t.Fatalf("leaf to agent after the agent closed: %q, %v", b, err)
	}

	// Keepalives: the client's pings come every 50ms and end its session
	// when unanswered.
	time.Sleep(300 * time.Millisecond)
	if p.client.IsClosed() {
		t.Fatal("the client's keepalive ended its session")
	}
	if _, err := p.client.Ping(); err != nil {
		t.Fatal(err)
	}
}

// Deadlines: a Read with nothing to read and a Write with no window
// fail with a timeout once their deadline passes, and the stream works on.
func TestMuxDeadlines(t *testing.T) {
	p := newMuxPair(t, nil, MuxOptions{})
	st, err := p.mux.Open()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := p.client.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	st.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err = st.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v", err)
	}
	// The agent reads nothing: the window (256 KiB) fills.
	st.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	n, err := st.Write(make([]byte, 1<<20))
	if !errors.As(err, &ne) || !ne.Timeout() || n != 256<<10 {
		t.Fatalf("write past the window: %d, %v", n, err)
	}
	st.SetDeadline(time.Time{})
	go io.Copy(io.Discard, cs)
	if _, err := st.Write(make([]byte, 1<<20)); err != nil {
		t.Fatalf("write once the agent reads: %v", err)
	}
	cs.Write([]byte("a"))
	if _, err := io.ReadFull(st, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
}

// Framed streams: the frames the agent writes reach the handler, in the
// reader, however yamux cuts them, and the end is told once: EOF when the
// agent closes, a FrameError for a bad frame; a reset stream reads
// ErrStreamReset; a closed link ends every stream and Run says why.
func TestMuxFramedStreams(t *testing.T) {
	type ev struct {
		kind Kind
		p    string
		err  error
	}
	evs := make(chan ev, 64)
	p := newMuxPair(t, func(s *Stream) bool {
		s.OnFrames(func(kind Kind, b []byte, err error) {
			evs <- ev{kind, string(b), err}
			var fe *FrameError
			if errors.As(err, &fe) {
				s.Close()
			}
		})
		return true
	}, MuxOptions{})
	cs, err := p.client.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	WriteJSON(&buf, Open{Type: OpenState})
	WriteFrame(&buf, KindData, bytes.Repeat([]byte("d"), 40000))
	for _, c := range buf.Bytes() { // a byte at a time: frames cut anywhere
		if _, err := cs.Write([]byte{c}); err != nil {
			t.Fatal(err)
		}
	}
	cs.Close()
	if e := <-evs; e.kind != KindJSON || e.p != `{"type":"state"}` {
		t.Fatalf("first frame %+v", e)
	}
	if e := <-evs; e.kind != KindData || len(e.p) != 40000 {
		t.Fatalf("second frame %c %d bytes", e.kind, len(e.p))
	}
	if e := <-evs; !errors.Is(e.err, io.EOF) {
		t.Fatalf("end %+v", e)
	}

	bad, _ := p.client.OpenStream()
	bad.Write([]byte{0, 0, 0, 2, 'x', 'y'})
	if e := <-evs; e.err == nil || e.err.Error() != "bad agent frame: unknown frame kind 0x78" {
		t.Fatalf("bad frame: %+v", e)
	}
	bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := bad.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("the agent's side of a stream closed for a bad frame reads %v", err)
	}
	// What comes after resets it, the handler not called again.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err := bad.Write([]byte("more")); errors.Is(err, yamux.ErrConnectionReset) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("writes on a stream the leaf closed are not reset")
		}
		time.Sleep(10 * time.Millisecond)
	}

	open, _ := p.client.OpenStream()
	open.Write([]byte{0, 0})
	st, err := p.mux.Open()
	if err != nil {
		t.Fatal(err)
	}
	cst, _ := p.client.AcceptStream()
	cst.Write([]byte("x")) // yamux's first write acknowledges; then reset
	cst.Close()
	p.client.Close()
	if err := <-p.ran; err == nil {
		t.Fatal("Run returned no reason")
	}
	p.ran <- nil
	if e := <-evs; !errors.Is(e.err, ErrMuxClosed) {
		t.Fatalf("an open framed stream at the link's end: %+v", e)
	}
	select {
	case e := <-evs:
		t.Fatalf("one more event: %+v", e)
	default:
	}
	b, err := io.ReadAll(st)
	if string(b) != "x" || err != nil {
		t.Fatalf("a stream at the link's end reads what came, then EOF: %q, %v", b, err)
	}
	if _, err := st.Write([]byte("x")); err == nil {
		t.Fatal("write on a closed link")
	}
	if _, err := p.mux.Open(); !errors.Is(err, ErrMuxClosed) {
		t.Fatalf("open on a closed link: %v", err)
	}
}

// A stream the agent resets reads ErrStreamReset; the agent's streams are
// bounded by MaxIncoming, past which they are reset at once.
func TestMuxResetAndMaxIncoming(t *testing.T) {
	p := newMuxPair(t, nil, MuxOptions{MaxIncoming: 2})
	a, _ := p.client.OpenStream()
	b, _ := p.client.OpenStream()
	a.Write([]byte("a"))
	b.Write([]byte("b"))
	sa, sb := <-p.accepted, <-p.accepted
	c, _ := p.client.OpenStream()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, yamux.ErrConnectionReset) {
		t.Fatalf("a third stream: %v", err)
	}
	io.ReadFull(sa, make([]byte, 1))
	io.ReadFull(sb, make([]byte, 1))
	// A stream closed both ways frees its slot.
	a.Close()
	sa.Close()
	var d *yamux.Stream
	for deadline := time.Now().Add(5 * time.Second); ; {
		d, _ = p.client.OpenStream()
		d.Write([]byte("d"))
		select {
		case s := <-p.accepted:
			if _, err := io.ReadFull(s, make([]byte, 1)); err != nil {
				t.Fatal(err)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no slot after a stream closed both ways")
		}
	}
}

// A peer that breaks the protocol ends the link with a ProtocolError:
// data over a stream's window, a stream opened with the leaf's ids, a
// stream opened twice, an unknown frame type.
func TestMuxProtocolErrors(t *testing.T) {
	frame := func(typ byte, flags uint16, id, length uint32) []byte {
		h := make([]byte, 12)
		h[1] = typ
		h[2], h[3] = byte(flags>>8), byte(flags)
		h[4], h[5], h[6], h[7] = byte(id>>24), byte(id>>16), byte(id>>8), byte(id)
		h[8], h[9], h[10], h[11] = byte(length>>24), byte(length>>16), byte(length>>8), byte(length)
		return h
	}
	for name, in := range map[string][]byte{
		"over the window": append(frame(muxTypeWindow, muxFlagSYN, 1, 0), frame(muxTypeData, 0, 1, muxWindow+1)...),
		"an even id":      frame(muxTypeWindow, muxFlagSYN, 2, 0),
		"opened twice":    append(frame(muxTypeWindow, muxFlagSYN, 1, 0), frame(muxTypeWindow, muxFlagSYN, 1, 0)...),
		"unknown type":    frame(7, 0, 0, 0),
		"version":         {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"go away":         frame(muxTypeGoAway, 0, 0, muxGoAwayProtoErr),
		"unknown stream":  frame(muxTypeData, 0, 9, muxWindow+1),
	} {
		c1, c2 := net.Pipe()
		m := NewMux(c1, MuxOptions{Accept: func(*Stream) {}})
		go io.Copy(io.Discard, c2)
		ran := make(chan error, 1)
		go func() { ran <- m.Run() }()
		c2.Write(in)
		var pe *ProtocolError
		if err := <-ran; !errors.As(err, &pe) {
			t.Errorf("%s: Run returned %v", name, err)
		}
		c2.Close()
	}
}

// A stream the leaf opens is answered by any frame of the peer on it, not
// only its ACK: yamux acknowledges a stream when it is accepted, and sends
// no ACK at all for one whose data and FIN came before that (as the
// owner's keys do: open, write, close). The open timer must not end the
// link then.
func TestMuxStreamAnsweredWithoutACK(t *testing.T) {
	c1, c2 := net.Pipe()
	defer c2.Close()
	const openTimeout = 100 * time.Millisecond
	m := NewMux(c1, MuxOptions{OpenTimeout: openTimeout})
	ran := make(chan error, 1)
	go func() { ran <- m.Run() }()
	defer func() { m.Close(); <-ran }()
	go io.Copy(io.Discard, c2) // the peer reads the SYN and what follows
	s, err := m.Open()
	if err != nil {
		t.Fatal(err)
	}
	// The peer's answer: a byte of data, then FIN, and never an ACK.
	data := []byte{0, muxTypeData, 0, 0, 0, 0, 0, byte(s.id), 0, 0, 0, 1, 'k'}
	fin := []byte{0, muxTypeWindow, 0, muxFlagFIN, 0, 0, 0, byte(s.id), 0, 0, 0, 0}
	if _, err := c2.Write(append(data, fin...)); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(s); err != nil || string(b) != "k" {
		t.Fatalf("the stream read %q, %v; want k and EOF", b, err)
	}
	s.Close()
	select {
	case <-m.Done():
		t.Fatal("the link closed although the peer answered the stream")
	case <-time.After(5 * openTimeout):
	}
}

// Any bytes from the peer end the link or not, and never crash the leaf.
func FuzzMux(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 6, 0, 0, 0, 2, 'j', '{'})
	f.Add([]byte{0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7})
	f.Fuzz(func(t *testing.T, in []byte) {
		c1, c2 := net.Pipe()
		var wg sync.WaitGroup
		m := NewMux(c1, MuxOptions{WriteTimeout: time.Second, Accept: func(s *Stream) {
			if s.id%4 == 1 {
				s.OnFrames(func(Kind, []byte, error) {})
			}
		}})
		wg.Go(func() { io.Copy(io.Discard, c2) })
		ran := make(chan error, 1)
		go func() { ran <- m.Run() }()
		c2.Write(in)
		c2.Close()
		<-ran
		wg.Wait()
	})
}

// The window a stream gives back is what Read freed, never data still on
// its way: with a frame half read, a Read of what came before grants the
// peer only the room left, so that the peer's window and the data in
// flight never pass the 256 KiB the stream holds.
func TestMuxWindowCountsDataOnItsWay(t *testing.T) {
	c1, c2 := net.Pipe()
	defer c2.Close()
	accepted := make(chan *Stream, 1)
	m := NewMux(c1, MuxOptions{Accept: func(s *Stream) { accepted <- s }})
	ran := make(chan error, 1)
	go func() { ran <- m.Run() }()
	defer func() { m.Close(); <-ran }()
	var mu sync.Mutex
	granted := 0
	go func() { // the peer's reader: the windows the leaf grants stream 1
		h := make([]byte, 12)
		for {
			if _, err := io.ReadFull(c2, h); err != nil {
				return
			}
			if h[1] == muxTypeWindow && h[7] == 1 {
				mu.Lock()
				granted += int(h[8])<<24 | int(h[9])<<16 | int(h[10])<<8 | int(h[11])
				mu.Unlock()
			}
		}
	}()
	frame := func(typ byte, flags uint16, length int) []byte {
		return []byte{0, typ, byte(flags >> 8), byte(flags), 0, 0, 0, 1, byte(length >> 24), byte(length >> 16), byte(length >> 8), byte(length)}
	}
	c2.Write(frame(muxTypeWindow, muxFlagSYN, 0))
	s := <-accepted
	c2.Write(append(frame(muxTypeData, 0, 200<<10), make([]byte, 200<<10)...)) // window 256 → 56 KiB
	if _, err := io.ReadFull(s, make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	// A frame of the 56 KiB left, its first KiB sent: the reader waits
	// for the rest.
	c2.Write(append(frame(muxTypeData, 0, 56<<10), make([]byte, 1<<10)...))
	if _, err := io.ReadFull(s, make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	// 200 KiB read, 56 KiB on its way: at most 200 KiB granted.
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		g := granted
		mu.Unlock()
		if g > 200<<10 {
			t.Fatalf("%d KiB granted with 56 KiB of the 256 KiB on its way", g>>10)
		}
		if g == 200<<10 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	c2.Write(make([]byte, 55<<10))
	if _, err := io.ReadFull(s, make([]byte, 56<<10)); err != nil {
		t.Fatal(err)
	}
}

// A framed stream decodes what ReadFrame decodes, however the bytes are
// cut into yamux frames: the same frames, then the same end (EOF, the
// same FrameError, or io.ErrUnexpectedEOF for a frame cut short).
func FuzzFramedStreamMatchesReadFrame(f *testing.F) {
	var seed bytes.Buffer
	WriteJSON(&seed, Open{Type: OpenLogs})
	WriteFrame(&seed, KindData, []byte("hello"))
	f.Add(seed.Bytes(), uint16(3))
	f.Add([]byte{0, 0, 0, 0}, uint16(1))
	f.Add([]byte{0, 0, 0, 2, 'q', 'x'}, uint16(5))
	f.Add([]byte{0, 0, 0, 9, 'd', 1}, uint16(0))
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		if len(in) > 64<<10 {
			return
		}
		var want []string
		r := bytes.NewReader(in)
		var wantEnd error
		for {
			k, p, err := ReadFrame(r)
			if err != nil {
				wantEnd = err
				break
			}
			want = append(want, string(k)+string(p))
		}

		c1, c2 := net.Pipe()
		defer c2.Close()
		var got []string
		var gotEnd error
		ended := make(chan struct{})
		m := NewMux(c1, MuxOptions{Accept: func(s *Stream) {
			s.OnFrames(func(k Kind, p []byte, err error) {
				if err != nil {
					gotEnd = err
					close(ended)
					return
				}
				got = append(got, string(k)+string(p))
			})
		}})
		go io.Copy(io.Discard, c2)
		ran := make(chan error, 1)
		go func() { ran <- m.Run() }()
		frame := func(flags uint16, body []byte) []byte {
			n := len(body)
			return append([]byte{0, muxTypeData, byte(flags >> 8), byte(flags), 0, 0, 0, 1, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, body...)
		}
		at := min(int(cut), len(in))
		c2.Write(frame(muxFlagSYN, in[:at]))
		c2.Write(frame(0, in[at:]))
		c2.Write(frame(muxFlagFIN, nil))
		<-ended
		c2.Close()
		<-ran
		if len(got) != len(want) {
			t.Fatalf("%d frames, ReadFrame %d", len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("frame %d: %q, ReadFrame %q", i, got[i], want[i])
			}
		}
		var fe *FrameError
		switch {
		case errors.As(wantEnd, &fe):
			if gotEnd == nil || gotEnd.Error() != wantEnd.Error() {
				t.Fatalf("end %v, ReadFrame %v", gotEnd, wantEnd)
			}
		case !errors.Is(gotEnd, wantEnd):
			t.Fatalf("end %v, ReadFrame %v", gotEnd, wantEnd)
		}
	})
}
