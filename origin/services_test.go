package origin_test

import (
	"context"
	"testing"
	"time"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
)

// actorCtx returns a context acting for a user holding perms (and the
// Admin role when admin is true).
func actorCtx(perms []shared.Permission, admin bool) context.Context {
	u := &shared.User{Meta: shared.Meta{ID: "actor"}, Username: "actor"}
	if admin {
		u.Roles = []string{shared.AdminRoleID}
	}
	return shared.NewContextWithActor(context.Background(), shared.NewActor(u, shared.PermissionsOf(perms)))
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := shared.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

func ptr[T any](v T) *T { return &v }

func serviceOpts() origin.ServiceOptions {
	return origin.ServiceOptions{Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }}
}

// countKind returns how many records of kind store holds.
func countKind(t *testing.T, store storage.Store, kind shared.Kind) int {
	t.Helper()
	cs, err := store.List(context.Background(), kind)
	if err != nil {
		t.Fatal(err)
	}
	return len(cs)
}

func TestGroupService(t *testing.T) {
	store := memory.New()
	svc := origin.NewGroupService(store, serviceOpts())
	manager := actorCtx([]shared.Permission{shared.PermManageGroups}, false)
	plain := actorCtx([]shared.Permission{shared.PermUseSpaces}, false)

	g := &shared.Group{Name: "devs", MaxSpaces: 3}
	if err := svc.Create(manager, g); err != nil {
		t.Fatal(err)
	}
	if g.ID == "" || !g.CreatedAt.Equal(serviceOpts().Now()) {
		t.Fatalf("created group = %+v: no id or wrong timestamp", g)
	}

	t.Run("ErrNoActor", func(t *testing.T) {
		_, err := svc.List(context.Background(), shared.ListOptions{})
		wantCode(t, err, shared.EUNAUTHORIZED)
		wantCode(t, svc.Create(context.Background(), &shared.Group{Name: "x1"}), shared.EUNAUTHORIZED)
	})
	t.Run("AnyActorLists", func(t *testing.T) {
		page, err := svc.List(plain, shared.ListOptions{})
		groups := page.Items
		if err != nil || len(groups) != 1 || groups[0].Name != "devs" {
			t.Fatalf("List = %v, %v", groups, err)
		}
	})
	t.Run("ErrForbiddenWithoutManageGroups", func(t *testing.T) {
		wantCode(t, svc.Create(plain, &shared.Group{Name: "mine"}), shared.EFORBIDDEN)
		_, err := svc.Get(plain, g.ID)
		wantCode(t, err, shared.EFORBIDDEN)
		_, err = svc.Update(plain, g.ID, shared.GroupUpdate{Name: ptr("mine")})
		wantCode(t, err, shared.EFORBIDDEN)
		_, err = svc.Delete(plain, g.ID)
		wantCode(t, err, shared.EFORBIDDEN)
		if n := countKind(t, store, shared.KindGroup); n != 1 {
			t.Fatalf("%d groups after refused writes, want 1", n)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, bad := range []*shared.Group{{}, {Name: "a--b"}, {Name: "9lives"}, {Name: "ok-name", ComputeUnits: -1}, {Name: "ok-name", MaxTunnels: 1_000_001}} {
			wantCode(t, svc.Create(manager, bad), shared.EINVALID)
		}
		_, err := svc.Update(manager, g.ID, shared.GroupUpdate{StorageUnits: ptr(-5)})
		wantCode(t, err, shared.EINVALID)
		if n := countKind(t, store, shared.KindGroup); n != 1 {
			t.Fatalf("%d groups after invalid writes, want 1", n)
		}
	})
	t.Run("ErrConflictOnName", func(t *testing.T) {
		wantCode(t, svc.Create(manager, &shared.Group{Name: "DEVS"}), shared.ECONFLICT)
		other := &shared.Group{Name: "ops"}
		if err := svc.Create(manager, other); err != nil {
			t.Fatal(err)
		}
		_, err := svc.Update(manager, other.ID, shared.GroupUpdate{Name: ptr("Devs")})
		wantCode(t, err, shared.ECONFLICT)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := svc.Get(manager, "nope")
		wantCode(t, err, shared.ENOTFOUND)
		_, err = svc.Update(manager, "nope", shared.GroupUpdate{})
		wantCode(t, err, shared.ENOTFOUND)
		_, err = svc.Delete(manager, "nope")
		wantCode(t, err, shared.ENOTFOUND)
	})
	t.Run("UpdateSetsOnlyWhatItNames", func(t *testing.T) {
		got, err := svc.Update(manager, g.ID, shared.GroupUpdate{ComputeUnits: ptr(7)})
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "devs" || got.MaxSpaces != 3 || got.ComputeUnits != 7 {
			t.Fatalf("updated group = %+v", got)
		}
	})
	t.Run("ErrLockedWhileInUse", func(t *testing.T) {
		u := &shared.User{Meta: shared.Meta{ID: "u1"}, Username: "ann", Email: "ann@example.com", Groups: []string{g.ID}}
		if err := store.Put(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		_, err := svc.Delete(manager, g.ID)
		wantCode(t, err, shared.ELOCKED)
		if _, err := svc.Get(manager, g.ID); err != nil {
			t.Fatalf("the group in use is gone: %v", err)
		}
		if _, err := store.Delete(context.Background(), shared.KindUser, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Delete(manager, g.ID); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Get(manager, g.ID)
		wantCode(t, err, shared.ENOTFOUND)
	})
}

func TestRoleService(t *testing.T) {
	store := memory.New()
	svc := origin.NewRoleService(store, serviceOpts())
	admin := actorCtx(shared.AllPermissions(), true)
	// An editor of roles who holds nothing else.
	editor := actorCtx([]shared.Permission{shared.PermManageRoles, shared.PermViewAuditLogs}, false)
	plain := actorCtx([]shared.Permission{shared.PermUseSpaces}, false)

	auditor := &shared.Role{Name: "auditor", Permissions: []shared.Permission{shared.PermViewAuditLogs, shared.PermViewAuditLogs}}
	if err := svc.Create(editor, auditor); err != nil {
		t.Fatal(err)
	}
	if len(auditor.Permissions) != 1 {
		t.Fatalf("permissions = %v, want them deduplicated", auditor.Permissions)
	}

	t.Run("ListStartsWithTheBuiltinRoles", func(t *testing.T) {
		page, err := svc.List(plain, shared.ListOptions{})
		roles := page.Items
		if err != nil || len(roles) != 3 || roles[0].ID != shared.AdminRoleID || roles[2].ID != auditor.ID {
			t.Fatalf("List = %v, %v", roles, err)
		}
	})
	t.Run("ErrForbiddenWithoutManageRoles", func(t *testing.T) {
		wantCode(t, svc.Create(plain, &shared.Role{Name: "mine"}), shared.EFORBIDDEN)
		_, err := svc.Get(plain, auditor.ID)
		wantCode(t, err, shared.EFORBIDDEN)
		_, err = svc.Update(plain, auditor.ID, shared.RoleUpdate{Name: ptr("mine")})
		wantCode(t, err, shared.EFORBIDDEN)
		_, err = svc.Delete(plain, auditor.ID)
		wantCode(t, err, shared.EFORBIDDEN)
	})
	t.Run("ErrForbiddenToPutInWhatTheEditorLacks", func(t *testing.T) {
		err := svc.Create(editor, &shared.Role{Name: "users", Permissions: []shared.Permission{shared.PermManageUsers}})
		wantCode(t, err, shared.EFORBIDDEN)
		_, err = svc.Update(editor, auditor.ID, shared.RoleUpdate{Permissions: &[]shared.Permission{shared.PermViewAuditLogs, shared.PermManageUsers}})
		wantCode(t, err, shared.EFORBIDDEN)
		got, err := svc.Get(editor, auditor.ID)
		if err != nil || len(got.Permissions) != 1 {
			t.Fatalf("role after a refused update = %+v, %v", got, err)
		}
		if n := countKind(t, store, shared.KindRole); n != 1 {
			t.Fatalf("%d roles after refused writes, want 1", n)
		}
		// An admin holds them, and a permission the role already had is no
		// grant: the editor may rename a role that holds more than they do.
		strong := &shared.Role{Name: "strong", Permissions: []shared.Permission{shared.PermManageUsers}}
		if err := svc.Create(admin, strong); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Update(editor, strong.ID, shared.RoleUpdate{Name: ptr("stronger")}); err != nil {
			t.Fatalf("renaming without adding permissions: %v", err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, bad := range []*shared.Role{{}, {Name: "a--b"}, {Name: "ok-role", Permissions: []shared.Permission{99}}} {
			wantCode(t, svc.Create(admin, bad), shared.EINVALID)
		}
	})
	t.Run("ErrConflictOnName", func(t *testing.T) {
		wantCode(t, svc.Create(admin, &shared.Role{Name: "AUDITOR"}), shared.ECONFLICT)
		wantCode(t, svc.Create(admin, &shared.Role{Name: "admin"}), shared.ECONFLICT)
	})
	t.Run("ErrLockedForBuiltinRoles", func(t *testing.T) {
		_, err := svc.Update(admin, shared.UserRoleID, shared.RoleUpdate{Name: ptr("people")})
		wantCode(t, err, shared.ELOCKED)
		_, err = svc.Delete(admin, shared.AdminRoleID)
		wantCode(t, err, shared.ELOCKED)
	})
	t.Run("ErrLockedWhileHeld", func(t *testing.T) {
		u := &shared.User{Meta: shared.Meta{ID: "u1"}, Username: "ann", Email: "ann@example.com", Roles: []string{auditor.ID}}
		if err := store.Put(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		_, err := svc.Delete(admin, auditor.ID)
		wantCode(t, err, shared.ELOCKED)
		if _, err := store.Delete(context.Background(), shared.KindUser, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Delete(admin, auditor.ID); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Get(admin, auditor.ID)
		wantCode(t, err, shared.ENOTFOUND)
	})
	t.Run("Permissions", func(t *testing.T) {
		ps, err := svc.Permissions(plain)
		if err != nil || len(ps) != len(shared.AllPermissions()) {
			t.Fatalf("Permissions = %v, %v", ps, err)
		}
		_, err = svc.Permissions(context.Background())
		wantCode(t, err, shared.EUNAUTHORIZED)
	})
}
