package origin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage/memory"
)

// fixture is an origin with an owner, the owner's API token and a leaf
// token for "us".
type fixture struct {
	o         *testOrigin
	clock     *clock
	leafToken string // secret of the per-leaf token for "us"
	leafID    string
}

const apiSecret = "api-secret-of-ann"

func newFixture(t *testing.T, opts origin.Options) *fixture {
	t.Helper()
	st := memory.New()
	ctx := context.Background()
	for _, rec := range []shared.Record{
		&shared.User{Meta: shared.Meta{ID: "ann"}, Username: "ann", Email: "ann@example.com", PasswordHash: "$2a$ann", TOTPSecret: "T", Active: true, Groups: []string{"g1"}},
		&shared.User{Meta: shared.Meta{ID: "bob"}, Username: "bob", Email: "bob@example.com", PasswordHash: "$2a$bob", Active: false},
		&shared.Token{Meta: shared.Meta{ID: crypt.HashToken(apiSecret)}, UserID: "ann", Name: "ann's"},
		&shared.Token{Meta: shared.Meta{ID: crypt.HashToken("bob-secret")}, UserID: "bob", Name: "bob's"},
		&shared.Token{Meta: shared.Meta{ID: crypt.HashToken("old-secret")}, UserID: "ann", Name: "old", ExpiresAt: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if err := st.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{clock: newClock()}
	opts.Now = f.clock.Now
	f.o = startOrigin(t, st, opts)
	secret, lt, err := f.o.hub().CreateLeafToken(ctx, "us", "us leaf")
	if err != nil {
		t.Fatalf("CreateLeafToken: %v", err)
	}
	f.leafToken, f.leafID = secret, lt.ID
	return f
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t, origin.Options{EnableLeafAPITokens: true})
	h := f.o.hub()
	for _, tt := range []struct {
		name   string
		bearer string
		want   origin.Credential
		err    string // part of the refusal, "" for success
	}{
		{"SharedTokenIsTrusted", sharedToken, origin.Credential{Kind: origin.CredentialShared}, ""},
		{"LeafTokenBindsItsLocation", f.leafToken, origin.Credential{Kind: origin.CredentialLeafToken, TokenID: f.leafID, Location: "us"}, ""},
		{"APITokenIsRestrictedToItsOwner", apiSecret, origin.Credential{Kind: origin.CredentialAPIToken, TokenID: crypt.HashToken(apiSecret), Location: "user:ann", UserID: "ann"}, ""},
		{"NoBearerIsRefused", "", origin.Credential{}, "no leaf credential"},
		{"WrongTokenIsRefused", "not-a-token", origin.Credential{}, "not a valid token"},
		{"SharedTokenHashIsNotTheToken", crypt.HashToken(sharedToken), origin.Credential{}, "not a valid token"},
		{"ExpiredAPITokenIsRefused", "old-secret", origin.Credential{}, "has expired"},
		{"InactiveOwnerIsRefused", "bob-secret", origin.Credential{}, "inactive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.Authenticate(context.Background(), tt.bearer)
			if tt.err == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Authenticate = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			if shared.ErrorCode(err) != shared.EUNAUTHORIZED || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Authenticate = %+v, %v; want EUNAUTHORIZED with %q", got, err, tt.err)
			}
		})
	}
}

func TestAPITokensNeedTheOption(t *testing.T) {
	f := newFixture(t, origin.Options{})
	if _, err := f.o.hub().Authenticate(context.Background(), apiSecret); shared.ErrorCode(err) != shared.EUNAUTHORIZED {
		t.Fatalf("API token without EnableLeafAPITokens: %v, want EUNAUTHORIZED", err)
	}
}

func TestRefusedCredentialGets401WithReason(t *testing.T) {
	f := newFixture(t, origin.Options{})
	_, resp, err := dialRaw(t, f.o, "wrong")
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial with a wrong token: resp %v, err %v; want 401", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	var e struct{ Error string }
	if json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, "not a valid token") {
		t.Fatalf("401 body %q does not give the reason", body)
	}
}

func TestLeafTokenRotation(t *testing.T) {
	f := newFixture(t, origin.Options{KeepAlive: 20 * time.Millisecond})
	h, ctx := f.o.hub(), context.Background()

	// A leaf is connected with the old token while it is rotated.
	old := mustDialRaw(t, f.o, f.leafToken)
	old.welcome(hello("n-us", "us", "", 0))
	// The fleet says which token the node came with, so that an admin can
	// tell which one revoking would cut.
	if ls := h.Leaves(); len(ls) != 1 || ls[0].Credential != string(origin.CredentialLeafToken) || ls[0].LeafTokenID != f.leafID {
		t.Fatalf("Leaves = %+v; want n-us with leaf token %s", ls, f.leafID)
	}
	newSecret, newTok, err := h.RotateLeafToken(ctx, f.leafID, time.Hour)
	if err != nil {
		t.Fatalf("RotateLeafToken: %v", err)
	}
	if newTok.Location != "us" || newTok.ID == f.leafID {
		t.Fatalf("rotated token %+v", newTok)
	}
	t.Run("BothWorkDuringTheOverlap", func(t *testing.T) {
		for _, s := range []string{f.leafToken, newSecret} {
			if c, err := h.Authenticate(ctx, s); err != nil || c.Location != "us" {
				t.Fatalf("Authenticate during the overlap: %+v, %v", c, err)
			}
		}
	})
	f.clock.Add(time.Hour)
	t.Run("OnlyTheNewOneWorksAfter", func(t *testing.T) {
		if _, err := h.Authenticate(ctx, f.leafToken); shared.ErrorCode(err) != shared.EUNAUTHORIZED || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("old token after the overlap: %v, want EUNAUTHORIZED (expired)", err)
		}
		if _, err := h.Authenticate(ctx, newSecret); err != nil {
			t.Fatalf("new token after the overlap: %v", err)
		}
	})
	t.Run("TheLinkOfTheOldOneIsClosed", func(t *testing.T) {
		old.expectClose(wire.CloseRevoked, "expired")
	})
	t.Run("TheListShowsBoth", func(t *testing.T) {
		all, err := h.LeafTokens(ctx)
		if err != nil || len(all) != 2 {
			t.Fatalf("LeafTokens = %v, %v; want 2 tokens", all, err)
		}
		for _, lt := range all {
			if expired := lt.Expired(f.clock.Now()); expired != (lt.ID == f.leafID) {
				t.Errorf("token %s (old: %v) expired=%v", lt.ID, lt.ID == f.leafID, expired)
			}
		}
	})
}

func TestRevokedLeafTokenClosesTheLinkAndIsRefused(t *testing.T) {
	f := newFixture(t, origin.Options{})
	h, ctx := f.o.hub(), context.Background()
	r := mustDialRaw(t, f.o, f.leafToken)
	r.welcome(hello("n-us", "us", "", 0))
	if err := h.RevokeLeafToken(ctx, f.leafID); err != nil {
		t.Fatalf("RevokeLeafToken: %v", err)
	}
	r.expectClose(wire.CloseRevoked, "revoked")
	if _, resp, err := dialRaw(t, f.o, f.leafToken); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial with a revoked token: %v, %v; want 401", resp, err)
	}
	if err := h.RevokeLeafToken(ctx, f.leafID); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Fatalf("revoke twice: %v, want ENOTFOUND", err)
	}
}

func TestRestrictedLeafServesItsOwnersLocationOnly(t *testing.T) {
	f := newFixture(t, origin.Options{EnableLeafAPITokens: true})
	r := mustDialRaw(t, f.o, apiSecret)
	r.expectRefusal(hello("n-ann", "eu", "", 0), false, `set server.location to "user:ann" (the API token's owner), not "eu"`)
	r = mustDialRaw(t, f.o, apiSecret)
	if w := r.welcome(hello("n-ann", "", "", 0)); !w.Restricted || w.Location != "user:ann" {
		t.Fatalf("welcome %+v to a leaf that names no location, want restricted at location user:ann", w)
	}
}

func TestRevokedAPITokenClosesTheRestrictedLink(t *testing.T) {
	f := newFixture(t, origin.Options{EnableLeafAPITokens: true})
	r := mustDialRaw(t, f.o, apiSecret)
	w := r.welcome(hello("n-ann", "user:ann", "", 0))
	if !w.Restricted || w.Location != "user:ann" {
		t.Fatalf("welcome %+v, want restricted at location user:ann", w)
	}
	r.readSnapshot()
	if _, err := f.o.Store().Delete(context.Background(), shared.KindToken, crypt.HashToken(apiSecret)); err != nil {
		t.Fatal(err)
	}
	f.o.hub().Notify()
	r.expectClose(wire.CloseRevoked, "revoked")
}

func TestLeafTokenRefusesAnotherLocation(t *testing.T) {
	f := newFixture(t, origin.Options{})
	r := mustDialRaw(t, f.o, f.leafToken)
	r.expectRefusal(hello("n-eu", "eu", "", 0), false, `this leaf token is for location "us", not "eu"`)
}

func TestSharedTokenNeedsALocation(t *testing.T) {
	f := newFixture(t, origin.Options{})
	r := mustDialRaw(t, f.o, sharedToken)
	r.expectRefusal(hello("n", "", "", 0), false, "location")
}

func TestSecondNodeForALocationIsRefused(t *testing.T) {
	f := newFixture(t, origin.Options{})
	a := mustDialRaw(t, f.o, f.leafToken)
	a.welcome(hello("node-a", "us", "", 0))
	a.readSnapshot()

	b := mustDialRaw(t, f.o, f.leafToken)
	b.expectRefusal(hello("node-b", "us", "", 0), true, `location "us" is already served by another leaf node`)

	// The same node reconnecting takes over from its stale connection.
	a2 := mustDialRaw(t, f.o, f.leafToken)
	a2.welcome(hello("node-a", "us", "", 0))
	a.expectClose(wire.CloseReplaced, "newer connection of the same leaf node")
	a2.readSnapshot()
}

func TestNoCommonProtocolIsRefusedWithTheReason(t *testing.T) {
	f := newFixture(t, origin.Options{Version: "1.4.0"})
	r := mustDialRaw(t, f.o, sharedToken)
	h := hello("n", "eu", "", 0)
	h.Version, h.ProtocolMin, h.ProtocolMax = "9.0.0", wire.ProtocolMax+1, wire.ProtocolMax+3
	r.expectRefusal(h, false, fmt.Sprintf("no common protocol: origin 1.4.0 speaks %d to %d, leaf 9.0.0 speaks %d to %d",
		wire.ProtocolMin, wire.ProtocolMax, wire.ProtocolMax+1, wire.ProtocolMax+3))
}

func TestNewerLeafSpeakingOursIsWelcomed(t *testing.T) {
	f := newFixture(t, origin.Options{})
	r := mustDialRaw(t, f.o, sharedToken)
	h := hello("n", "eu", "", 0)
	h.ProtocolMax = wire.ProtocolMax + 5
	if w := r.welcome(h); w.Protocol != wire.ProtocolMax {
		t.Fatalf("protocol %d, want the highest common, %d", w.Protocol, wire.ProtocolMax)
	}
}

// TestBadFramesFromALeafCloseTheLink sends frames a leaf must not send and
// checks that the hub closes the link with a reason and stores nothing.
func TestBadFramesFromALeafCloseTheLink(t *testing.T) {
	oversized := append([]byte(`{"type":"ack","applied":0,"pad":"`), bytes.Repeat([]byte("x"), wire.MaxFrameSize)...)
	oversized = append(oversized, `"}`...)
	for _, tt := range []struct {
		name  string
		frame []byte
		code  int
		want  string
	}{
		{"Garbage", []byte("not json"), wire.CloseMalformed, "not a JSON object"},
		{"UnknownType", []byte(`{"type":"gossip"}`), wire.CloseMalformed, `unknown frame type "gossip"`},
		{"NegativeRevision", []byte(`{"type":"ack","applied":-3}`), wire.CloseMalformed, "applied -3 is negative"},
		{"AckOfAnUnsentRevision", []byte(`{"type":"ack","applied":99}`), wire.CloseMalformed, "ack of revision 99"},
		{"FrameOnlyAnOriginSends", []byte(`{"type":"keepalive","head":1}`), wire.CloseMalformed, "unexpected keepalive frame"},
		{"MalformedSpaceReport", []byte(`{"type":"space_report","leaf_revision":1,"space_id":"s1"}`), wire.CloseMalformed, "has no data"},
		{"Oversized", oversized, int(websocket.StatusMessageTooBig), "limit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, origin.Options{})
			r := mustDialRaw(t, f.o, sharedToken)
			r.welcome(hello("n", "eu", "", 0))
			r.readSnapshot()
			head, _ := f.o.Store().Head(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			r.c.Write(ctx, websocket.MessageText, tt.frame) // may fail once the hub closed
			r.expectClose(tt.code, tt.want)
			if after, _ := f.o.Store().Head(context.Background()); after.Revision != head.Revision {
				t.Errorf("the store moved from %d to %d", head.Revision, after.Revision)
			}
		})
	}
}

func TestBadHelloClosesTheLink(t *testing.T) {
	f := newFixture(t, origin.Options{})
	r := mustDialRaw(t, f.o, sharedToken)
	r.sendRaw([]byte(`{"type":"ack","applied":0}`))
	r.expectClose(wire.CloseMalformed, "expected a hello frame, got ack")
}

// TestResumeSendsOnlyLaterChanges checks invariant 2: a leaf that comes back
// with its epoch and revision gets what came after, and a snapshot only when
// its epoch differs or it is behind the tombstone horizon.
func TestResumeSendsOnlyLaterChanges(t *testing.T) {
	f := newFixture(t, origin.Options{})
	ctx := context.Background()
	r := mustDialRaw(t, f.o, sharedToken)
	w := r.welcome(hello("n", "eu", "", 0))
	if w.Mode != wire.ModeSnapshot {
		t.Fatalf("first connection: mode %q, want snapshot", w.Mode)
	}
	snap, rev := r.readSnapshot()
	if _, ok := snap[key(shared.KindUser, "ann")]; !ok || rev != w.Head {
		t.Fatalf("snapshot at %d (head %d) lacks ann: %v", rev, w.Head, snap)
	}
	r.c.Close(websocket.StatusNormalClosure, "")

	mustPut(t, f.o, &shared.Group{Meta: shared.Meta{ID: "g1"}, Name: "devs"})
	if _, err := f.o.Store().Delete(ctx, shared.KindUser, "bob"); err != nil {
		t.Fatal(err)
	}

	t.Run("SameEpochResumes", func(t *testing.T) {
		r := mustDialRaw(t, f.o, sharedToken)
		if w := r.welcome(hello("n", "eu", w.Epoch, rev)); w.Mode != wire.ModeResume {
			t.Fatalf("mode %q, want resume", w.Mode)
		}
		ch, ok := r.nextSkipping().(*wire.Changes)
		if !ok || ch.Prev != rev || len(ch.Changes) != 2 {
			t.Fatalf("want the 2 changes after %d, got %#v", rev, ch)
		}
		if c := ch.Changes[0]; c.Kind != shared.KindGroup || c.ID != "g1" || c.Deleted {
			t.Errorf("first change %+v, want group g1", c)
		}
		if c := ch.Changes[1]; c.Kind != shared.KindUser || c.ID != "bob" || !c.Deleted {
			t.Errorf("second change %+v, want the tombstone of bob", c)
		}
		r.c.Close(websocket.StatusNormalClosure, "")
	})
	t.Run("OtherEpochStartsOver", func(t *testing.T) {
		r := mustDialRaw(t, f.o, sharedToken)
		if w := r.welcome(hello("n", "eu", "another-epoch", rev)); w.Mode != wire.ModeSnapshot {
			t.Fatalf("mode %q, want snapshot", w.Mode)
		}
		r.c.Close(websocket.StatusNormalClosure, "")
	})
	t.Run("BehindTheHorizonStartsOver", func(t *testing.T) {
		head, _ := f.o.Store().Head(ctx)
		if err := f.o.Store().Compact(ctx, head.Revision); err != nil {
			t.Fatal(err)
		}
		r := mustDialRaw(t, f.o, sharedToken)
		if w := r.welcome(hello("n", "eu", w.Epoch, rev)); w.Mode != wire.ModeSnapshot {
			t.Fatalf("mode %q, want snapshot", w.Mode)
		}
		snap, _ := r.readSnapshot()
		if _, ok := snap[key(shared.KindUser, "bob")]; ok {
			t.Errorf("snapshot still holds the deleted bob")
		}
	})
}

// TestTrustedViewLeavesOutLocalVariables checks invariant 4 for trusted
// leaves, and that a variable turning local arrives as a delete.
func TestTrustedViewLeavesOutLocalVariables(t *testing.T) {
	f := newFixture(t, origin.Options{})
	mustPut(t, f.o, &shared.TemplateVar{Meta: shared.Meta{ID: "v1"}, Name: "v1", Value: "1"})
	mustPut(t, f.o, &shared.TemplateVar{Meta: shared.Meta{ID: "v2"}, Name: "v2", Value: "2", Local: true})
	mustPut(t, f.o, &shared.TemplateVar{Meta: shared.Meta{ID: "v3"}, Name: "v3", Value: "sealed:v1:x", Protected: true})
	r := mustDialRaw(t, f.o, sharedToken)
	r.welcome(hello("n", "eu", "", 0))
	snap, _ := r.readSnapshot()
	if _, ok := snap[key(shared.KindTemplateVar, "v2")]; ok {
		t.Errorf("a trusted leaf got a local variable")
	}
	if _, ok := snap[key(shared.KindTemplateVar, "v3")]; !ok {
		t.Errorf("a trusted leaf did not get a protected variable")
	}
	if u := decodeData[shared.User](t, snap[key(shared.KindUser, "ann")]); u.PasswordHash == "" {
		t.Errorf("a trusted leaf did not get the password hash")
	}
	mustPut(t, f.o, &shared.TemplateVar{Meta: shared.Meta{ID: "v1"}, Name: "v1", Value: "1", Local: true})
	ch := r.nextSkipping().(*wire.Changes)
	if len(ch.Changes) != 1 || !ch.Changes[0].Deleted || ch.Changes[0].ID != "v1" {
		t.Fatalf("a variable turned local: got %+v, want its tombstone", ch.Changes)
	}
}

func TestHubShutdownClosesLinksWithAReason(t *testing.T) {
	f := newFixture(t, origin.Options{})
	r := mustDialRaw(t, f.o, sharedToken)
	r.welcome(hello("n", "eu", "", 0))
	r.readSnapshot()
	go f.o.stop()
	r.expectClose(int(websocket.StatusGoingAway), "origin is shutting down")
}

func TestLeavesShowsTheFleet(t *testing.T) {
	f := newFixture(t, origin.Options{KeepAlive: 10 * time.Millisecond})
	r := mustDialRaw(t, f.o, f.leafToken)
	h := hello("node-us", "us", "", 0)
	h.Runtimes = []string{"docker", "nomad"}
	r.welcome(h)
	_, rev := r.readSnapshot()
	r.send(&wire.Ack{Applied: rev})
	go func() { // keep reading, which answers the hub's pings
		for {
			if _, _, err := r.c.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	eventually(t, 5*time.Second, func() string {
		ls := f.o.hub().Leaves()
		if len(ls) != 1 {
			return "no leaf listed"
		}
		in := ls[0]
		if in.NodeID != "node-us" || in.Location != "us" || in.Protocol != wire.ProtocolMax || in.Version != "test" || !in.Connected ||
			len(in.Runtimes) != 2 || in.Applied != rev || in.Lag != 0 || in.RTT <= 0 || in.ConnectedSince.IsZero() || in.LastSeen.IsZero() {
			return "leaf info " + jsonString(in)
		}
		return ""
	})
	r.c.Close(websocket.StatusNormalClosure, "")
	eventually(t, 5*time.Second, func() string {
		if ls := f.o.hub().Leaves(); len(ls) != 1 || ls[0].Connected {
			return "leaf still connected: " + jsonString(ls)
		}
		return ""
	})
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
