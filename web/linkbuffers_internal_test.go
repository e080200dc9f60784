package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Messages of every size go both ways through a real websocket over
// linkBuffers.
func TestLinkBuffersCarryMessagesOfEverySize(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(linkBuffers{w}, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(2 << 20)
		for {
			typ, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(context.Background(), typ, b); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(2 << 20)
	for _, n := range []int{0, 1, 125, 126, 511, 512, 513, 2600, 65535, 65536, 64<<10 + 1, 1 << 20} {
		msg := strings.Repeat(string(rune('a'+n%26)), n)
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatalf("write %d bytes: %v", n, err)
		}
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read the echo of %d bytes: %v", n, err)
		}
		if string(b) != msg {
			t.Fatalf("the echo of %d bytes came back as %d bytes", n, len(b))
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("close: %v", err)
	}
}
