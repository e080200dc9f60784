package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
)

// writeCounter records each call of Write.
type writeCounter struct {
	bytes.Buffer
	calls int
}

func (w *writeCounter) Write(p []byte) (int, error) { w.calls++; return w.Buffer.Write(p) }

// frame returns a websocket frame of a binary message with n bytes of
// payload, masked or not, and the payload.
func frame(n int, masked bool) (header, payload []byte) {
	header = []byte{0x82, 0}
	switch {
	case n > 0xffff:
		header[1] = 127
		header = binary.BigEndian.AppendUint64(header, uint64(n))
	case n > 125:
		header[1] = 126
		header = binary.BigEndian.AppendUint16(header, uint16(n))
	default:
		header[1] = byte(n)
	}
	if masked {
		header[1] |= 0x80
		header = append(header, 1, 2, 3, 4)
	}
	payload = bytes.Repeat([]byte{byte(n)}, n)
	return header, payload
}

// Frames written as the websocket library writes them, through a
// bufio.Writer of one byte, each reach the connection in one write when
// they are up to maxCoalesced bytes, whole and in order.
func TestFrameWriterWritesAFrameAtOnce(t *testing.T) {
	for _, masked := range []bool{false, true} {
		var conn writeCounter
		bw := bufio.NewWriterSize(&FrameWriter{conn: &conn}, 1)
		var want bytes.Buffer
		sizes := []int{0, 1, 2, 125, 126, 127, 2600, 65535, 65536, maxCoalesced - 14, 100000}
		small := 0
		for _, n := range sizes {
			h, p := frame(n, masked)
			want.Write(h)
			want.Write(p)
			if len(h)+len(p) <= maxCoalesced {
				small++
			}
			// As the library does: the first two bytes one by one, the
			// rest of the header, the payload, a flush.
			bw.WriteByte(h[0])
			bw.WriteByte(h[1])
			if len(h) > 2 {
				bw.Write(h[2:])
			}
			if _, err := bw.Write(p); err != nil {
				t.Fatal(err)
			}
			if err := bw.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(conn.Bytes(), want.Bytes()) {
			t.Fatalf("masked %v: the connection got %d bytes, not the %d of the frames", masked, conn.Len(), want.Len())
		}
		// A frame bigger than maxCoalesced is a header and a payload on a
		// connection that cannot take a vectored write.
		if wantCalls := small + 2*(len(sizes)-small); conn.calls != wantCalls {
			t.Fatalf("masked %v: %d writes for %d frames, want %d", masked, conn.calls, len(sizes), wantCalls)
		}
	}
}

// FuzzFrameWriter checks that FrameWriter loses and reorders nothing,
// whatever the bytes and however they are cut: what it wrote, and the
// header it holds, are what it was given.
func FuzzFrameWriter(f *testing.F) {
	h, p := frame(300, false)
	f.Add(append(h, p...), []byte{1, 1, 3, 200})
	h, p = frame(5, true)
	f.Add(append(append(h, p...), 0x81, 0), []byte{0})
	f.Add([]byte{0x81, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 9, 9}, []byte{2, 5})
	f.Fuzz(func(t *testing.T, in, cuts []byte) {
		var conn writeCounter
		fw := &FrameWriter{conn: &conn}
		rest := in
		for i := 0; len(rest) > 0; i++ {
			k := len(rest)
			if len(cuts) > 0 {
				k = min(k, int(cuts[i%len(cuts)])+1)
			}
			if n, err := fw.Write(rest[:k]); n != k || err != nil {
				t.Fatalf("Write of %d bytes = %d, %v", k, n, err)
			}
			rest = rest[k:]
		}
		got := append(conn.Bytes(), fw.hdr[:fw.n]...)
		if !bytes.Equal(got, in) {
			t.Fatalf("wrote %x and holds %x, given %x", conn.Bytes(), fw.hdr[:fw.n], in)
		}
	})
}

// BenchmarkFrameWrite writes frames of a 2,600-byte payload, the size of a
// change frame of a 2 KiB template, to a loopback TCP connection the way
// the websocket library does: through net/http's 4 KiB bufio.Writer, and
// through a FrameWriter. A goroutine reads the other end.
func BenchmarkFrameWrite(b *testing.B) {
	h, p := frame(2600, false)
	for _, bc := range []struct {
		name string
		wrap func(net.Conn) *bufio.Writer
	}{
		{"bufio4096", func(c net.Conn) *bufio.Writer { return bufio.NewWriterSize(c, 4096) }},
		{"FrameWriter", func(c net.Conn) *bufio.Writer { return bufio.NewWriterSize(&FrameWriter{conn: c}, 1) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				io.Copy(io.Discard, c)
				c.Close()
			}()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			bw := bc.wrap(c)
			b.SetBytes(int64(len(h) + len(p)))
			for b.Loop() {
				bw.WriteByte(h[0])
				bw.WriteByte(h[1])
				bw.Write(h[2:])
				bw.Write(p)
				if err := bw.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Frames written as the websocket library's client writes them, masked
// through a bufio.Writer of 4 KiB that writes each 4 KiB as it fills,
// reach the connection in one write each when they are up to maxBuffered
// bytes (a 64 KiB message of a forwarded port), whole and in order; a
// bigger one in pieces of maxBuffered bytes.
func TestFrameBufferWritesAFrameAtOnce(t *testing.T) {
	var conn writeCounter
	bw := bufio.NewWriterSize(NewFrameBuffer(&conn), 4<<10)
	var want bytes.Buffer
	sizes := []int{0, 1, 125, 126, 4000, 4096, 4096 - 8, 65535, 64 << 10, 200000, 3}
	wantCalls := 0
	for _, n := range sizes {
		h, p := frame(n, true)
		want.Write(h)
		want.Write(p)
		wantCalls += (len(h) + len(p) + maxBuffered - 1) / maxBuffered
		bw.Write(h)
		if _, err := bw.Write(p); err != nil {
			t.Fatal(err)
		}
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(conn.Bytes(), want.Bytes()) {
		t.Fatalf("the connection got %d bytes, not the %d of the frames", conn.Len(), want.Len())
	}
	if conn.calls != wantCalls {
		t.Fatalf("%d writes for %d frames, want %d", conn.calls, len(sizes), wantCalls)
	}
}

// FuzzFrameBuffer checks that FrameBuffer loses and reorders nothing,
// whatever the bytes and however they are cut: what it wrote, and what it
// holds of a frame under way, are what it was given.
func FuzzFrameBuffer(f *testing.F) {
	h, p := frame(300, true)
	f.Add(append(h, p...), []byte{1, 1, 3, 200})
	h, p = frame(70000, true)
	f.Add(append(append(h, p...), 0x81, 0), []byte{255})
	f.Add([]byte{0x81, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 9, 9}, []byte{2, 5})
	f.Fuzz(func(t *testing.T, in, cuts []byte) {
		var conn writeCounter
		fb := NewFrameBuffer(&conn)
		rest := in
		for i := 0; len(rest) > 0; i++ {
			k := len(rest)
			if len(cuts) > 0 {
				k = min(k, int(cuts[i%len(cuts)])+1)
			}
			if n, err := fb.Write(rest[:k]); n != k || err != nil {
				t.Fatalf("Write of %d bytes = %d, %v", k, n, err)
			}
			rest = rest[k:]
		}
		var held []byte
		if fb.buf != nil {
			held = *fb.buf
			if len(held) >= maxBuffered {
				t.Fatalf("holds %d bytes, more than %d", len(held), maxBuffered)
			}
		}
		if got := append(conn.Bytes(), held...); !bytes.Equal(got, in) {
			t.Fatalf("wrote %x and holds %x, given %x", conn.Bytes(), held, in)
		}
	})
}
