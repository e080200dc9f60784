package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// A user with Manage Users alone must not make themself an Admin, directly
// or by creating an account with the role.
func TestManageUsersCannotGrantAdmin(t *testing.T) {
	e := newEnv(t)
	e.admin()
	hr := e.role("helpdesk", shared.PermManageUsers)
	helpdesk, token := e.user("helpdesk", hr)
	before := e.revision()

	r := e.must(http.StatusForbidden, "PUT", "/api/users/"+helpdesk.ID, token, map[string]any{"roles": []string{hr, shared.AdminRoleID}})
	if msg := r.errMsg(t); !strings.Contains(msg, "Admin role") {
		t.Fatalf("message %q does not name the Admin role", msg)
	}
	r = e.must(http.StatusForbidden, "POST", "/api/users", token, map[string]any{
		"username": "sock", "email": "sock@example.com", "password": "sock-password", "roles": []string{shared.AdminRoleID},
	})
	if msg := r.errMsg(t); !strings.Contains(msg, "Admin role") {
		t.Fatalf("message %q does not name the Admin role", msg)
	}
	if e.revision() != before {
		t.Fatal("a refused grant wrote to the store")
	}
	var who struct {
		Permissions []shared.Permission `json:"permissions"`
	}
	e.must(http.StatusOK, "GET", "/api/users/whoami", token, nil).decode(t, &who)
	if !slices.Equal(who.Permissions, []shared.Permission{shared.PermManageUsers}) {
		t.Fatalf("helpdesk holds %v, want only Manage Users", who.Permissions)
	}
}

// Every permission is not the Admin role: only an Admin grants it or
// touches an Admin's account.
func TestOnlyAnAdminGrantsAdmin(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.admin()
	all := e.role("everything", shared.AllPermissions()...)
	almost, token := e.user("almost", all)
	before := e.revision()
	e.must(http.StatusForbidden, "PUT", "/api/users/"+almost.ID, token, map[string]any{"roles": []string{all, shared.AdminRoleID}})
	e.must(http.StatusForbidden, "PUT", "/api/users/"+admin.ID, token, map[string]any{"password": "taken-over-password"})
	e.must(http.StatusForbidden, "DELETE", "/api/users/"+admin.ID, token, nil)
	if e.revision() != before {
		t.Fatal("a refused change wrote to the store")
	}
	// All else they may grant.
	ann, _ := e.user("ann")
	e.must(http.StatusOK, "PUT", "/api/users/"+ann.ID, token, map[string]any{"roles": []string{all}})
}

// A user with Manage Users alone must not take over the admin's account, nor
// change its roles, groups or active flag, nor delete it.
func TestManageUsersCannotTouchTheAdmin(t *testing.T) {
	e := newEnv(t)
	admin, adminToken := e.admin()
	_, token := e.user("helpdesk", e.role("helpdesk", shared.PermManageUsers))
	g := e.must(http.StatusCreated, "POST", "/api/groups", adminToken, map[string]any{"name": "devs"})
	var group struct {
		ID string `json:"group_id"`
	}
	g.decode(t, &group)
	before := e.revision()

	for _, body := range []map[string]any{
		{"email": "helpdesk+admin@example.com"},
		{"password": "taken-over-password"},
		{"service_password": "taken-over"},
		{"ssh_public_key": "ssh-ed25519 AAAAtakenover"},
		{"roles": []string{shared.UserRoleID}},
		{"groups": []string{group.ID}},
		{"active": false},
	} {
		r := e.must(http.StatusForbidden, "PUT", "/api/users/"+admin.ID, token, body)
		if msg := r.errMsg(t); !strings.Contains(msg, "Admin") {
			t.Errorf("PUT %v: message %q does not say the Admin role is needed", body, msg)
		}
	}
	e.must(http.StatusForbidden, "DELETE", "/api/users/"+admin.ID, token, nil)
	if e.revision() != before {
		t.Fatal("a refused change to the admin wrote to the store")
	}
	if r := login(e, "admin@example.com", testPassword); r.code != http.StatusOK {
		t.Fatalf("the admin's own login = %d %s", r.code, r.body)
	}
	// Quotas are not the admin's account, and stay open to Manage Users.
	e.must(http.StatusOK, "PUT", "/api/users/"+admin.ID, token, map[string]any{"max_spaces": 3})
}

// A user with Manage Roles alone must not put permissions they lack into a
// role, neither one they hold nor a new one.
func TestManageRolesCannotRaiseARole(t *testing.T) {
	e := newEnv(t)
	rr := e.role("role-editors", shared.PermManageRoles)
	_, token := e.user("editor", rr)
	_, other := e.user("other", rr)
	before := e.revision()

	r := e.must(http.StatusForbidden, "PUT", "/api/roles/"+rr, token, map[string]any{"permissions": shared.AllPermissions()})
	if msg := r.errMsg(t); !strings.Contains(msg, "Manage Users") || strings.Contains(msg, "Manage Roles") {
		t.Fatalf("message %q should name the missing permissions (Manage Users) and only them", msg)
	}
	e.must(http.StatusForbidden, "POST", "/api/roles", token, map[string]any{"name": "everything", "permissions": shared.AllPermissions()})
	if e.revision() != before {
		t.Fatal("a refused role change wrote to the store")
	}
	for _, tok := range []string{token, other} {
		var who struct {
			Permissions []shared.Permission `json:"permissions"`
		}
		e.must(http.StatusOK, "GET", "/api/users/whoami", tok, nil).decode(t, &who)
		if !slices.Equal(who.Permissions, []shared.Permission{shared.PermManageRoles}) {
			t.Fatalf("a holder of the role holds %v, want only Manage Roles", who.Permissions)
		}
	}
	// What the editor holds they may put in, and they may take out what
	// they lack.
	e.must(http.StatusOK, "PUT", "/api/roles/"+rr, token, map[string]any{"name": "renamed", "permissions": []shared.Permission{shared.PermManageRoles}})
	tmpl := e.role("templaters", shared.PermManageTemplates, shared.PermManageRoles)
	e.must(http.StatusOK, "PUT", "/api/roles/"+tmpl, token, map[string]any{"permissions": []shared.Permission{shared.PermManageRoles}})
	e.must(http.StatusCreated, "POST", "/api/roles", token, map[string]any{"name": "subset", "permissions": []shared.Permission{shared.PermManageRoles}})
}

// Granting a role needs every permission in it; managing another user's
// account needs every permission they hold.
func TestGrantingAndManagingNeedWhatTheyConfer(t *testing.T) {
	e := newEnv(t)
	_, admin := e.admin()
	hr := e.role("helpdesk", shared.PermManageUsers, shared.PermUseSpaces, shared.PermUseTunnels)
	helpdesk, token := e.user("helpdesk", hr)
	tr := e.role("templaters", shared.PermManageTemplates)
	ann, _ := e.user("ann")
	tess, _ := e.user("tess", shared.UserRoleID, tr)

	r := e.must(http.StatusForbidden, "PUT", "/api/users/"+ann.ID, token, map[string]any{"roles": []string{shared.UserRoleID, tr}})
	if msg := r.errMsg(t); !strings.Contains(msg, "templaters") || !strings.Contains(msg, "Manage Templates") {
		t.Fatalf("message %q should name the role and the permission", msg)
	}
	e.must(http.StatusForbidden, "POST", "/api/users", token, map[string]any{
		"username": "tim", "email": "tim@example.com", "password": "tim-password", "roles": []string{tr},
	})
	r = e.must(http.StatusForbidden, "PUT", "/api/users/"+tess.ID, token, map[string]any{"password": "taken-over-password"})
	if msg := r.errMsg(t); !strings.Contains(msg, "Manage Templates") || !strings.Contains(msg, "password") {
		t.Fatalf("message %q should name the change and the permission", msg)
	}
	e.must(http.StatusForbidden, "DELETE", "/api/users/"+tess.ID, token, nil)

	// Within what the helpdesk holds, all is allowed.
	e.must(http.StatusOK, "PUT", "/api/users/"+ann.ID, token, map[string]any{"password": "a-new-password", "roles": []string{shared.UserRoleID, hr}})
	e.must(http.StatusCreated, "POST", "/api/users", token, map[string]any{"username": "tim", "email": "tim@example.com", "password": "tim-password"})
	// Taking a role away grants nothing: the helpdesk may shrink themself.
	e.must(http.StatusOK, "PUT", "/api/users/"+helpdesk.ID, token, map[string]any{"roles": []string{hr}})
	// An Admin may do it all.
	e.must(http.StatusOK, "PUT", "/api/users/"+ann.ID, admin, map[string]any{"roles": []string{shared.AdminRoleID}})
	e.must(http.StatusOK, "PUT", "/api/users/"+tess.ID, admin, map[string]any{"password": "an-admin-set-password"})
	e.must(http.StatusOK, "PUT", "/api/roles/"+tr, admin, map[string]any{"permissions": shared.AllPermissions()})
}

// The reported escalation, end to end: a helpdesk user logs in over a real
// listener with a real client and cannot make themself Admin nor take over
// the admin's account.
func TestHelpdeskCannotEscalateOverHTTP(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.admin()
	helpdesk, _ := e.user("helpdesk", e.role("helpdesk", shared.PermManageUsers))
	ts := httptest.NewServer(e.h)
	defer ts.Close()
	call := func(method, path, token string, body any) (int, string) {
		t.Helper()
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(method, ts.URL+path, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	login := func(email, password string) (int, string) {
		code, body := call("POST", "/api/auth", "", map[string]string{"email": email, "password": password})
		var out struct {
			Token string `json:"token"`
		}
		json.Unmarshal([]byte(body), &out)
		return code, out.Token
	}

	code, token := login("helpdesk@example.com", testPassword)
	if code != http.StatusOK || token == "" {
		t.Fatalf("helpdesk login = %d", code)
	}
	for _, c := range []struct {
		path string
		body map[string]any
	}{
		{"/api/users/" + helpdesk.ID, map[string]any{"roles": []string{shared.AdminRoleID}}},
		{"/api/users/" + admin.ID, map[string]any{"email": "helpdesk+admin@example.com", "password": "taken-over-password"}},
	} {
		if code, body := call("PUT", c.path, token, c.body); code != http.StatusForbidden || !strings.Contains(body, "Admin role") {
			t.Fatalf("PUT %s %v = %d %s, want 403 naming the Admin role", c.path, c.body, code, body)
		}
	}
	if code, _ := login("helpdesk+admin@example.com", "taken-over-password"); code != http.StatusUnauthorized {
		t.Fatalf("login with the taken-over credentials = %d, want 401", code)
	}
	if code, _ := login("admin@example.com", testPassword); code != http.StatusOK {
		t.Fatalf("the admin's own login = %d, want 200", code)
	}
}

var (
	grantSeed  = flag.Uint64("grant-seed", 0, "run TestNobodyGrantsWhatTheyDoNotHold with this seed only (also KNOT_GRANT_SEED)")
	grantRuns  = flag.Int("grant-runs", 4, "how many seeds TestNobodyGrantsWhatTheyDoNotHold runs")
	grantCalls = flag.Int("grant-calls", 80, "how many API calls each seed of TestNobodyGrantsWhatTheyDoNotHold makes")
)

func grantSeeds(t *testing.T) []uint64 {
	if *grantSeed != 0 {
		return []uint64{*grantSeed}
	}
	if s := os.Getenv("KNOT_GRANT_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("KNOT_GRANT_SEED=%q: %v", s, err)
		}
		return []uint64{n}
	}
	var out []uint64
	for i := 1; i <= *grantRuns; i++ {
		out = append(out, uint64(i))
	}
	return out
}

// TestNobodyGrantsWhatTheyDoNotHold has random actors with random
// permissions make random user, group and role calls through the API, and
// checks after every call that no user gained a permission the actor lacks
// (or the Admin role from a non-Admin), and that no user holding more than
// the actor had their account changed or deleted by them.
func TestNobodyGrantsWhatTheyDoNotHold(t *testing.T) {
	for _, seed := range grantSeeds(t) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("reproduce with: go test ./web -run TestNobodyGrantsWhatTheyDoNotHold -grant-seed=%d", seed)
				}
			}()
			newGrantWorld(t, seed).run(*grantCalls)
		})
	}
}

type grantWorld struct {
	t        *testing.T
	e        *env
	rng      *rand.Rand
	adminID  string
	sessions map[string]string // user id: session token
	n        int               // names made so far
	codes    map[int]int
	refused  int // calls refused by the grant rules, not by the route's permission
}

// held is one user as the invariant sees them.
type held struct {
	u     *shared.User
	perms uint32
	admin bool
}

func newGrantWorld(t *testing.T, seed uint64) *grantWorld {
	w := &grantWorld{t: t, e: newEnv(t), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		sessions: map[string]string{}, codes: map[int]int{}}
	admin, tok := w.e.admin()
	w.adminID, w.sessions[admin.ID] = admin.ID, tok
	for i := range 4 {
		w.e.role(fmt.Sprintf("seed-role-%d", i), w.randomPerms()...)
	}
	// Every permission is still not the Admin role.
	w.e.role("seed-everything", shared.AllPermissions()...)
	for i := range 5 {
		u, tok := w.e.user(fmt.Sprintf("seed-user-%d", i), w.randomRoles(false)...)
		w.sessions[u.ID] = tok
	}
	return w
}

func (w *grantWorld) name(prefix string) string {
	w.n++
	return fmt.Sprintf("%s-%d", prefix, w.n)
}

func (w *grantWorld) randomPerms() []shared.Permission {
	var out []shared.Permission
	for _, p := range shared.AllPermissions() {
		// The permissions the calls need come more often than the others.
		if w.rng.IntN(3) != 0 && (p == shared.PermManageUsers || p == shared.PermManageRoles) || w.rng.IntN(2) == 0 {
			out = append(out, p)
		}
	}
	return out
}

func (w *grantWorld) roleIDs() []string {
	roles, err := storage.List[shared.Role](context.Background(), w.e.store)
	if err != nil {
		w.t.Fatal(err)
	}
	ids := []string{shared.UserRoleID}
	for _, r := range roles {
		ids = append(ids, r.ID)
	}
	return ids
}

// randomRoles picks some roles; the Admin role only when admin is set, and
// then rarely.
func (w *grantWorld) randomRoles(admin bool) []string {
	var out []string
	for _, id := range w.roleIDs() {
		if w.rng.IntN(3) == 0 {
			out = append(out, id)
		}
	}
	if admin && w.rng.IntN(4) == 0 {
		out = append(out, shared.AdminRoleID)
	}
	return out
}

func (w *grantWorld) randomGroups() []string {
	groups, err := storage.List[shared.Group](context.Background(), w.e.store)
	if err != nil {
		w.t.Fatal(err)
	}
	out := []string{}
	for _, g := range groups {
		if w.rng.IntN(2) == 0 {
			out = append(out, g.ID)
		}
	}
	return out
}

// snapshot returns every user with the permissions their roles give.
func (w *grantWorld) snapshot() map[string]held {
	ctx := context.Background()
	perms := map[string]uint32{}
	roles, err := storage.List[shared.Role](ctx, w.e.store)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, r := range append(shared.BuiltinRoles(), roles...) {
		for _, p := range r.Permissions {
			perms[r.ID] |= 1 << p
		}
	}
	users, err := storage.List[shared.User](ctx, w.e.store)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]held{}
	for _, u := range users {
		h := held{u: u, admin: slices.Contains(u.Roles, shared.AdminRoleID)}
		for _, id := range u.Roles {
			h.perms |= perms[id]
		}
		out[u.ID] = h
	}
	return out
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func (w *grantWorld) run(calls int) {
	for i := range calls {
		before := w.snapshot()
		var actors []string
		for id, h := range before {
			if h.u.Active && (id != w.adminID || w.rng.IntN(8) == 0) {
				actors = append(actors, id)
			}
		}
		if len(actors) == 0 {
			actors = append(actors, w.adminID)
		}
		slices.Sort(actors)
		actor := before[pick(w.rng, actors)]
		if w.sessions[actor.u.ID] == "" {
			w.sessions[actor.u.ID] = w.e.session(actor.u.ID)
		}
		method, path, body := w.randomCall(before)
		r := w.e.do(method, path, w.sessions[actor.u.ID], body)
		w.codes[r.code]++
		if r.code == http.StatusUnauthorized {
			// A new password ended the actor's sessions: the next call
			// makes a new one.
			delete(w.sessions, actor.u.ID)
		}
		if r.code == http.StatusForbidden && !strings.HasPrefix(r.errMsg(w.t), "this needs the") {
			w.refused++
		}
		call := fmt.Sprintf("call %d: %s (perms %b, admin %v) %s %s %v = %d %s", i, actor.u.Username, actor.perms, actor.admin, method, path, body, r.code, r.body)
		if r.code >= 500 {
			w.t.Fatalf("%s", call)
		}
		w.check(call, actor, before, w.snapshot())
	}
	w.t.Logf("responses by status: %v; refused by the grant rules: %d", w.codes, w.refused)
	if w.refused == 0 || w.codes[http.StatusOK]+w.codes[http.StatusCreated] == 0 {
		w.t.Fatalf("no call was refused by the grant rules, or none allowed (%v): the workload tests nothing", w.codes)
	}
}

// check fails when the call by a took the users from before to after in a
// way the grant rules forbid.
func (w *grantWorld) check(call string, a held, before, after map[string]held) {
	w.t.Helper()
	for id, h := range after {
		was := before[id]
		if gained := h.perms &^ was.perms &^ a.perms; gained != 0 && id != w.adminID {
			w.t.Fatalf("%s\n%s gained permissions %b that the actor does not hold", call, h.u.Username, gained)
		}
		if h.admin && !was.admin && !a.admin {
			w.t.Fatalf("%s\n%s became an Admin by a non-Admin", call, h.u.Username)
		}
	}
	for id, was := range before {
		if id == a.u.ID || (was.perms&^a.perms == 0 && (!was.admin || a.admin)) {
			continue
		}
		now, ok := after[id]
		if !ok {
			w.t.Fatalf("%s\n%s, who holds more than the actor, was deleted", call, was.u.Username)
		}
		u, v := was.u, now.u
		if u.Email != v.Email || u.PasswordHash != v.PasswordHash || u.ServicePassword != v.ServicePassword ||
			u.SSHPublicKey != v.SSHPublicKey || u.Active != v.Active || !sameStrings(u.Roles, v.Roles) || !sameStrings(u.Groups, v.Groups) {
			w.t.Fatalf("%s\nthe account of %s, who holds more than the actor, was changed", call, u.Username)
		}
	}
}

func sameStrings(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// randomCall returns a user, group or role call with random arguments.
func (w *grantWorld) randomCall(users map[string]held) (method, path string, body any) {
	ids := make([]string, 0, len(users))
	for id := range users {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	roles := w.roleIDs()
	switch w.rng.IntN(10) {
	case 0, 1:
		name := w.name("user")
		b := map[string]any{"username": name, "email": name + "@example.com", "password": "a-long-password"}
		if w.rng.IntN(4) != 0 {
			b["roles"] = w.randomRoles(true)
		}
		if w.rng.IntN(2) == 0 {
			b["groups"] = w.randomGroups()
		}
		return "POST", "/api/users", b
	case 2, 3, 4:
		target := pick(w.rng, ids)
		b := map[string]any{}
		if w.rng.IntN(2) == 0 {
			b["roles"] = w.randomRoles(true)
		}
		if w.rng.IntN(4) == 0 {
			b["groups"] = w.randomGroups()
		}
		if w.rng.IntN(5) == 0 {
			b["email"] = w.name("mail") + "@example.com"
		}
		if w.rng.IntN(8) == 0 {
			b["password"] = "another-long-password"
		}
		if w.rng.IntN(5) == 0 {
			b["active"] = w.rng.IntN(3) != 0
		}
		if w.rng.IntN(4) == 0 {
			b["max_spaces"] = w.rng.IntN(5)
		}
		if w.rng.IntN(5) == 0 {
			b["ssh_public_key"] = "ssh-ed25519 " + w.name("key")
		}
		return "PUT", "/api/users/" + target, b
	case 5:
		return "DELETE", "/api/users/" + pick(w.rng, ids), nil
	case 6:
		return "POST", "/api/roles", map[string]any{"name": w.name("role"), "permissions": w.randomPerms()}
	case 7, 8:
		id := pick(w.rng, append(roles, shared.AdminRoleID))
		return "PUT", "/api/roles/" + id, map[string]any{"permissions": w.randomPerms()}
	default:
		switch groups := w.randomGroups(); {
		case w.rng.IntN(2) == 0:
			return "DELETE", "/api/roles/" + pick(w.rng, roles), nil
		case len(groups) > 0 && w.rng.IntN(2) == 0:
			return "PUT", "/api/groups/" + groups[0], map[string]any{"max_spaces": w.rng.IntN(3)}
		}
		return "POST", "/api/groups", map[string]any{"name": w.name("group"), "max_spaces": w.rng.IntN(3)}
	}
}
