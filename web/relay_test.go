package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/yamux"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/wire"
)

// dialRelay opens a relay channel to the fleet's origin as the leaf node
// node of location, with token.
func dialRelay(t *testing.T, f *fleet, token, node, location string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := strings.Replace(f.originSW.srv.URL, "http://", "ws://", 1) + wire.RelayPath + "?node=" + node + "&location=" + location
	return websocket.Dial(ctx, u, &websocket.DialOptions{
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + token}},
		Subprotocols: []string{wire.RelaySubprotocol},
	})
}

// The relay channel is the leaf link's: a wrong credential gets 401, and a
// channel of a node that has no live link 409, before the upgrade.
func TestLeafRelayChannelBelongsToALiveLink(t *testing.T) {
	f := newFleet(t)
	f.waitConnected(true)
	if _, resp, err := dialRelay(t, f, "not-the-token", "node-away", "away"); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %v %+v; want 401", err, resp)
	}
	if _, resp, err := dialRelay(t, f, fleetToken, "node-elsewhere", "away"); err == nil || resp == nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("another node: %v %+v; want 409", err, resp)
	}
	if _, resp, err := dialRelay(t, f, fleetToken, "node-away", "nowhere"); err == nil || resp == nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("another location: %v %+v; want 409", err, resp)
	}
}

// Streams a leaf opens on its relay channel with a header that is bad, too
// large, of a kind not relayed, or for a space the origin does not know are
// closed with the reason.
func TestLeafRelayStreamsWithBadHeadersAreRefusedWithTheReason(t *testing.T) {
	f := newFleet(t)
	fakeLink(t, f, "node-raw", "raw")
	var conn *websocket.Conn
	eventually(t, 5*time.Second, func() string {
		c, _, err := dialRelay(t, f, fleetToken, "node-raw", "raw")
		if err != nil {
			return "the relay channel: " + err.Error()
		}
		conn = c
		return ""
	})
	defer conn.CloseNow()
	sess, err := yamux.Server(websocket.NetConn(context.Background(), conn, websocket.MessageBinary), wire.RelayMux())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	refusal := func(write func(*yamux.Stream) error) error {
		t.Helper()
		st, err := sess.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		st.SetDeadline(time.Now().Add(10 * time.Second))
		if err := write(st); err != nil {
			t.Fatal(err)
		}
		return wire.ReadRelayReply(st)
	}
	cases := []struct {
		name  string
		write func(*yamux.Stream) error
		code  string
		says  string
	}{
		{"data, not a header", func(st *yamux.Stream) error { return agentwire.WriteFrame(st, agentwire.KindData, []byte("ls\n")) }, shared.EINVALID, "not data"},
		{"too large", func(st *yamux.Stream) error {
			return wire.WriteRelay(st, map[string]string{"space_id": strings.Repeat("x", wire.MaxRelayHeader)})
		}, shared.EINVALID, "over"},
		{"a kind not relayed", func(st *yamux.Stream) error {
			return wire.WriteRelay(st, &wire.RelayOpen{SpaceID: "s", UserID: "u", Open: agentwire.Open{Type: agentwire.OpenPing}})
		}, shared.EINVALID, "not relayed"},
		{"no user", func(st *yamux.Stream) error {
			return wire.WriteRelay(st, &wire.RelayOpen{SpaceID: "s", Open: agentwire.Open{Type: agentwire.OpenSessions}})
		}, shared.EINVALID, "user_id"},
		{"an unknown space", func(st *yamux.Stream) error {
			return wire.WriteRelay(st, &wire.RelayOpen{SpaceID: "no-such-space", UserID: "u", Open: agentwire.Open{Type: agentwire.OpenSessions}})
		}, shared.ENOTFOUND, ""},
	}
	for _, c := range cases {
		err := refusal(c.write)
		if shared.ErrorCode(err) != c.code || !strings.Contains(shared.ErrorMessage(err), c.says) {
			t.Errorf("%s: %v; want %s saying %q", c.name, err, c.code, c.says)
		}
	}
}

// fakeLink opens a leaf link of node at location by hand, and reads (and
// drops) what the origin sends until the test ends.
func fakeLink(t *testing.T, f *fleet, node, location string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, _, err := websocket.Dial(ctx, strings.Replace(f.originSW.srv.URL, "http://", "ws://", 1)+wire.Path, &websocket.DialOptions{
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + fleetToken}},
		Subprotocols: []string{wire.Subprotocol},
	})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(wire.MaxFrameSize)
	hello, err := wire.Encode(&wire.Hello{NodeID: node, Location: location, Version: "test", ProtocolMin: wire.ProtocolMin, ProtocolMax: wire.ProtocolMax})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Write(ctx, websocket.MessageText, hello); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, _, err := conn.Read(ctx); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); conn.CloseNow(); <-done })
}
