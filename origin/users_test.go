package origin_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
)

// actorOf returns a context acting for u with the permissions of its
// roles.
func actorOf(u *shared.User, perms ...shared.Permission) context.Context {
	return shared.NewContextWithActor(context.Background(), shared.NewActor(u, shared.PermissionsOf(perms)))
}

const password = "a-long-password"

// newUsers returns the user service over a fresh store, with its admin
// (made by Setup) and the admin's context.
func newUsers(t *testing.T) (storage.Store, *origin.UserService, *shared.User, context.Context) {
	t.Helper()
	store := memory.New()
	svc := origin.NewUserService(store, serviceOpts(), nil)
	admin, err := svc.Setup(context.Background(), shared.NewUser{Username: "root", Email: "root@example.com", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return store, svc, admin, actorOf(admin, shared.AllPermissions()...)
}

func put(t *testing.T, store storage.Store, recs ...shared.Record) {
	t.Helper()
	for _, r := range recs {
		if err := store.Put(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
}

// Of several setups at once, on services sharing one store as servers
// share one database, exactly one makes its admin; the others are told to
// log in or that another setup won.
func TestUserSetupMakesOneAdmin(t *testing.T) {
	store := memory.New()
	const n = 8
	var wg sync.WaitGroup
	var made atomic.Int32
	for i := range n {
		svc := origin.NewUserService(store, serviceOpts(), nil) // one per server
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, err := svc.Setup(context.Background(), shared.NewUser{Username: "root" + string(rune('a'+i)), Email: "root" + string(rune('a'+i)) + "@example.com", Password: password})
			switch code := shared.ErrorCode(err); {
			case err == nil:
				if !u.Active || len(u.Roles) != 1 || u.Roles[0] != shared.AdminRoleID {
					t.Errorf("first user = %+v, want an active Admin", u)
				}
				made.Add(1)
			case code != shared.ECONFLICT && code != shared.EUNAUTHORIZED:
				t.Errorf("setup: %v", err)
			}
		}()
	}
	wg.Wait()
	if made.Load() != 1 || countKind(t, store, shared.KindUser) != 1 {
		t.Fatalf("%d setups succeeded and %d users exist, want 1", made.Load(), countKind(t, store, shared.KindUser))
	}
	_, err := origin.NewUserService(store, serviceOpts(), nil).Setup(context.Background(), shared.NewUser{Username: "late", Email: "late@example.com", Password: password})
	wantCode(t, err, shared.EUNAUTHORIZED)
}

func TestUserCreate(t *testing.T) {
	store, svc, _, admin := newUsers(t)
	manager := actorOf(&shared.User{Meta: shared.Meta{ID: "m"}, Username: "m"}, shared.PermManageUsers)

	u, err := svc.Create(admin, shared.NewUser{Username: "ann", Email: "ann@example.com", Password: password, Groups: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if u.Roles[0] != shared.UserRoleID || !u.Active || u.ServicePassword == "" || !crypt.CheckPassword(u.PasswordHash, password) {
		t.Fatalf("created user = %+v", u)
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		nu   shared.NewUser
		code string
		msg  string
	}{
		{"NoActor", context.Background(), shared.NewUser{Username: "bob", Email: "bob@example.com", Password: password}, shared.EUNAUTHORIZED, ""},
		{"WithoutManageUsers", actorOf(u, shared.PermUseSpaces), shared.NewUser{Username: "bob", Email: "bob@example.com", Password: password}, shared.EFORBIDDEN, "Manage Users"},
		{"GrantsAdmin", manager, shared.NewUser{Username: "bob", Email: "bob@example.com", Password: password, Roles: &[]string{shared.AdminRoleID}}, shared.EFORBIDDEN, "Admin"},
		{"BadEmail", admin, shared.NewUser{Username: "bob", Email: "bob", Password: password}, shared.EINVALID, "email"},
		{"ShortPassword", admin, shared.NewUser{Username: "bob", Email: "bob@example.com", Password: "short"}, shared.EINVALID, "password"},
		{"UnknownGroup", admin, shared.NewUser{Username: "bob", Email: "bob@example.com", Password: password, Groups: []string{"g?"}}, shared.EINVALID, "groups"},
		{"Quota", admin, shared.NewUser{Username: "bob", Email: "bob@example.com", Password: password, MaxSpaces: -1}, shared.EINVALID, "max_spaces"},
		{"TimeZone", admin, shared.NewUser{Username: "bob", Email: "bob@example.com", Password: password, Timezone: "Mars/Olympus"}, shared.EINVALID, "timezone"},
		{"EmailTaken", admin, shared.NewUser{Username: "bob", Email: "ANN@example.com", Password: password}, shared.ECONFLICT, "email"},
		{"UsernameTaken", admin, shared.NewUser{Username: "Ann", Email: "bob@example.com", Password: password}, shared.ECONFLICT, "named"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Create(tc.ctx, tc.nu)
			wantCode(t, err, tc.code)
			if !strings.Contains(shared.ErrorMessage(err), tc.msg) {
				t.Fatalf("error %q does not say %q", shared.ErrorMessage(err), tc.msg)
			}
		})
	}
	if n := countKind(t, store, shared.KindUser); n != 2 {
		t.Fatalf("%d users after the refused creations, want 2", n)
	}
}

// A user changes their own profile but not their roles, groups, active
// flag or quotas; a new password ends their other sessions and their API
// tokens unless they keep them, with the change.
func TestUserUpdate(t *testing.T) {
	store, svc, _, admin := newUsers(t)
	ann, err := svc.Create(admin, shared.NewUser{Username: "ann", Email: "ann@example.com", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	self := actorOf(ann, shared.PermUseSpaces)
	for name, upd := range map[string]shared.UserUpdate{
		"roles": {Roles: &[]string{shared.AdminRoleID}}, "groups": {Groups: &[]string{}}, "active": {Active: ptr(false)},
		"max_spaces": {MaxSpaces: ptr(9)},
	} {
		if name == "groups" {
			upd.Groups = &[]string{"g1"}
		}
		_, err := svc.Update(self, ann.ID, upd)
		wantCode(t, err, shared.EFORBIDDEN)
		if !strings.Contains(shared.ErrorMessage(err), name) {
			t.Fatalf("changing own %s: %v", name, err)
		}
	}
	_, err = svc.Update(self, ann.ID, shared.UserUpdate{Username: ptr("anna")})
	wantCode(t, err, shared.EINVALID)
	if u, err := svc.Update(self, ann.ID, shared.UserUpdate{Timezone: ptr("Europe/London"), PreferredShell: ptr("zsh")}); err != nil || u.Timezone != "Europe/London" {
		t.Fatalf("own profile: %+v, %v", u, err)
	}

	sessions := []*shared.Session{{Meta: shared.Meta{ID: "s1"}, UserID: ann.ID}, {Meta: shared.Meta{ID: "s2"}, UserID: ann.ID}}
	put(t, store, sessions[0], sessions[1], &shared.Token{Meta: shared.Meta{ID: "t1"}, UserID: ann.ID, Name: "ci"})
	if _, err := svc.Update(self, ann.ID, shared.UserUpdate{Password: ptr("another-password"), CurrentPassword: password, KeepSession: "s1", KeepTokens: true}); err != nil {
		t.Fatal(err)
	}
	if countKind(t, store, shared.KindSession) != 1 || countKind(t, store, shared.KindToken) != 1 {
		t.Fatal("a new password kept the other session, or did not keep the tokens")
	}
	if _, err := svc.Update(admin, ann.ID, shared.UserUpdate{Password: ptr("a-third-password"), KeepSession: "s1"}); err != nil {
		t.Fatal(err)
	}
	if countKind(t, store, shared.KindSession) != 0 || countKind(t, store, shared.KindToken) != 0 {
		t.Fatal("an admin's new password for ann left her sessions or tokens")
	}
	_, err = svc.Update(actorOf(ann, shared.PermManageUsers), ann.ID, shared.UserUpdate{Active: ptr(false)})
	wantCode(t, err, shared.EINVALID)
}

// failingDeletes is a store whose transactions fail every delete of kind
// while fail is set.
type failingDeletes struct {
	storage.Store
	kind shared.Kind
	fail atomic.Bool
}

func (s *failingDeletes) Update(ctx context.Context, fn func(tx storage.Tx) error) error {
	return s.Store.Update(ctx, func(tx storage.Tx) error { return fn(&failingTx{Tx: tx, s: s}) })
}

type failingTx struct {
	storage.Tx
	s *failingDeletes
}

func (t *failingTx) Delete(ctx context.Context, kind shared.Kind, id string) error {
	if kind == t.s.kind && t.s.fail.Load() {
		return shared.Errorf(shared.EINTERNAL, "injected failure")
	}
	return t.Tx.Delete(ctx, kind, id)
}

// A password change writes the user and deletes their sessions and tokens
// in one transaction: when a delete fails, the old password still holds.
func TestUserUpdateIsAllOrNothing(t *testing.T) {
	base, svc, _, admin := newUsers(t)
	ann, err := svc.Create(admin, shared.NewUser{Username: "ann", Email: "ann@example.com", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	store := &failingDeletes{Store: base, kind: shared.KindToken}
	svc = origin.NewUserService(store, serviceOpts(), nil)
	put(t, store, &shared.Session{Meta: shared.Meta{ID: "s1"}, UserID: ann.ID}, &shared.Token{Meta: shared.Meta{ID: "t1"}, UserID: ann.ID})
	store.fail.Store(true)
	_, err = svc.Update(admin, ann.ID, shared.UserUpdate{Password: ptr("another-password")})
	wantCode(t, err, shared.EINTERNAL)
	got, err := storage.Get[shared.User](context.Background(), store, ann.ID)
	if err != nil || !crypt.CheckPassword(got.PasswordHash, password) || countKind(t, store, shared.KindSession) != 1 {
		t.Fatal("a failed password change changed the password or ended a session")
	}
}

// Deleting a user deletes their spaces through the space deleter, then the
// user, their tokens and their sessions together or not at all.
func TestUserDelete(t *testing.T) {
	base, svc, root, admin := newUsers(t)
	ann, err := svc.Create(admin, shared.NewUser{Username: "ann", Email: "ann@example.com", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	store := &failingDeletes{Store: base, kind: shared.KindUser}
	var deleted []string
	svc = origin.NewUserService(store, serviceOpts(), func(ctx context.Context, sp *shared.Space) error {
		deleted = append(deleted, sp.ID)
		_, err := store.Delete(ctx, shared.KindSpace, sp.ID)
		return err
	})
	put(t, store, &shared.Session{Meta: shared.Meta{ID: "s1"}, UserID: ann.ID}, &shared.Token{Meta: shared.Meta{ID: "t1"}, UserID: ann.ID},
		&shared.Space{Meta: shared.Meta{ID: "sp1"}, UserID: ann.ID, Name: "work", Location: "home"})

	_, _, err = svc.Delete(admin, root.ID)
	wantCode(t, err, shared.EFORBIDDEN)
	_, _, err = svc.Delete(actorOf(&shared.User{Meta: shared.Meta{ID: "x"}}, shared.PermUseSpaces), ann.ID)
	wantCode(t, err, shared.EFORBIDDEN)

	store.fail.Store(true)
	_, _, err = svc.Delete(admin, ann.ID)
	wantCode(t, err, shared.EINTERNAL)
	if countKind(t, store, shared.KindToken) != 1 || countKind(t, store, shared.KindSession) != 1 || countKind(t, store, shared.KindUser) != 2 {
		t.Fatal("a failed user deletion deleted some of the user's records")
	}
	store.fail.Store(false)
	u, spaces, err := svc.Delete(admin, ann.ID)
	if err != nil || u.ID != ann.ID || len(spaces) != 0 {
		t.Fatalf("Delete = %v, %v, %v (the space went with the failed try)", u, spaces, err)
	}
	if len(deleted) != 1 || countKind(t, store, shared.KindToken) != 0 || countKind(t, store, shared.KindSession) != 0 || countKind(t, store, shared.KindUser) != 1 {
		t.Fatalf("after the deletion: spaces deleted %v, and records remain", deleted)
	}
}

// The quota of a user is their limits plus their groups' and what their
// spaces use.
func TestUserQuota(t *testing.T) {
	store, svc, _, admin := newUsers(t)
	put(t, store, &shared.Group{Meta: shared.Meta{ID: "g1"}, Name: "devs", MaxSpaces: 2, ComputeUnits: 10},
		&shared.Template{Meta: shared.Meta{ID: "t1"}, Name: "go", ComputeUnits: 4, StorageUnits: 1})
	ann, err := svc.Create(admin, shared.NewUser{Username: "ann", Email: "ann@example.com", Password: password, Groups: []string{"g1"}, MaxSpaces: 1})
	if err != nil {
		t.Fatal(err)
	}
	put(t, store, &shared.Space{Meta: shared.Meta{ID: "sp1"}, UserID: ann.ID, TemplateID: "t1", Name: "a", Location: "home", State: shared.SpaceRunning},
		&shared.Space{Meta: shared.Meta{ID: "sp2"}, UserID: ann.ID, TemplateID: "t1", Name: "b", Location: "home"})
	q, err := svc.Quota(actorOf(ann), ann.ID)
	want := shared.Quota{MaxSpaces: 3, ComputeUnits: 10, NumberSpaces: 2, NumberSpacesDeployed: 1, UsedComputeUnits: 4, UsedStorageUnits: 2}
	if err != nil || q != want {
		t.Fatalf("Quota = %+v, %v, want %+v", q, err, want)
	}
	_, err = svc.Quota(actorOf(&shared.User{Meta: shared.Meta{ID: "x"}}), ann.ID)
	wantCode(t, err, shared.EFORBIDDEN)
}

func TestTokenService(t *testing.T) {
	store := memory.New()
	svc := origin.NewTokenService(store, serviceOpts())
	ann := actorOf(&shared.User{Meta: shared.Meta{ID: "ann"}})
	bob := actorOf(&shared.User{Meta: shared.Meta{ID: "bob"}})
	now := serviceOpts().Now()

	tok, secret, err := svc.Create(ann, "laptop", now.Add(time.Hour))
	if err != nil || tok.ID != crypt.HashToken(secret) || tok.UserID != "ann" {
		t.Fatalf("Create = %+v, %q, %v", tok, secret, err)
	}
	for name, tc := range map[string]struct {
		name    string
		expires time.Time
	}{"NoName": {"", time.Time{}}, "Control": {"a\x00b", time.Time{}}, "Past": {"old", now}} {
		t.Run(name, func(t *testing.T) {
			_, _, err := svc.Create(ann, tc.name, tc.expires)
			wantCode(t, err, shared.EINVALID)
		})
	}
	if own, err := svc.List(bob, shared.ListOptions{}); err != nil || len(own.Items) != 0 {
		t.Fatalf("bob lists %v, %v", own, err)
	}
	_, err = svc.Delete(bob, tok.ID)
	wantCode(t, err, shared.ENOTFOUND)
	for range shared.MaxTokensPerUser - 1 {
		if _, _, err := svc.Create(ann, "more", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = svc.Create(ann, "one too many", time.Time{})
	wantCode(t, err, shared.EQUOTA)
	if got, err := svc.Delete(ann, tok.ID); err != nil || got.Name != "laptop" {
		t.Fatalf("Delete = %+v, %v", got, err)
	}
	if _, _, err := svc.Create(ann, "again", time.Time{}); err != nil {
		t.Fatal(err)
	}
}

// lateSpace is a store that, on the next transaction, first writes a space
// of owner, as a concurrent creation would.
type lateSpace struct {
	storage.Store
	owner string
	once  sync.Once
}

func (s *lateSpace) Update(ctx context.Context, fn func(tx storage.Tx) error) error {
	s.once.Do(func() {
		s.Store.Put(ctx, &shared.Space{Meta: shared.Meta{ID: "late"}, UserID: s.owner, Name: "late", Location: "home"})
	})
	return s.Store.Update(ctx, fn)
}

// A space created while its owner is deleted, after their spaces were
// deleted, fails the deletion instead of outliving its owner; the next try
// deletes it too.
func TestUserDeleteLeavesNoSpace(t *testing.T) {
	base, svc, _, admin := newUsers(t)
	ann, err := svc.Create(admin, shared.NewUser{Username: "ann", Email: "ann@example.com", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	store := &lateSpace{Store: base, owner: ann.ID}
	svc = origin.NewUserService(store, serviceOpts(), nil)
	_, _, err = svc.Delete(admin, ann.ID)
	wantCode(t, err, shared.ECONFLICT)
	if countKind(t, store, shared.KindUser) != 2 {
		t.Fatal("the user was deleted while a space of theirs was left")
	}
	if _, spaces, err := svc.Delete(admin, ann.ID); err != nil || len(spaces) != 1 || spaces[0].ID != "late" {
		t.Fatalf("second Delete = %v, %v", spaces, err)
	}
	if countKind(t, store, shared.KindSpace) != 0 || countKind(t, store, shared.KindUser) != 1 {
		t.Fatal("the user or their space remains")
	}
}
