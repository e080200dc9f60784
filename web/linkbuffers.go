package web

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"

	"github.com/knot-dev/knot/shared/wire"
)

// A leaf's link lasts as long as the leaf stays connected, and an origin
// holds one per leaf: the buffers a link keeps while it waits are most of
// what an idle leaf costs the origin. websocket.Accept keeps the
// bufio.Reader and bufio.Writer of the hijacked connection for the life of
// the link; net/http hands over 4 KiB of each. linkBuffers hands over
// smaller ones instead.

// linkReadBuffer is the read buffer of a leaf's link. What a leaf sends is
// mostly acks of a hundred bytes; a bigger frame is read through it, or
// straight into the message when the buffer is empty.
const linkReadBuffer = 512

// linkBuffers is the response writer the websocket library hijacks a leaf's
// connection from: reads go through a buffer of linkReadBuffer bytes, and
// writes through a wire.FrameWriter, which buffers nothing between frames.
type linkBuffers struct{ http.ResponseWriter }

func (w linkBuffers) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w linkBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// Bytes the client sent after its request move into the new buffer,
	// where the websocket library looks for them.
	n := rw.Reader.Buffered()
	early, _ := rw.Reader.Peek(n)
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn), max(linkReadBuffer, n))
	if n > 0 {
		if _, err := br.Peek(n); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	// The websocket library writes a frame's header a byte or a few at a
	// time and then its payload in one call, and flushes. Through a
	// bufio.Writer of one byte, the header reaches the wire.FrameWriter before
	// the payload does, and the frame goes out in one write.
	return conn, bufio.NewReadWriter(br, bufio.NewWriterSize(wire.NewFrameWriter(conn), 1)), nil
}
