package leaf_test

import (
	"context"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/storage/memory"
)

// A leaf's user and token services read the replica with the origin's
// permission checks; the quota counts this location's spaces and the
// others' as the origin reports them.
func TestLeafUserServicesReadTheReplica(t *testing.T) {
	replica := memory.New()
	ctx := context.Background()
	ann := &shared.User{Meta: shared.Meta{ID: "actor"}, Username: "ann", Email: "ann@example.com", MaxSpaces: 5, Active: true}
	for _, r := range []shared.Record{ann,
		&shared.User{Meta: shared.Meta{ID: "bob"}, Username: "bob", Email: "bob@example.com"},
		&shared.Space{Meta: shared.Meta{ID: "s1"}, UserID: "actor", Name: "here", Location: "home"},
		&shared.Space{Meta: shared.Meta{ID: "s2"}, UserID: "actor", Name: "there", Location: "far"},
		&shared.Token{Meta: shared.Meta{ID: "t1"}, UserID: "actor", Name: "ci"},
		&shared.Token{Meta: shared.Meta{ID: "t2"}, UserID: "bob", Name: "bobs"},
	} {
		if err := replica.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	far := func(context.Context, string) (api.LeafUsage, error) { return api.LeafUsage{NumberSpaces: 3}, nil }
	users := leaf.NewUserService(leaf.ServiceOptions{Store: replica}, leaf.UserOptions{Location: "home", FarUsage: far})
	plain := actorCtx(shared.PermUseSpaces)
	manager := actorCtx(shared.PermManageUsers)

	if u, err := users.Get(plain, "actor"); err != nil || u.Username != "ann" {
		t.Fatalf("own Get = %v, %v", u, err)
	}
	_, err := users.Get(plain, "bob")
	wantCode(t, err, shared.EFORBIDDEN)
	_, err = users.List(plain, shared.ListOptions{})
	wantCode(t, err, shared.EFORBIDDEN)
	page, err := users.List(manager, shared.ListOptions{State: "active"})
	list := page.Items
	if err != nil || len(list) != 1 || list[0].User.ID != "actor" || list[0].NumberSpaces != 2 {
		t.Fatalf("List(active) = %+v, %v", list, err)
	}
	_, err = users.List(manager, shared.ListOptions{State: "gone"})
	wantCode(t, err, shared.EINVALID)
	if q, err := users.Quota(plain, "actor"); err != nil || q.NumberSpaces != 4 || q.MaxSpaces != 5 {
		t.Fatalf("Quota = %+v, %v, want this location's space and the origin's 3", q, err)
	}
	tokens, err := leaf.NewTokenService(leaf.ServiceOptions{Store: replica}).List(plain, shared.ListOptions{})
	if err != nil || len(tokens.Items) != 1 || tokens.Items[0].Name != "ci" {
		t.Fatalf("tokens = %v, %v", tokens, err)
	}
}

// While the origin is down the writes of users and tokens fail at once.
func TestLeafUserServicesRefuseWritesWhileTheOriginIsDown(t *testing.T) {
	replica := memory.New()
	o, asked := downOrigin(t, replica)
	opts := leaf.ServiceOptions{Store: replica, Origin: o}
	ctx := shared.NewContextWithCredential(actorCtx(shared.AllPermissions()...), shared.Credential{Token: "secret"})
	users := leaf.NewUserService(opts, leaf.UserOptions{})
	_, err := users.Create(ctx, shared.NewUser{Username: "ann"})
	wantCode(t, err, shared.EUNAVAILABLE)
	_, err = users.Update(ctx, "actor", shared.UserUpdate{})
	wantCode(t, err, shared.EUNAVAILABLE)
	_, _, err = users.Delete(ctx, "bob")
	wantCode(t, err, shared.EUNAVAILABLE)
	_, _, err = leaf.NewTokenService(opts).Create(ctx, "ci", time.Time{})
	wantCode(t, err, shared.EUNAVAILABLE)
	_, err = leaf.NewTokenService(opts).Delete(ctx, "t1")
	wantCode(t, err, shared.EUNAVAILABLE)
	if asked.Load() {
		t.Fatal("a write reached the origin while the uplink was down")
	}
}

// Writes of users and tokens go to a real origin, whose refusals come back
// as its coded errors.
func TestLeafUserServicesWriteAtTheOrigin(t *testing.T) {
	ctx := context.Background()
	admin, o, token := originAdmin(t)
	me, err := admin.Users().WhoAmI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	opts := leaf.ServiceOptions{Store: memory.New(), Origin: o}
	users := leaf.NewUserService(opts, leaf.UserOptions{})
	root := &shared.User{Meta: shared.Meta{ID: me.ID}, Username: "admin", Roles: []string{shared.AdminRoleID}}
	actor := shared.NewContextWithActor(ctx, shared.NewActor(root, shared.PermissionsOf(shared.AllPermissions())))
	actor = shared.NewContextWithCredential(actor, shared.Credential{Token: token})

	u, err := users.Create(actor, shared.NewUser{Username: "ann", Email: "ann@example.com", Password: "a-long-password"})
	if err != nil || u.ID == "" || u.Username != "ann" {
		t.Fatalf("Create = %+v, %v", u, err)
	}
	_, err = users.Create(actor, shared.NewUser{Username: "ann", Email: "ann2@example.com", Password: "a-long-password"})
	wantCode(t, err, shared.ECONFLICT)
	if got, err := users.Update(actor, u.ID, shared.UserUpdate{Timezone: ptr("Europe/London")}); err != nil || got.Timezone != "Europe/London" {
		t.Fatalf("Update = %+v, %v", got, err)
	}
	if got, _, err := users.Delete(actor, u.ID); err != nil || got.Username != "ann" {
		t.Fatalf("Delete = %+v, %v", got, err)
	}
	_, err = admin.Users().Get(ctx, u.ID)
	wantCode(t, err, shared.ENOTFOUND)

	tokens := leaf.NewTokenService(opts)
	tok, secret, err := tokens.Create(actor, "ci", time.Time{})
	if err != nil || secret == "" || tok.ID == "" {
		t.Fatalf("token Create = %+v, %q, %v", tok, secret, err)
	}
	if _, err := tokens.Delete(actor, tok.ID); err != nil {
		t.Fatal(err)
	}
	if at, err := admin.Tokens().List(ctx); err != nil || len(at) != 0 {
		t.Fatalf("the origin holds the tokens %+v, %v", at, err)
	}
}
