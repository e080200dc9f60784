package runtimetest

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
)

// Proxy forwards a Unix socket of its own to an engine's socket, so that a
// test can cut the engine off (SetUp(false): the socket disappears and open
// connections drop) and bring it back, without stopping the engine that
// other tests use.
type Proxy struct {
	// Path is the proxy's socket; give "unix://" + Path to a client.
	Path   string
	target string
	dir    string

	mu    sync.Mutex
	ln    net.Listener          // guarded by mu; nil while down
	conns map[net.Conn]struct{} // guarded by mu
	wg    sync.WaitGroup
}

// NewProxy starts a proxy to the Unix socket at target, up.
func NewProxy(target string) (*Proxy, error) {
	dir, err := os.MkdirTemp("", "knot-proxy-")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Path: filepath.Join(dir, "engine.sock"), target: target, dir: dir, conns: map[net.Conn]struct{}{}}
	if err := p.SetUp(true); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return p, nil
}

// SetUp brings the proxy up (listening) or down (not listening, every
// connection closed).
func (p *Proxy) SetUp(up bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if up {
		if p.ln != nil {
			return nil
		}
		ln, err := net.Listen("unix", p.Path)
		if err != nil {
			return err
		}
		p.ln = ln
		p.wg.Add(1)
		go p.accept(ln)
		return nil
	}
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	return nil
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	up, err := net.Dial("unix", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c] = struct{}{}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	var once sync.Once
	closeBoth := func() { once.Do(func() { c.Close(); up.Close() }) }
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		if err == nil || errors.Is(err, net.ErrClosed) {
			// Half-close so the other direction can finish.
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
	closeBoth()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// Close stops the proxy and waits for its goroutines.
func (p *Proxy) Close() {
	p.SetUp(false)
	p.wg.Wait()
	os.RemoveAll(p.dir)
}
