package leaf

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/shared"
)

// fakeViewer is a viewer's websocket: Read returns what in sends, until
// Close, which it records.
type fakeViewer struct {
	in     chan []byte // binary messages from the viewer
	texts  chan []byte // text messages from the viewer
	closed chan struct{}

	mu    sync.Mutex
	code  websocket.StatusCode // guarded by mu: of the first Close
	wrote [][]byte             // guarded by mu
}

func newFakeViewer() *fakeViewer {
	return &fakeViewer{in: make(chan []byte, 4), texts: make(chan []byte, 4), closed: make(chan struct{})}
}

func (v *fakeViewer) Read(ctx context.Context) (websocket.MessageType, []byte, error) {
	select {
	case b := <-v.in:
		return websocket.MessageBinary, b, nil
	case b := <-v.texts:
		return websocket.MessageText, b, nil
	case <-v.closed:
		return 0, nil, errors.New("closed")
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
}

func (v *fakeViewer) Write(ctx context.Context, _ websocket.MessageType, p []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.wrote = append(v.wrote, p)
	return nil
}

func (v *fakeViewer) Close(code websocket.StatusCode, _ string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.code == 0 {
		v.code = code
		close(v.closed)
	}
	return nil
}

func (v *fakeViewer) closeCode() websocket.StatusCode {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.code
}

// A pump that the server stops at shutdown ends for that reason, and its
// viewer hears 1001, but for SSH, whose websocket ends with 1000 as it
// always does.
func TestPumpsEndAtShutdown(t *testing.T) {
	for _, tt := range []struct {
		name  string
		relay func(context.Context, Viewer, net.Conn, <-chan struct{}) string
		want  websocket.StatusCode
	}{
		{"terminal", func(ctx context.Context, v Viewer, c net.Conn, stop <-chan struct{}) string {
			return RelayTerminal(ctx, v, &TerminalStream{ID: "t1", ReadWriteCloser: c}, stop)
		}, websocket.StatusGoingAway},
		{"port", func(ctx context.Context, v Viewer, c net.Conn, stop <-chan struct{}) string {
			return RelayPort(ctx, v, &PortConn{Conn: c}, stop)
		}, websocket.StatusGoingAway},
		{"ssh", RelaySSH, websocket.StatusNormalClosure},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var pumps Pumps
			stop, done, err := pumps.Open()
			if err != nil {
				t.Fatal(err)
			}
			space, here := net.Pipe()
			defer space.Close()
			v := newFakeViewer()
			reason := make(chan string, 1)
			go func() {
				defer done()
				reason <- tt.relay(context.Background(), v, here, stop)
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			pumps.Close(ctx)
			select {
			case why := <-reason:
				if why != "the server is shutting down" || v.closeCode() != tt.want {
					t.Fatalf("ended for %q with close %d, want the shutdown and %d", why, v.closeCode(), tt.want)
				}
			case <-ctx.Done():
				t.Fatal("the pump did not end at shutdown")
			}
			if _, _, err := pumps.Open(); shared.ErrorCode(err) != shared.EUNAVAILABLE {
				t.Fatalf("Open after Close = %v, want EUNAVAILABLE", err)
			}
		})
	}
}

// The bytes a client sends over SSH reach the space; the space's end of
// writing reaches the client as {"type":"eof"}, while what the client
// sends still reaches the space; once the client ends its writing too,
// the connection ends with 1000, saying the space closed it first.
func TestRelaySSHCarriesBytesUntilTheSpaceCloses(t *testing.T) {
	space, here := net.Pipe()
	v := newFakeViewer()
	reason := make(chan string, 1)
	go func() { reason <- RelaySSH(context.Background(), v, here, nil) }()
	v.in <- []byte("SSH-2.0-client\r\n")
	buf := make([]byte, 64)
	n, err := space.Read(buf)
	if err != nil || string(buf[:n]) != "SSH-2.0-client\r\n" {
		t.Fatalf("the space read %q, %v", buf[:n], err)
	}
	// The space ends its writing: a pipe's CloseWrite is its Close.
	space.Close()
	waitWrote(t, v, `{"type":"eof"}`)
	v.texts <- []byte(`{"type":"eof"}`)
	select {
	case why := <-reason:
		if why != "the space closed it" || v.closeCode() != websocket.StatusNormalClosure {
			t.Fatalf("ended for %q with close %d", why, v.closeCode())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the relay did not end when both sides closed")
	}
}

// A client that ends its writing over SSH ({"type":"eof"}) still gets
// the space's answer, and its end; then the connection ends with 1000.
// Before, the client's end of writing ended the connection, answer or
// not.
func TestRelaySSHHalfCloseKeepsTheAnswer(t *testing.T) {
	space, here := tcpPair(t)
	v := newFakeViewer()
	reason := make(chan string, 1)
	go func() { reason <- RelaySSH(context.Background(), v, here, nil) }()
	v.in <- []byte("question")
	got := make([]byte, len("question"))
	if _, err := io.ReadFull(space, got); err != nil || string(got) != "question" {
		t.Fatalf("the space read %q, %v; want the question", got, err)
	}
	v.texts <- []byte(`{"type":"eof"}`)
	if rest, err := io.ReadAll(space); err != nil || len(rest) != 0 {
		t.Fatalf("after the client's half-close the space read %q, %v; want EOF", rest, err)
	}
	if _, err := space.Write([]byte("answer")); err != nil {
		t.Fatalf("the space cannot answer after the client's half-close: %v", err)
	}
	space.CloseWrite()
	waitWrote(t, v, "answer", `{"type":"eof"}`)
	select {
	case why := <-reason:
		if why != "the client closed it" || v.closeCode() != websocket.StatusNormalClosure {
			t.Fatalf("ended for %q with close %d", why, v.closeCode())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the relay did not end when both sides closed")
	}
}

// tcpPair returns the two ends of a loopback TCP connection, which,
// unlike a pipe, can be half-closed.
func tcpPair(t *testing.T) (a, b *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	d, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); d.Close() })
	return c.(*net.TCPConn), d.(*net.TCPConn)
}

// waitWrote waits until the viewer was sent want, in order, as the last
// messages.
func waitWrote(t *testing.T, v *fakeViewer, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v.mu.Lock()
		var got []string
		for _, b := range v.wrote {
			got = append(got, string(b))
		}
		v.mu.Unlock()
		if len(got) >= len(want) && slices.Equal(got[len(got)-len(want):], want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the viewer was sent %q, want %q last", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readerViewer is a fakeViewer that also hands out messages as readers,
// as *websocket.Conn does.
type readerViewer struct{ *fakeViewer }

func (v readerViewer) Reader(ctx context.Context) (websocket.MessageType, io.Reader, error) {
	typ, b, err := v.Read(ctx)
	if err != nil {
		return 0, nil, err
	}
	return typ, iotest.OneByteReader(bytes.NewReader(b)), nil
}

// A message read into a pump's buffer arrives whole up to the buffer's
// size, a message of exactly that size included, and a longer one is
// refused as too big.
func TestReadMessageIntoABuffer(t *testing.T) {
	v := readerViewer{newFakeViewer()}
	p := newPump(context.Background(), v, io.NopCloser(nil))
	defer p.cancel()
	buf := make([]byte, 8)
	for _, n := range []int{0, 7, 8} {
		want := bytes.Repeat([]byte{'x'}, n)
		v.in <- want
		_, got, err := p.readMessage(buf)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("a message of %d bytes into 8: %q, %v", n, got, err)
		}
	}
	v.in <- make([]byte, 9)
	if _, _, err := p.readMessage(buf); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("a message of 9 bytes into 8: %v, want too big", err)
	}
}
