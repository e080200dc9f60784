package client_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/shared/client"
)

// countingConn counts the writes to a connection once counting is on.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	on     bool
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.on {
		c.writes++
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *countingConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = true
	return c.writes
}

// A message the client sends on a websocket (here a forwarded port's)
// goes to the socket with one write, not in the 4 KiB pieces the
// websocket library masks it in, and arrives whole.
func TestWebsocketMessageIsOneWrite(t *testing.T) {
	got := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(client.MaxPortMessage)
		_, b, err := c.Read(r.Context())
		if err == nil {
			got <- b
		}
		c.Close(websocket.StatusNormalClosure, "")
	}))
	defer srv.Close()
	var conn *countingConn
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			conn = &countingConn{Conn: c}
			c = conn
		}
		return c, err
	}}
	cl, err := client.New(client.Config{Address: srv.URL, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ws, err := cl.Spaces().ForwardPort(ctx, "s1", 80)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	conn.count() // the handshake is done: count from here
	msg := bytes.Repeat([]byte("knot"), client.MaxPortMessage/4)
	if err := ws.Write(ctx, websocket.MessageBinary, msg); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, msg) {
		t.Fatalf("the server read %d bytes, not the %d sent", len(b), len(msg))
	}
	if n := conn.count(); n != 1 {
		t.Fatalf("a %d-byte message took %d writes to the socket, want 1", len(msg), n)
	}
}
