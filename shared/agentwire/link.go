package agentwire

import (
	"crypto/tls"
	"encoding/binary"
	"net"
	"sync"
)

// The agent link's connection: TLS over TCP, with yamux above it. Bulk
// streams (forwarded ports, scp) would pay a system call per 16 KiB on it,
// where loopback TCP pays one per write, for two reasons that LinkConn
// removes:
//
//   - crypto/tls writes every record (at most 16 KiB of data) to the socket
//     with a write(2) of its own. LinkConn gathers the records of one Write
//     and sends them with one write to the socket.
//   - yamux writes a data frame's 12-byte header and its body as two
//     writes, so each frame would cost a record and a write(2) of its own
//     for the header. The connection yamux is given (Mux) holds the header
//     of a large data frame (more than one record) until its body comes and
//     gathers both. A small frame (a keystroke, a log line) is written as
//     before: header and body apart, so that a link the peer has closed
//     fails at the body's write, and the writer learns its frame was lost,
//     where a single write would have been taken by the kernel and lost.

// LinkConn is the TLS connection of the agent link. Its Write sends the
// records of one call with one write to the socket. It is used as a
// *tls.Conn. The agent gives Mux() to hashicorp/yamux; the leaf runs
// NewMux over the LinkConn itself, which writes a frame as muxConn does.
type LinkConn struct {
	*tls.Conn
	raw *gatherConn
}

// LinkClient returns the client side of the agent link over raw (the
// agent's); LinkServer the server side (the leaf's). The handshake runs
// on first use, or with HandshakeContext.
func LinkClient(raw net.Conn, cfg *tls.Config) *LinkConn {
	g := &gatherConn{Conn: raw}
	return &LinkConn{Conn: tls.Client(g, cfg), raw: g}
}

// LinkServer: see LinkClient.
func LinkServer(raw net.Conn, cfg *tls.Config) *LinkConn {
	g := &gatherConn{Conn: raw}
	return &LinkConn{Conn: tls.Server(g, cfg), raw: g}
}

// Write writes p as TLS records, sent to the socket with one write.
func (c *LinkConn) Write(p []byte) (int, error) {
	if len(p) <= maxRecord {
		return c.Conn.Write(p)
	}
	c.raw.gather()
	n, err := c.Conn.Write(p)
	if ferr := c.raw.flush(); err == nil {
		err = ferr
	}
	return n, err
}

// Mux returns the connection to run yamux over: c, except that the
// header of a data frame larger than a record is held back and sent with
// its body. Only yamux's send loop writes to it, a frame's header and then,
// for a data frame, its body, each with one write: that is how it tells a
// header from a body.
func (c *LinkConn) Mux() net.Conn { return &muxConn{LinkConn: c} }

// maxRecord is the most data crypto/tls puts in one record.
const maxRecord = 16 << 10

type muxConn struct {
	*LinkConn
	body bool   // the next write is the body of the data frame whose header came last
	held []byte // that frame's header, when it is held for its body
	hdr  [muxHeader]byte
}

func (m *muxConn) Write(p []byte) (int, error) {
	c := m.LinkConn
	if !m.body {
		if len(p) == muxHeader && p[1] == muxTypeData {
			if n := binary.BigEndian.Uint32(p[8:]); n > 0 {
				m.body = true
				if n > maxRecord {
					m.held = append(m.hdr[:0], p...)
					return len(p), nil
				}
			}
		}
		return c.Write(p)
	}
	m.body = false
	if m.held == nil {
		return c.Write(p)
	}
	held := m.held
	m.held = nil
	if err := c.writeGathered(held, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// gatherConn is the socket under TLS: between gather and flush it keeps
// what is written, and flush writes it with one call. Writes of other
// goroutines meanwhile (an alert) are kept too, in order.
type gatherConn struct {
	net.Conn
	mu   sync.Mutex
	on   bool    // guarded by mu; gathering
	buf  *[]byte // guarded by mu; from gatherBufs while gathering
	werr error   // guarded by mu; the first failed write
}

// gatherBufs holds the buffers of gathered writes between uses, so that
// an idle link holds none.
var gatherBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func (g *gatherConn) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.werr != nil {
		return 0, g.werr
	}
	if g.on {
		*g.buf = append(*g.buf, p...)
		return len(p), nil
	}
	n, err := g.Conn.Write(p)
	if err != nil {
		g.werr = err
	}
	return n, err
}

func (g *gatherConn) gather() {
	g.mu.Lock()
	g.on = true
	g.buf = gatherBufs.Get().(*[]byte)
	g.mu.Unlock()
}

// flush writes what was gathered and stops gathering.
func (g *gatherConn) flush() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.on = false
	b := g.buf
	g.buf = nil
	err := g.werr
	if err == nil && len(*b) > 0 {
		if _, err = g.Conn.Write(*b); err != nil {
			g.werr = err
		}
	}
	*b = (*b)[:0]
	if cap(*b) <= 1<<20 {
		gatherBufs.Put(b)
	}
	return err
}

// writeGathered writes a frame's header and its body (more than a
// record) with one write to the socket.
func (c *LinkConn) writeGathered(hdr, body []byte) error {
	c.raw.gather()
	_, err := c.Conn.Write(hdr)
	if err == nil {
		_, err = c.Conn.Write(body)
	}
	if ferr := c.raw.flush(); err == nil {
		err = ferr
	}
	return err
}
