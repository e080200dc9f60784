package wire_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/knot-dev/knot/shared/wire"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
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
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// yamuxPair returns both ends of a yamux stream over loopback TCP.
func yamuxPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	a, b := tcpPair(t)
	ca, err := yamux.Client(a, wire.RelayMux())
	if err != nil {
		t.Fatal(err)
	}
	cb, err := yamux.Server(b, wire.RelayMux())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ca.Close(); cb.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		st, _ := cb.AcceptStream()
		accepted <- st
	}()
	st, err := ca.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	st.Write([]byte{}) // yamux sends the open with the first write
	return st, <-accepted
}

// A client that writes its request and ends its writing gets the whole
// answer of a server that reads to the end before it answers, through
// Splice between TCP connections, and between yamux streams (as a relay
// carries them); then both ends see the connection end.
func TestSpliceKeepsTheOtherDirectionAfterAHalfClose(t *testing.T) {
	for _, tt := range []struct {
		name string
		pair func(t *testing.T) (net.Conn, net.Conn)
	}{
		{"tcp", func(t *testing.T) (net.Conn, net.Conn) { a, b := tcpPair(t); return a, b }},
		{"yamux", yamuxPair},
	} {
		t.Run(tt.name, func(t *testing.T) {
			client, a := tt.pair(t)
			b, server := tt.pair(t)
			var wg sync.WaitGroup
			wg.Go(func() { wire.Splice(a, b) })
			deadline := time.Now().Add(10 * time.Second)
			client.SetDeadline(deadline)
			server.SetDeadline(deadline)
			wg.Go(func() { // the server: read to the end, then answer
				got, err := io.ReadAll(server)
				if err != nil || string(got) != "request" {
					t.Errorf("the server read %q, %v", got, err)
				}
				io.WriteString(server, "answer to "+string(got))
				wire.CloseWrite(server)
			})
			io.WriteString(client, "request")
			if err := wire.CloseWrite(client); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(client)
			if err != nil || string(got) != "answer to request" {
				t.Fatalf("the client read %q, %v after ending its writing", got, err)
			}
			wg.Wait()
		})
	}
}

// An error in one direction ends both at once.
func TestSpliceEndsBothOnAnError(t *testing.T) {
	client, a := tcpPair(t)
	b, server := tcpPair(t)
	done := make(chan struct{})
	go func() { wire.Splice(a, b); close(done) }()
	server.SetLinger(0)
	server.Close() // a reset
	client.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(client); err != nil {
		t.Fatalf("the client: %v, want the end", err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Splice did not return")
	}
}
