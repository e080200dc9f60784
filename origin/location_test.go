package origin_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
)

// usSecret is the API token of the user named "us", a name that is also
// the location of the fixture's leaf token.
const usSecret = "api-secret-of-the-user-named-us"

func addUserNamedUs(t *testing.T, f *fixture) {
	t.Helper()
	mustPut(t, f.o, &shared.User{Meta: shared.Meta{ID: "u-us"}, Username: "us", Email: "us@example.com", Active: true})
	mustPut(t, f.o, &shared.Token{Meta: shared.Meta{ID: crypt.HashToken(usSecret)}, UserID: "u-us", Name: "us's"})
}

// answerCommands answers every command r reads with success and sends its
// space id on got, until the link ends.
func answerCommands(r *rawLeaf, got chan<- string) {
	for {
		f, err := r.next()
		if err != nil {
			return
		}
		if c, ok := f.(*wire.Command); ok {
			got <- c.SpaceID
			b, _ := wire.Encode(&wire.CommandResult{ID: c.ID})
			r.c.Write(context.Background(), 1, b)
		}
	}
}

func TestAUsernameNeverTakesATrustedLocation(t *testing.T) {
	f := newFixture(t, origin.Options{EnableLeafAPITokens: true})
	addUserNamedUs(t, f)
	h := f.o.hub()
	a := mustDialRaw(t, f.o, f.leafToken)
	a.welcome(hello("node-a", "us", "", 0))
	a.readSnapshot()

	// The user named "us" cannot name the location "us", nor take over
	// node-a's link by claiming its node id.
	u := mustDialRaw(t, f.o, usSecret)
	u.expectRefusal(hello("n-u", "us", "", 0), false, `set server.location to "user:us"`)
	u = mustDialRaw(t, f.o, usSecret)
	u.expectRefusal(hello("node-a", "", "", 0), true, `node id "node-a" is in use by a leaf of another location`)
	u = mustDialRaw(t, f.o, usSecret)
	if w := u.welcome(hello("n-u", "", "", 0)); w.Location != "user:us" || !w.Restricted {
		t.Fatalf("welcome %+v, want restricted at user:us", w)
	}

	// The trusted leaf still serves "us": commands for it reach node-a.
	got := make(chan string, 1)
	go answerCommands(a, got)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Command(ctx, "us", wire.Command{Action: wire.ActionStop, SpaceID: "s1"}); err != nil {
		t.Fatalf("command to us: %v", err)
	}
	if id := <-got; id != "s1" {
		t.Fatalf("node-a got a command about %s", id)
	}
	var trusted int
	for _, in := range h.Leaves() {
		if in.Location == "us" && in.NodeID == "node-a" && in.Connected && !in.Restricted {
			trusted++
		}
	}
	if trusted != 1 {
		t.Fatalf("the fleet %+v lost node-a at us", h.Leaves())
	}
}

func TestRefusalNamesNoOtherNode(t *testing.T) {
	f := newFixture(t, origin.Options{})
	a := mustDialRaw(t, f.o, f.leafToken)
	a.welcome(hello("node-secret-id", "us", "", 0))
	a.readSnapshot()
	b := mustDialRaw(t, f.o, sharedToken)
	b.send(hello("node-b", "us", "", 0))
	ref, ok := b.mustNext().(*wire.Refusal)
	if !ok || !strings.Contains(ref.Reason, `location "us" is already served by another leaf node`) || strings.Contains(ref.Reason, "node-secret-id") {
		t.Fatalf("refusal %+v: want one that names no other node", ref)
	}
}

func TestNoLinkServesTheOriginsOwnLocation(t *testing.T) {
	f := newFixture(t, origin.Options{})
	ctx := context.Background()
	for _, loc := range []string{"origin", "ORIGIN"} {
		r := mustDialRaw(t, f.o, sharedToken)
		r.expectRefusal(hello("n-"+loc, loc, "", 0), false, "this origin's own location")
	}
	if _, _, err := f.o.hub().CreateLeafToken(ctx, "origin", "mine"); shared.ErrorCode(err) != shared.EINVALID || !strings.Contains(shared.ErrorMessage(err), "own location") {
		t.Fatalf("CreateLeafToken for the origin's location: %v, want EINVALID", err)
	}
	// A token for it stored before the rule is refused at the link.
	mustPut(t, f.o, &shared.LeafToken{Meta: shared.Meta{ID: crypt.HashToken("old-origin-token")}, Location: "origin", Name: "old"})
	r := mustDialRaw(t, f.o, "old-origin-token")
	r.expectRefusal(hello("n-old", "", "", 0), false, "this origin's own location")
}

func TestTrustedCredentialsCannotClaimARestrictedLocation(t *testing.T) {
	f := newFixture(t, origin.Options{EnableLeafAPITokens: true})
	r := mustDialRaw(t, f.o, sharedToken)
	r.expectRefusal(hello("n-x", "user:ann", "", 0), false, `restricted location of user "ann"`)
	if _, _, err := f.o.hub().CreateLeafToken(context.Background(), "USER:ann", ""); shared.ErrorCode(err) != shared.EINVALID {
		t.Fatalf("CreateLeafToken for a restricted location: %v, want EINVALID", err)
	}
}

func TestRestrictedLeafIsCommandedOnlyAboutItsOwnersSpaces(t *testing.T) {
	f := newFixture(t, origin.Options{EnableLeafAPITokens: true})
	mustPut(t, f.o, &shared.Space{Meta: shared.Meta{ID: "s-bob"}, UserID: "bob", Name: "bobs", Location: "user:ann", State: shared.SpaceStopped})
	mustPut(t, f.o, &shared.Space{Meta: shared.Meta{ID: "s-ann"}, UserID: "ann", Name: "anns", Location: "user:ann", State: shared.SpaceStopped})
	r := mustDialRaw(t, f.o, apiSecret)
	r.welcome(hello("n-ann", "", "", 0))
	got := make(chan string, 4)
	go answerCommands(r, got)
	h := f.o.hub()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bobs, _ := json.Marshal(&shared.Space{Meta: shared.Meta{ID: "s-new"}, UserID: "bob", Name: "new", Location: "user:ann"})
	for _, cmd := range []wire.Command{
		{Action: wire.ActionStart, SpaceID: "s-bob"},
		{Action: wire.ActionDelete, SpaceID: "s-unknown"},
		{Action: wire.ActionCreate, SpaceID: "s-new", Space: bobs},
	} {
		err := h.Command(ctx, "user:ann", cmd)
		if shared.ErrorCode(err) != shared.EFORBIDDEN {
			t.Fatalf("%s %s at ann's restricted leaf: %v, want EFORBIDDEN", cmd.Action, cmd.SpaceID, err)
		}
	}
	if err := h.Command(ctx, "user:ann", wire.Command{Action: wire.ActionStart, SpaceID: "s-ann"}); err != nil {
		t.Fatalf("start of ann's own space: %v", err)
	}
	if id := <-got; id != "s-ann" {
		t.Fatalf("the restricted leaf was sent a command about %s", id)
	}
}

func TestRestrictedLeafAuditEventsAreItsOwners(t *testing.T) {
	f := newFixture(t, origin.Options{EnableLeafAPITokens: true})
	r := mustDialRaw(t, f.o, apiSecret)
	r.welcome(hello("n-ann", "", "", 0))
	claimed := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	r.send(&wire.AuditReport{Store: "leaf-store", Events: []wire.AuditEvent{{ID: 1, At: claimed, Actor: "admin", ActorType: "user", Event: "User Delete", Details: "user bob deleted"}}})
	for {
		if ack, ok := r.nextSkipping().(*wire.AuditAck); ok {
			if ack.Code != "" || ack.Upto != 1 {
				t.Fatalf("audit ack %+v", ack)
			}
			break
		}
	}
	evs, _, err := f.o.Store().ListAudit(context.Background(), 0, 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("audit log %v, %v", evs, err)
	}
	e := evs[0]
	if e.Actor != "ann" || !e.At.Equal(f.clock.Now()) || e.Location != "user:ann" {
		t.Errorf("stored event by %q at %s in %q, want by ann at %s (the receive time) in user:ann", e.Actor, e.At, e.Location, f.clock.Now())
	}
	if e.Properties[origin.PropLeafActor] != "admin" || e.Properties[origin.PropLeafAt] != claimed.Format(time.RFC3339Nano) {
		t.Errorf("the leaf's claims are not kept as properties: %v", e.Properties)
	}
}

func TestRestrictedLeafReportsPassTheSpaceCheck(t *testing.T) {
	f := newFixture(t, origin.Options{EnableLeafAPITokens: true})
	o := f.o
	var mu sync.Mutex
	var checked []string
	o.hub().SetHome("origin", func(ctx context.Context, owner *shared.User, old, sp *shared.Space) error {
		mu.Lock()
		defer mu.Unlock()
		checked = append(checked, owner.ID+"/"+sp.Name)
		if sp.Name == "bad" {
			return shared.Errorf(shared.EINVALID, "name bad is bad")
		}
		return nil
	})
	r := mustDialRaw(t, o, apiSecret)
	r.welcome(hello("n-ann", "", "", 0))
	r.readSnapshot()
	report := func(rev int64, name, code string) {
		t.Helper()
		r.send(&wire.SpaceReport{LeafRevision: rev, SpaceID: "s-" + name, Space: []byte(`{"id":"s-` + name + `","user_id":"ann","name":"` + name + `","location":"user:ann","state":"stopped","shell":"bash"}`)})
		for {
			if ack, ok := r.nextSkipping().(*wire.SpaceAck); ok {
				if ack.Code != code {
					t.Fatalf("report of %s: ack %+v, want code %q", name, ack, code)
				}
				return
			}
		}
	}
	report(1, "bad", shared.EINVALID)
	report(2, "good", "")
	if _, err := storage.Get[shared.Space](context.Background(), o.Store(), "s-bad"); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Errorf("the refused space was stored: %v", err)
	}
	if _, err := storage.Get[shared.Space](context.Background(), o.Store(), "s-good"); err != nil {
		t.Errorf("the good space was not stored: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(checked) != 2 || checked[0] != "ann/bad" {
		t.Errorf("checked %v", checked)
	}
}

func TestRestrictedLeafReportsAreRefusedWithoutACheck(t *testing.T) {
	f := newFixture(t, origin.Options{EnableLeafAPITokens: true})
	r := mustDialRaw(t, f.o, apiSecret)
	r.welcome(hello("n-ann", "", "", 0))
	r.readSnapshot()
	r.send(&wire.SpaceReport{LeafRevision: 1, SpaceID: "s1", Space: []byte(`{"id":"s1","user_id":"ann","name":"dev","location":"user:ann","state":"stopped","shell":"bash"}`)})
	for {
		if ack, ok := r.nextSkipping().(*wire.SpaceAck); ok {
			if ack.Code != shared.EUNAVAILABLE {
				t.Fatalf("ack %+v, want %s", ack, shared.EUNAVAILABLE)
			}
			return
		}
	}
}
