package agentwire_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/tlsconf"
)

// countingConn counts the writes to a socket.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// linkPair returns both ends of an agent link over loopback TCP, and the
// counted socket of the client's.
func linkPair(t *testing.T) (client, server *agentwire.LinkConn, raw *countingConn) {
	t.Helper()
	cert, err := tlsconf.LoadServer(tlsconf.ServerOptions{SelfSignedDir: t.TempDir(), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	ccfg, err := tlsconf.Client(tlsconf.ClientOptions{Fingerprint: cert.Fingerprint})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	raw = &countingConn{Conn: c}
	s := <-accepted
	if s == nil {
		t.Fatal("no connection accepted")
	}
	ccfg.ServerName = "127.0.0.1"
	client, server = agentwire.LinkClient(raw, ccfg), agentwire.LinkServer(s, cert.Config)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := server.Handshake(); err != nil {
			t.Error(err)
		}
	})
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server, raw
}

// A large yamux data frame (header, then body) goes to the socket in one
// write, whatever the number of TLS records; a small one in two, header
// and body, as yamux writes them.
func TestLinkGathersALargeFrameIntoOneWrite(t *testing.T) {
	client, server, raw := linkPair(t)
	mux := client.Mux()
	header := func(n int) []byte {
		hdr := make([]byte, 12)
		binary.BigEndian.PutUint32(hdr[4:], 1)
		binary.BigEndian.PutUint32(hdr[8:], uint32(n))
		return hdr
	}
	frame := func(n int) ([]byte, []byte) {
		body := make([]byte, n)
		rand.Read(body)
		return header(n), body
	}
	for _, tt := range []struct {
		name   string
		size   int
		body   []byte // instead of random bytes
		writes int64
	}{
		{"256 KiB", 256 << 10, nil, 1},
		{"16 KiB and one", 16<<10 + 1, nil, 1},
		{"a keystroke", 1, nil, 2},
		{"16 KiB", 16 << 10, nil, 2},
		{"a 12-byte body that looks like a large frame's header", 12, header(1 << 20), 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hdr, body := frame(tt.size)
			if tt.body != nil {
				body = tt.body
			}
			server.SetReadDeadline(time.Now().Add(10 * time.Second))
			got := make(chan []byte, 1)
			go func() {
				b := make([]byte, len(hdr)+len(body))
				n, _ := io.ReadFull(server, b)
				got <- b[:n]
			}()
			before := raw.writes.Load()
			if n, err := mux.Write(hdr); n != len(hdr) || err != nil {
				t.Fatalf("header: %d, %v", n, err)
			}
			if n, err := mux.Write(body); n != len(body) || err != nil {
				t.Fatalf("body: %d, %v", n, err)
			}
			if b := <-got; !bytes.Equal(b, append(hdr, body...)) {
				t.Fatalf("the peer read %d bytes that differ from the frame", len(b))
			}
			if w := raw.writes.Load() - before; w != tt.writes {
				t.Fatalf("%d writes to the socket, want %d", w, tt.writes)
			}
		})
	}
	// A window update (a header alone) is not held back.
	upd := []byte{0, 1, 0, 0, 0, 0, 0, 1, 0, 4, 0, 0}
	if _, err := mux.Write(upd); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, len(upd))
	if _, err := io.ReadFull(server, b); err != nil || !bytes.Equal(b, upd) {
		t.Fatalf("window update: %x, %v", b, err)
	}
}

// yamux streams over the link carry bulk data intact both ways at once.
func TestLinkCarriesYamuxStreams(t *testing.T) {
	client, server, _ := linkPair(t)
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	cs, err := yamux.Client(client.Mux(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	ss, err := yamux.Server(server.Mux(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	var wg sync.WaitGroup
	wg.Go(func() { // echo each stream
		for {
			st, err := ss.AcceptStream()
			if err != nil {
				return
			}
			wg.Go(func() {
				io.Copy(st, st)
				st.Close()
			})
		}
	})
	var streams sync.WaitGroup
	for range 4 {
		streams.Go(func() {
			st, err := cs.OpenStream()
			if err != nil {
				t.Error(err)
				return
			}
			data := make([]byte, 3<<20+77)
			rand.Read(data)
			go func() {
				for p := data; len(p) > 0; {
					n := min(len(p), 100_000)
					st.Write(p[:n])
					p = p[n:]
				}
				st.Close()
			}()
			h := sha256.New()
			n, err := io.Copy(h, st)
			if err != nil || n != int64(len(data)) || !bytes.Equal(h.Sum(nil), sha256Of(data)) {
				t.Errorf("echoed %d of %d bytes, %v, or they differ", n, len(data), err)
			}
		})
	}
	streams.Wait()
	cs.Close()
	ss.Close()
	wg.Wait()
}

func sha256Of(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
