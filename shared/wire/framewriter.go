package wire

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
)

// NewFrameWriter returns a FrameWriter of the websocket frames written to
// conn. A link's websocket writes through it (by a bufio.Writer of one
// byte) so that an idle link keeps no write buffer.
func NewFrameWriter(conn io.Writer) *FrameWriter { return &FrameWriter{conn: conn} }

// FrameWriter writes a stream of websocket frames (RFC 6455, section 5.2)
// to conn, a frame's header together with its payload: it holds a frame's
// header until the payload comes and writes both at once. It keeps no
// buffer between frames; a frame of up to maxCoalesced bytes is copied
// into a pooled one. Bytes are written in the order they come, however the
// stream is cut into calls of Write; only a header is held back.
type FrameWriter struct {
	conn io.Writer
	hdr  [14]byte // the header of the frame under way: at most 14 bytes
	n    int      // bytes of hdr held
	need int64    // payload bytes of the frame under way still to come, once its header is whole
}

// maxCoalesced is the biggest frame FrameWriter copies to write it in one
// call; a bigger one goes out as a vectored write where conn allows it.
const maxCoalesced = 64 << 10

var coalesced = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func (f *FrameWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if f.n == 0 && f.need > 0 {
			// The rest of a payload whose header went out.
			k := int(min(int64(len(p)), f.need))
			n, err := f.conn.Write(p[:k])
			written += n
			f.need -= int64(n)
			if err != nil {
				return written, err
			}
			p = p[k:]
			continue
		}
		if size, ok := headerSize(f.hdr[:f.n]); !ok || f.n < size {
			f.hdr[f.n] = p[0]
			f.n++
			written++
			p = p[1:]
			if size, ok := headerSize(f.hdr[:f.n]); !ok || f.n < size {
				continue
			}
			f.need = payloadLength(f.hdr[:f.n])
			if f.need > 0 {
				continue
			}
		}
		// A whole header, and the payload, or as much of it as p holds.
		k := int(min(int64(len(p)), f.need))
		if err := f.flush(p[:k]); err != nil {
			return written, err
		}
		written += k
		f.need -= int64(k)
		p = p[k:]
	}
	return written, nil
}

// flush writes the header held and payload, the start of the frame's
// payload, in one call.
func (f *FrameWriter) flush(payload []byte) error {
	hdr := f.hdr[:f.n]
	f.n = 0
	if len(hdr)+len(payload) > maxCoalesced {
		bufs := net.Buffers{hdr, payload}
		_, err := bufs.WriteTo(f.conn)
		return err
	}
	bp := coalesced.Get().(*[]byte)
	b := append(append((*bp)[:0], hdr...), payload...)
	_, err := f.conn.Write(b)
	if cap(b) <= maxCoalesced {
		*bp = b[:0]
		coalesced.Put(bp)
	}
	return err
}

// headerSize returns the size of the frame header that h begins, once h
// holds enough of it to tell (its first two bytes).
func headerSize(h []byte) (int, bool) {
	if len(h) < 2 {
		return 0, false
	}
	size := 2
	switch h[1] & 0x7f {
	case 126:
		size += 2
	case 127:
		size += 8
	}
	if h[1]&0x80 != 0 {
		size += 4 // masking key
	}
	return size, true
}

// payloadLength returns the payload length a whole frame header tells.
func payloadLength(h []byte) int64 {
	switch n := h[1] & 0x7f; n {
	case 126:
		return int64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		return int64(binary.BigEndian.Uint64(h[2:10]) &^ (1 << 63))
	default:
		return int64(n)
	}
}

// NewFrameBuffer returns a FrameBuffer of the websocket frames written to
// conn.
func NewFrameBuffer(conn io.Writer) *FrameBuffer { return &FrameBuffer{conn: conn} }

// FrameBuffer writes a stream of websocket frames to conn, each frame of up
// to maxBuffered bytes with one call, however it comes in pieces. The
// websocket library's client masks a frame's payload through a 4 KiB
// bufio.Writer and writes each 4 KiB as it fills, so a 64 KiB message
// would cost 16 writes to the socket (and as many reads of the server);
// a FrameBuffer under it makes that one. A bigger frame goes out in pieces
// of maxBuffered bytes. It keeps a buffer only while a frame is under way.
type FrameBuffer struct {
	conn io.Writer
	buf  *[]byte // from frameBuffers, while a frame is under way
	hdr  int     // bytes of the frame's header in buf, while they come
	need int64   // payload bytes of the frame under way still to come, once its header is whole
}

// maxBuffered is the biggest frame FrameBuffer writes with one call: the
// header and 64 KiB of payload, a message of a forwarded port.
const maxBuffered = 14 + 64<<10

var frameBuffers = sync.Pool{New: func() any { b := make([]byte, 0, maxBuffered); return &b }}

func (f *FrameBuffer) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if f.buf == nil {
			f.buf = frameBuffers.Get().(*[]byte)
		}
		b := *f.buf
		if f.need == 0 {
			// The header, byte by byte until it is whole. A frame's header
			// starts with an empty buffer, so it always fits.
			b = append(b, p[0])
			*f.buf = b
			f.hdr++
			p, written = p[1:], written+1
			h := b[len(b)-f.hdr:]
			if size, ok := headerSize(h); !ok || f.hdr < size {
				continue
			}
			f.need, f.hdr = payloadLength(h), 0
			if f.need > 0 {
				continue
			}
		} else {
			k := int(min(int64(len(p)), f.need, int64(maxBuffered-len(b))))
			*f.buf = append(b, p[:k]...)
			f.need -= int64(k)
			p, written = p[k:], written+k
			if f.need > 0 && len(*f.buf) < maxBuffered {
				continue
			}
		}
		if err := f.flush(); err != nil {
			return written, err
		}
	}
	return written, nil
}

// flush writes what is buffered with one call; at the end of a frame, the
// buffer goes back to the pool.
func (f *FrameBuffer) flush() error {
	bp := f.buf
	_, err := f.conn.Write(*bp)
	*bp = (*bp)[:0]
	if f.need == 0 {
		f.buf = nil
		frameBuffers.Put(bp)
	}
	return err
}
