package testenv

import (
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
)

// Proxy forwards a loopback port to a server on another loopback port, so
// that a test can take the server away from a client and bring it back:
// Cut closes the port and every connection through it, Restore opens the
// port again.
type Proxy struct {
	// Port is the loopback port that clients connect to.
	Port   int
	target int

	mu    sync.Mutex
	l     net.Listener // guarded by mu; nil while cut
	conns []net.Conn   // guarded by mu
	wg    sync.WaitGroup
}

// NewProxy starts forwarding a new loopback port to target, until tb ends.
func NewProxy(tb testing.TB, target int) *Proxy {
	tb.Helper()
	p := &Proxy{target: target}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p.Port = l.Addr().(*net.TCPAddr).Port
	p.serve(l)
	tb.Cleanup(func() {
		p.Cut()
		p.wg.Wait()
	})
	return p
}

func (p *Proxy) serve(l net.Listener) {
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.target)))
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Go(func() { io.Copy(up, c); up.Close() })
			p.wg.Go(func() { io.Copy(c, up); c.Close() })
		}
	})
}

// Cut closes the port and every connection through it, as a server that
// went away.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Restore opens the port again after Cut.
func (p *Proxy) Restore(tb testing.TB) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p.Port))
	if err != nil {
		tb.Fatalf("listen again on port %d: %v", p.Port, err)
	}
	p.serve(l)
}
