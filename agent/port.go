package agent

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/knot-dev/knot/shared/agentwire"
)

// MaxPortStreams bounds the port streams an agent serves at once; one
// more is refused with the reason.
const MaxPortStreams = 256

// portDialTimeout bounds the dial of a port in the space.
const portDialTimeout = 10 * time.Second

// ports counts the port streams an agent serves.
type ports struct {
	mu   sync.Mutex
	open int // guarded by mu
}

func (p *ports) acquire() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open >= MaxPortStreams {
		return false
	}
	p.open++
	return true
}

func (p *ports) release() {
	p.mu.Lock()
	p.open--
	p.mu.Unlock()
}

// servePort dials 127.0.0.1:port in the space and pipes the stream to
// it until both directions ended: the end of one direction's input
// closes the other side's writing (a TCP half-close, a yamux FIN).
func (a *Agent) servePort(st *yamux.Stream, port int) {
	if !a.ports.acquire() {
		agentwire.WriteJSON(st, agentwire.Opened{Error: fmt.Sprintf("the agent already serves %d forwarded connections", MaxPortStreams)})
		return
	}
	defer a.ports.release()
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), portDialTimeout)
	if err != nil {
		agentwire.WriteJSON(st, agentwire.Opened{Error: fmt.Sprintf("nothing answers on port %d in the space: %v", port, err)})
		return
	}
	conn := c.(*net.TCPConn)
	defer conn.Close()
	if err := agentwire.WriteJSON(st, agentwire.Opened{ID: "port"}); err != nil {
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := copyBulk(conn, st); err != nil {
			conn.Close() // the stream was reset or the link broke
			return
		}
		conn.CloseWrite()
	})
	copyBulk(st, conn)
	st.Close() // our writing ends; reading goes on until the leaf's does
	wg.Wait()
}

// copyBufs are the buffers of copyBulk: a frame on the agent link is as
// large as what one Write gives yamux (up to the stream's window), and
// each costs a header and a write to the socket, so the bigger the
// better; io.Copy's 32 KiB, which net.TCPConn's WriteTo and ReadFrom use
// whatever buffer they are given, costs eight frames per window.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

// copyBulk copies from src to dst, as io.Copy does, through a buffer of
// copyBufs.
func copyBulk(dst io.Writer, src io.Reader) (int64, error) {
	b := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(b)
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *b)
}
