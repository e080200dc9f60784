package leaf_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
)

func actorCtx(perms ...shared.Permission) context.Context {
	u := &shared.User{Meta: shared.Meta{ID: "actor"}, Username: "actor"}
	return shared.NewContextWithActor(context.Background(), shared.NewActor(u, shared.PermissionsOf(perms)))
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := shared.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

// A leaf's group and role services read the replica with the origin's
// permission checks.
func TestLeafServicesReadTheReplica(t *testing.T) {
	replica := memory.New()
	ctx := context.Background()
	if err := replica.Put(ctx, &shared.Group{Meta: shared.Meta{ID: "g1"}, Name: "devs"}); err != nil {
		t.Fatal(err)
	}
	if err := replica.Put(ctx, &shared.Role{Meta: shared.Meta{ID: "r1"}, Name: "auditor"}); err != nil {
		t.Fatal(err)
	}
	groups := leaf.NewGroupService(leaf.ServiceOptions{Store: replica})
	roles := leaf.NewRoleService(leaf.ServiceOptions{Store: replica})
	manager := actorCtx(shared.PermManageGroups, shared.PermManageRoles)
	plain := actorCtx(shared.PermUseSpaces)

	if gs, err := groups.List(plain, shared.ListOptions{}); err != nil || len(gs.Items) != 1 || gs.Items[0].Name != "devs" {
		t.Fatalf("List = %v, %v", gs, err)
	}
	if g, err := groups.Get(manager, "g1"); err != nil || g.Name != "devs" {
		t.Fatalf("Get = %v, %v", g, err)
	}
	_, err := groups.Get(plain, "g1")
	wantCode(t, err, shared.EFORBIDDEN)
	_, err = groups.Get(manager, "nope")
	wantCode(t, err, shared.ENOTFOUND)
	_, err = groups.List(ctx, shared.ListOptions{})
	wantCode(t, err, shared.EUNAUTHORIZED)

	if rs, err := roles.List(plain, shared.ListOptions{}); err != nil || len(rs.Items) != 3 || rs.Items[2].Name != "auditor" {
		t.Fatalf("roles List = %v, %v", rs, err)
	}
	if r, err := roles.Get(manager, shared.AdminRoleID); err != nil || r.Name != "Admin" {
		t.Fatalf("roles Get = %v, %v", r, err)
	}
	_, err = roles.Get(plain, "r1")
	wantCode(t, err, shared.EFORBIDDEN)
}

// While the origin is down a write fails at once with the origin's
// EUNAVAILABLE, without sending anything.
func TestLeafServicesRefuseWritesWhileTheOriginIsDown(t *testing.T) {
	replica := memory.New()
	o, asked := downOrigin(t, replica)
	opts := leaf.ServiceOptions{Store: replica, Origin: o}
	ctx := shared.NewContextWithCredential(actorCtx(shared.AllPermissions()...), shared.Credential{Token: "secret"})
	err := leaf.NewGroupService(opts).Create(ctx, &shared.Group{Name: "ops"})
	wantCode(t, err, shared.EUNAVAILABLE)
	if !strings.Contains(shared.ErrorMessage(err), "is not reachable") {
		t.Fatalf("message %q does not say the origin is not reachable", shared.ErrorMessage(err))
	}
	_, err = leaf.NewRoleService(opts).Delete(ctx, "r1")
	wantCode(t, err, shared.EUNAVAILABLE)
	if asked.Load() {
		t.Fatal("a write reached the origin while the uplink was down")
	}
	_, err = leaf.NewGroupService(leaf.ServiceOptions{Store: memory.New()}).Update(ctx, "g1", shared.GroupUpdate{})
	wantCode(t, err, shared.EUNAVAILABLE)
}

// A write goes to a real origin with the caller's credential, and the
// origin's refusals come back as its coded errors.
func TestLeafServicesWriteAtTheOrigin(t *testing.T) {
	admin, o, token := originAdmin(t)
	ctx := context.Background()
	opts := leaf.ServiceOptions{Store: memory.New(), Origin: o}
	groups, roles := leaf.NewGroupService(opts), leaf.NewRoleService(opts)
	actor := shared.NewContextWithCredential(actorCtx(shared.AllPermissions()...), shared.Credential{Token: token})

	g := &shared.Group{Name: "devs", MaxSpaces: 2}
	if err := groups.Create(actor, g); err != nil {
		t.Fatal(err)
	}
	if g.ID == "" || g.CreatedAt.IsZero() {
		t.Fatalf("created group = %+v", g)
	}
	name := "developers"
	if got, err := groups.Update(actor, g.ID, shared.GroupUpdate{Name: &name}); err != nil || got.Name != name || got.MaxSpaces != 2 {
		t.Fatalf("Update = %+v, %v", got, err)
	}
	if at, err := admin.Groups().Get(ctx, g.ID); err != nil || at.Name != name {
		t.Fatalf("the origin holds %+v, %v", at, err)
	}
	wantCode(t, groups.Create(actor, &shared.Group{Name: "DEVELOPERS"}), shared.ECONFLICT)
	wantCode(t, groups.Create(actor, &shared.Group{Name: "a--b"}), shared.EINVALID)
	if _, err := groups.Delete(actor, g.ID); err != nil {
		t.Fatal(err)
	}
	_, err := admin.Groups().Get(ctx, g.ID)
	wantCode(t, err, shared.ENOTFOUND)

	r := &shared.Role{Name: "auditor", Permissions: []shared.Permission{shared.PermViewAuditLogs}}
	if err := roles.Create(actor, r); err != nil {
		t.Fatal(err)
	}
	_, err = roles.Update(actor, shared.AdminRoleID, shared.RoleUpdate{Name: &name})
	wantCode(t, err, shared.ELOCKED)
	if got, err := roles.Delete(actor, r.ID); err != nil || got.Name != "auditor" {
		t.Fatalf("Delete = %+v, %v", got, err)
	}
}

// downOrigin returns a leaf's way to an origin whose uplink has not
// connected, and a flag that is set if a request reaches that origin.
func downOrigin(t *testing.T, replica storage.Store) (*leaf.Origin, *atomic.Bool) {
	t.Helper()
	asked := new(atomic.Bool)
	ts := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { asked.Store(true) }))
	t.Cleanup(ts.Close)
	up, err := leaf.New(leaf.Options{Store: replica, OriginURL: ts.URL, Token: "t", NodeID: "n"})
	if err != nil {
		t.Fatal(err)
	}
	return leaf.NewOrigin(leaf.OriginOptions{URL: ts.URL, Uplink: up}), asked
}
