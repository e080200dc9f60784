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
		if _, err := io.Copy(conn, st); err != nil {
			conn.Close() // the stream was reset or the link broke
			return
		}
		conn.CloseWrite()
	})
	io.Copy(st, conn)
	st.Close() // our writing ends; reading goes on until the leaf's does
	wg.Wait()
}
