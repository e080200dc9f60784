package web_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
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
