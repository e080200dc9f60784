package web_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

// The group and role services write through the server's store, which
// tells the hub: a leaf hears of each write at once (the hub of a fleet
// polls only every hour), and reads it from its replica. A write made at
// the leaf while the origin is down fails at once with 503.
func TestGroupAndRoleWritesReachTheLeafAtOnce(t *testing.T) {
	f := newFleetWith(t, time.Hour)
	ob, lb := f.originSW.srv.URL, f.leafSrv.URL
	f.waitConnected(true)
	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}, nil)
	session := f.login(ob)
	var g struct {
		ID string `json:"group_id"`
	}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/groups", session, map[string]any{"name": "devs"}, &g)
	waitRecord(t, f.leafStore, shared.KindGroup, g.ID, false)
	var r struct {
		ID string `json:"role_id"`
	}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/roles", session, map[string]any{"name": "auditor", "permissions": []int{int(shared.PermViewAuditLogs)}}, &r)
	waitRecord(t, f.leafStore, shared.KindRole, r.ID, false)

	waitRecord(t, f.leafStore, shared.KindUser, adminID(t, ob, session), false)
	leafSession := f.login(lb)
	var got struct {
		Name string `json:"name"`
	}
	mustCall(t, http.StatusOK, lb, "GET", "/api/groups/"+g.ID, leafSession, nil, &got)
	if got.Name != "devs" {
		t.Fatalf("the leaf reads group %q, want \"devs\"", got.Name)
	}
	mustCall(t, http.StatusOK, lb, "GET", "/api/roles/"+r.ID, leafSession, nil, &got)
	if got.Name != "auditor" {
		t.Fatalf("the leaf reads role %q, want \"auditor\"", got.Name)
	}

	mustCall(t, http.StatusOK, ob, "PUT", "/api/groups/"+g.ID, session, map[string]any{"max_spaces": 4}, nil)
	eventually(t, 5*time.Second, func() string {
		if grp, err := storage.Get[shared.Group](context.Background(), f.leafStore, g.ID); err != nil || grp.MaxSpaces != 4 {
			return "the leaf's replica has not the updated group"
		}
		return ""
	})
	mustCall(t, http.StatusOK, ob, "DELETE", "/api/groups/"+g.ID, session, nil, nil)
	waitRecord(t, f.leafStore, shared.KindGroup, g.ID, true)
	mustCall(t, http.StatusOK, ob, "DELETE", "/api/roles/"+r.ID, session, nil, nil)
	waitRecord(t, f.leafStore, shared.KindRole, r.ID, true)

	f.stopOrigin()
	f.waitConnected(false)
	start := time.Now()
	mustCall(t, http.StatusServiceUnavailable, lb, "POST", "/api/groups", leafSession, map[string]any{"name": "ops"}, nil)
	mustCall(t, http.StatusServiceUnavailable, lb, "POST", "/api/roles", leafSession, map[string]any{"name": "ops"}, nil)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the refused writes took %s: they must fail at once", d)
	}
}

func adminID(t *testing.T, base, session string) string {
	t.Helper()
	var who struct {
		ID string `json:"user_id"`
	}
	mustCall(t, http.StatusOK, base, "GET", "/api/users/whoami", session, nil, &who)
	return who.ID
}

// A leaf's group, role and fleet services make their writes at the origin
// as the caller, with the origin session of a login at the leaf or with an
// API token: the answer is the origin's, its refusals included, and the
// audit event of a write is the origin's alone.
func TestLeafServicesWriteAtTheOriginAsTheCaller(t *testing.T) {
	f := newFleet(t)
	ob, lb := f.originSW.srv.URL, f.leafSrv.URL
	f.waitConnected(true)
	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}, nil)
	session := f.login(ob)
	waitRecord(t, f.leafStore, shared.KindUser, adminID(t, ob, session), false)
	leafSession := f.login(lb)
	ctx := context.Background()
	// The origin session the leaf opened for this login names the leaf,
	// so that the user's list of sessions at the origin says whose it is.
	var sessions []api.Session
	mustCall(t, http.StatusOK, ob, "GET", "/api/sessions", session, nil, &sessions)
	var agents []string
	for _, se := range sessions {
		agents = append(agents, se.UserAgent)
	}
	if !slices.Contains(agents, "knot/test leaf/away") {
		t.Fatalf("the sessions at the origin have the user agents %q, none the leaf's", agents)
	}

	var g struct {
		ID string `json:"group_id"`
	}
	a := mustCall(t, http.StatusCreated, lb, "POST", "/api/groups", leafSession, map[string]any{"name": "devs"}, &g)
	if a.header.Get("X-Knot-Forwarded-To") != "origin" {
		t.Fatalf("the answer is not marked as the origin's: %v", a.header)
	}
	if _, err := f.originStore.Get(ctx, shared.KindGroup, g.ID); err != nil {
		t.Fatalf("the group made at the leaf is not at the origin: %v", err)
	}
	waitRecord(t, f.leafStore, shared.KindGroup, g.ID, false)
	atLeaf := mustCall(t, http.StatusConflict, lb, "POST", "/api/groups", leafSession, map[string]any{"name": "DEVS"}, nil)
	atOrigin := mustCall(t, http.StatusConflict, ob, "POST", "/api/groups", session, map[string]any{"name": "DEVS"}, nil)
	if atLeaf.errMsg(t) != atOrigin.errMsg(t) || atLeaf.header.Get("X-Knot-Forwarded-To") != "origin" {
		t.Fatalf("the leaf answered %q, the origin %q", atLeaf.errMsg(t), atOrigin.errMsg(t))
	}

	var tok struct{ Token string }
	mustCall(t, http.StatusCreated, ob, "POST", "/api/tokens", session, map[string]any{"name": "cli"}, &tok)
	waitRecord(t, f.leafStore, shared.KindToken, crypt.HashToken(tok.Token), false)
	var r struct {
		ID string `json:"role_id"`
	}
	mustCall(t, http.StatusCreated, lb, "POST", "/api/roles", tok.Token, map[string]any{"name": "auditor", "permissions": []int{int(shared.PermViewAuditLogs)}}, &r)
	mustCall(t, http.StatusOK, lb, "PUT", "/api/roles/"+r.ID, tok.Token, map[string]any{"name": "auditors"}, nil)
	if role, err := storage.Get[shared.Role](ctx, f.originStore, r.ID); err != nil || role.Name != "auditors" {
		t.Fatalf("the origin holds role %+v, %v", role, err)
	}
	mustCall(t, http.StatusLocked, lb, "DELETE", "/api/roles/"+shared.AdminRoleID, tok.Token, nil, nil)
	mustCall(t, http.StatusOK, lb, "DELETE", "/api/groups/"+g.ID, leafSession, nil, nil)
	if _, err := f.originStore.Get(ctx, shared.KindGroup, g.ID); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Fatalf("the group deleted at the leaf is at the origin: %v", err)
	}

	var leaves struct {
		Count  int
		Leaves []struct {
			NodeID    string `json:"node_id"`
			Location  string `json:"location"`
			Connected bool   `json:"connected"`
		}
	}
	mustCall(t, http.StatusOK, lb, "GET", "/api/leaves", leafSession, nil, &leaves)
	if leaves.Count != 1 || leaves.Leaves[0].NodeID != "node-away" || leaves.Leaves[0].Location != "away" || !leaves.Leaves[0].Connected {
		t.Fatalf("the leaf lists the leaves %s", jsonOf(leaves))
	}
	var lt struct {
		ID    string `json:"leaf_token_id"`
		Token string `json:"token"`
	}
	mustCall(t, http.StatusCreated, lb, "POST", "/api/leaf-tokens", leafSession, map[string]string{"location": "eu", "name": "eu-1"}, &lt)
	if _, err := f.originStore.Get(ctx, shared.KindLeafToken, lt.ID); err != nil || lt.ID != crypt.HashToken(lt.Token) {
		t.Fatalf("the leaf token made at the leaf is not at the origin: %v", err)
	}
	a = mustCall(t, http.StatusBadRequest, lb, "POST", "/api/leaf-tokens/"+lt.ID+"/rotate", leafSession, map[string]string{"overlap": "soon"}, nil)
	if !strings.Contains(a.errMsg(t), "overlap") {
		t.Fatalf("message %q", a.errMsg(t))
	}
	mustCall(t, http.StatusOK, lb, "DELETE", "/api/leaf-tokens/"+lt.ID, tok.Token, nil, nil)
	mustCall(t, http.StatusNotFound, lb, "DELETE", "/api/leaf-tokens/"+lt.ID, tok.Token, nil, nil)

	for _, ev := range []string{"Group Create", "Group Delete", "Role Create", "Role Update", "Leaf Token Create", "Leaf Token Revoke"} {
		originOnly(t, f, ev, 1)
	}
}

// originOnly checks that the origin of f recorded n events named event and
// its leaf none.
func originOnly(t *testing.T, f *fleet, event string, n int) {
	t.Helper()
	count := func(st storage.Store) int {
		evs, _, err := st.ListAudit(context.Background(), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, e := range evs {
			if e.Event == event {
				got++
			}
		}
		return got
	}
	if got := count(f.leafStore); got != 0 {
		t.Errorf("the leaf recorded %d %q events of writes the origin made", got, event)
	}
	if got := count(f.originStore); got != n {
		t.Errorf("the origin recorded %d %q events, want %d", got, event, n)
	}
}
