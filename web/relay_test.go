package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/yamux"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
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

	// The node dials its channel again: the new one replaces the old,
	// which closes, and stays.
	conn2, _, err := dialRelay(t, f, fleetToken, "node-raw", "raw")
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.CloseNow()
	select {
	case <-sess.CloseChan():
	case <-time.After(10 * time.Second):
		t.Fatal("the replaced relay channel is still open")
	}
	sess, err = yamux.Server(websocket.NetConn(context.Background(), conn2, websocket.MessageBinary), wire.RelayMux())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := refusal(cases[len(cases)-1].write); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Fatalf("on the new channel: %v, want not found", err)
	}

	// Streams are bounded: past wire.MaxRelayStreams open at once, the
	// next is refused with the reason.
	for range wire.MaxRelayStreams {
		st, err := sess.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
	}
	err = refusal(func(*yamux.Stream) error { return nil })
	if shared.ErrorCode(err) != shared.EUNAVAILABLE || !strings.Contains(shared.ErrorMessage(err), "too many relayed streams") {
		t.Fatalf("a stream past the bound: %v", err)
	}
}

// A leaf whose relay channel closed while its link has not yet ended is
// said to be not connected, as it is once the link ends: the channel goes
// first when a leaf dies. A leaf that never opened a channel is told apart.
func TestRelayToALeafWhoseChannelClosedSaysItIsNotConnected(t *testing.T) {
	f := newFleet(t)
	fakeLink(t, f, "node-dying", "dying")
	open := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := f.hub.OpenRelay(ctx, "dying", &wire.RelayOpen{SpaceID: "s", UserID: "u", Open: agentwire.Open{Type: agentwire.OpenSessions}})
		if err == nil {
			c.Close()
		}
		return err
	}
	eventually(t, 5*time.Second, func() string {
		if err := open(); !strings.Contains(shared.ErrorMessage(err), "keeps no relay channel") {
			return fmt.Sprintf("before any relay channel: %v", err)
		}
		return ""
	})
	conn, _, err := dialRelay(t, f, fleetToken, "node-dying", "dying")
	if err != nil {
		t.Fatal(err)
	}
	conn.CloseNow()
	eventually(t, 10*time.Second, func() string {
		err := open()
		if shared.ErrorCode(err) != shared.EUNAVAILABLE || !strings.Contains(shared.ErrorMessage(err), "not connected") {
			return fmt.Sprintf("after the relay channel closed: %v; want EUNAVAILABLE, not connected", err)
		}
		return ""
	})
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

// A restricted leaf (on its owner's API token) is sent streams of its
// owner's spaces alone, and may open streams only for its owner.
func TestRestrictedLeafRelaysItsOwnersStreamsAlone(t *testing.T) {
	apiToken := crypt.NewToken()
	var ann, bob *shared.User
	f := newFleetWithOptions(t, func(f *fleet) {
		f.hubOpts = func(o *origin.Options) { o.EnableLeafAPITokens = true }
		f.leafToken, f.leafLocation = apiToken, "user:away"
		ctx := context.Background()
		ann = &shared.User{Meta: shared.Meta{ID: newUUID(t)}, Username: "away", Email: "ann@example.com", Roles: []string{shared.UserRoleID}, Active: true}
		bob = &shared.User{Meta: shared.Meta{ID: newUUID(t)}, Username: "bob", Email: "bob@example.com", Roles: []string{shared.AdminRoleID}, Active: true}
		for _, r := range []shared.Record{ann, bob,
			&shared.Token{Meta: shared.Meta{ID: crypt.HashToken(apiToken)}, UserID: ann.ID, Name: "leaf"},
			&shared.Space{Meta: shared.Meta{ID: "bobs"}, Name: "bobs", UserID: bob.ID, Location: "user:away"},
			&shared.Space{Meta: shared.Meta{ID: "home1"}, Name: "home1", UserID: bob.ID, Location: "home"},
		} {
			if err := f.originStore.Put(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		// Ann's space, at her leaf, which reports it to the origin.
		for _, st := range []storage.Store{f.leafStore, f.originStore} {
			if err := st.Put(ctx, &shared.Space{Meta: shared.Meta{ID: "anns"}, Name: "anns", UserID: ann.ID, Location: "user:away"}); err != nil {
				t.Fatal(err)
			}
		}
	})
	f.waitConnected(true)
	ctx := context.Background()
	sessions := func(space, user string) *wire.RelayOpen {
		return &wire.RelayOpen{SpaceID: space, UserID: user, Open: agentwire.Open{Type: agentwire.OpenSessions}}
	}
	// Ann's space reaches the leaf, which has no agents: its answer says so.
	eventually(t, 5*time.Second, func() string {
		_, err := f.hub.OpenRelay(ctx, "user:away", sessions("anns", ann.ID))
		if !strings.Contains(shared.ErrorMessage(err), "no agent endpoint") {
			return "ann's space: " + shared.ErrorMessage(err)
		}
		return ""
	})
	if _, err := f.hub.OpenRelay(ctx, "user:away", sessions("bobs", bob.ID)); shared.ErrorCode(err) != shared.EFORBIDDEN {
		t.Fatalf("bob's space at ann's leaf: %v, want forbidden", err)
	}
	if _, err := f.uplink.OpenRelay(ctx, "home", sessions("home1", bob.ID)); shared.ErrorCode(err) != shared.EFORBIDDEN || !strings.Contains(shared.ErrorMessage(err), "owner alone") {
		t.Fatalf("ann's leaf opening a stream for bob: %v, want forbidden", err)
	}
	if _, err := f.uplink.OpenRelay(ctx, "home", sessions("home1", ann.ID)); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Fatalf("ann's leaf opening a stream to bob's space for ann: %v, want not found", err)
	}
}
