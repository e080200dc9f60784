package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
)

func TestGroups(t *testing.T) {
	e := newEnv(t)
	_, admin := e.admin()
	_, user := e.user("ann")

	var g struct {
		ID string `json:"group_id"`
	}
	e.must(http.StatusCreated, "POST", "/api/groups", admin, map[string]any{"name": "devs", "max_spaces": 3, "compute_units": 4}).decode(t, &g)
	if !e.hasAudit("Group Create", "devs") {
		t.Fatal("no audit event")
	}

	t.Run("AnyUserMayList", func(t *testing.T) {
		var out struct {
			Count  int              `json:"count"`
			Groups []map[string]any `json:"groups"`
		}
		e.must(http.StatusOK, "GET", "/api/groups", user, nil).decode(t, &out)
		if out.Count != 1 || out.Groups[0]["group_id"] != g.ID || out.Groups[0]["max_spaces"] != 3.0 {
			t.Fatalf("groups = %+v", out)
		}
	})

	t.Run("GetUpdateDelete", func(t *testing.T) {
		e.must(http.StatusOK, "PUT", "/api/groups/"+g.ID, admin, map[string]any{"name": "developers"})
		var got map[string]any
		e.must(http.StatusOK, "GET", "/api/groups/"+g.ID, admin, nil).decode(t, &got)
		if got["name"] != "developers" || got["compute_units"] != 4.0 {
			t.Fatalf("group after update = %v", got)
		}
		e.must(http.StatusOK, "DELETE", "/api/groups/"+g.ID, admin, nil)
		e.must(http.StatusNotFound, "GET", "/api/groups/"+g.ID, admin, nil)
		if !e.hasAudit("Group Update", "developers") || !e.hasAudit("Group Delete", "developers") {
			t.Fatal("no audit events for update and delete")
		}
	})

	t.Run("DuplicateNameIs409", func(t *testing.T) {
		e.must(http.StatusCreated, "POST", "/api/groups", admin, map[string]any{"name": "ops"})
		r := e.must(http.StatusConflict, "POST", "/api/groups", admin, map[string]any{"name": "OPS"})
		if !strings.Contains(r.errMsg(t), "OPS") {
			t.Fatalf("message %s", r.body)
		}
	})

	t.Run("GroupInUseIs423", func(t *testing.T) {
		var used struct {
			ID string `json:"group_id"`
		}
		e.must(http.StatusCreated, "POST", "/api/groups", admin, map[string]any{"name": "used"}).decode(t, &used)
		e.template("tpl", used.ID)
		r := e.must(http.StatusLocked, "DELETE", "/api/groups/"+used.ID, admin, nil)
		if !strings.Contains(r.errMsg(t), "template") {
			t.Fatalf("message %s", r.body)
		}
	})

	for _, tc := range []struct {
		name, method, path string
		body               any
	}{
		{"CreateNeedsManageGroups", "POST", "/api/groups", map[string]any{"name": "mine"}},
		{"GetNeedsManageGroups", "GET", "/api/groups/" + g.ID, nil},
		{"UpdateNeedsManageGroups", "PUT", "/api/groups/" + g.ID, map[string]any{"name": "mine"}},
		{"DeleteNeedsManageGroups", "DELETE", "/api/groups/" + g.ID, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(http.StatusForbidden, tc.method, tc.path, user, tc.body)
			if !strings.Contains(r.errMsg(t), "Manage Groups") {
				t.Fatalf("message %s", r.body)
			}
		})
	}
}

func TestRoles(t *testing.T) {
	e := newEnv(t)
	_, admin := e.admin()
	ann, user := e.user("ann")

	t.Run("ListShowsBuiltinRoles", func(t *testing.T) {
		var out struct {
			Count int              `json:"count"`
			Roles []map[string]any `json:"roles"`
		}
		e.must(http.StatusOK, "GET", "/api/roles", user, nil).decode(t, &out)
		if out.Count != 2 || out.Roles[0]["role_id"] != shared.AdminRoleID || out.Roles[0]["builtin"] != true ||
			len(out.Roles[0]["permissions"].([]any)) != len(shared.AllPermissions()) {
			t.Fatalf("roles = %+v", out)
		}
	})

	var role struct {
		ID string `json:"role_id"`
	}
	e.must(http.StatusCreated, "POST", "/api/roles", admin, map[string]any{"name": "auditor", "permissions": []int{int(shared.PermViewAuditLogs)}}).decode(t, &role)

	t.Run("NewRoleGrantsItsPermissions", func(t *testing.T) {
		e.must(http.StatusForbidden, "GET", "/api/audit-logs", user, nil)
		e.must(http.StatusOK, "PUT", "/api/users/"+ann.ID, admin, map[string]any{"roles": []string{shared.UserRoleID, role.ID}})
		e.must(http.StatusOK, "GET", "/api/audit-logs", user, nil)
	})

	t.Run("RoleHeldByUsersIs423", func(t *testing.T) {
		e.must(http.StatusLocked, "DELETE", "/api/roles/"+role.ID, admin, nil)
	})

	t.Run("UpdateAndDelete", func(t *testing.T) {
		e.must(http.StatusOK, "PUT", "/api/roles/"+role.ID, admin, map[string]any{"permissions": []int{1, 1, 0}})
		var got struct {
			Name        string `json:"name"`
			Permissions []int  `json:"permissions"`
		}
		e.must(http.StatusOK, "GET", "/api/roles/"+role.ID, admin, nil).decode(t, &got)
		if got.Name != "auditor" || len(got.Permissions) != 2 || got.Permissions[0] != 0 || got.Permissions[1] != 1 {
			t.Fatalf("role after update = %+v", got)
		}
		e.must(http.StatusOK, "PUT", "/api/users/"+ann.ID, admin, map[string]any{"roles": []string{shared.UserRoleID}})
		e.must(http.StatusOK, "DELETE", "/api/roles/"+role.ID, admin, nil)
		if !e.hasAudit("Role Create", "auditor") || !e.hasAudit("Role Update", "auditor") || !e.hasAudit("Role Delete", "auditor") {
			t.Fatal("missing audit events")
		}
	})

	for _, id := range []string{shared.AdminRoleID, shared.UserRoleID} {
		t.Run("BuiltinRoleIsLocked/"+id, func(t *testing.T) {
			before := e.revision()
			r := e.must(http.StatusLocked, "PUT", "/api/roles/"+id, admin, map[string]any{"name": "renamed"})
			if !strings.Contains(r.errMsg(t), "built-in") {
				t.Fatalf("message %s", r.body)
			}
			e.must(http.StatusLocked, "DELETE", "/api/roles/"+id, admin, nil)
			e.must(http.StatusOK, "GET", "/api/roles/"+id, admin, nil)
			if e.revision() != before {
				t.Fatal("store changed")
			}
		})
	}

	t.Run("BuiltinNameIs409", func(t *testing.T) {
		e.must(http.StatusConflict, "POST", "/api/roles", admin, map[string]any{"name": "admin"})
	})

	t.Run("UnknownPermissionIs400", func(t *testing.T) {
		r := e.must(http.StatusBadRequest, "POST", "/api/roles", admin, map[string]any{"name": "odd", "permissions": []int{99}})
		if !strings.Contains(r.errMsg(t), "permissions") {
			t.Fatalf("message %s", r.body)
		}
	})

	t.Run("ManagingRolesNeedsManageRoles", func(t *testing.T) {
		e.must(http.StatusForbidden, "POST", "/api/roles", user, map[string]any{"name": "mine"})
		e.must(http.StatusForbidden, "GET", "/api/roles/"+shared.UserRoleID, user, nil)
	})

	t.Run("PermissionsAreListed", func(t *testing.T) {
		var out struct {
			Count       int `json:"count"`
			Permissions []struct {
				ID   int    `json:"id"`
				Name string `json:"name"`
			} `json:"permissions"`
		}
		e.must(http.StatusOK, "GET", "/api/permissions", user, nil).decode(t, &out)
		if out.Count != len(shared.AllPermissions()) || out.Permissions[7].ID != 9 || out.Permissions[7].Name != "View Audit Logs" {
			t.Fatalf("permissions = %+v", out)
		}
		// The predecessor's permissions of features knot does not have are
		// not listed, and no role may be given one.
		for _, p := range out.Permissions {
			if p.ID == 3 || p.ID == 8 || p.ID == 10 || p.ID == 11 {
				t.Errorf("GET /api/permissions lists %d %s, a permission of nothing knot has", p.ID, p.Name)
			}
		}
		r := e.must(http.StatusBadRequest, "POST", "/api/roles", admin, map[string]any{"name": "tunnellers", "permissions": []int{7, 8}})
		if msg := r.errMsg(t); !strings.Contains(msg, "8 (Use Tunnels) is for a feature knot does not have") {
			t.Errorf("message %q", msg)
		}
	})

	t.Run("RolesShowNoPermissionOfNothing", func(t *testing.T) {
		old := e.role("legacy", shared.PermUseSpaces, shared.PermUseTunnels, shared.PermShareSpaces)
		var got struct {
			Permissions []int `json:"permissions"`
		}
		e.must(http.StatusOK, "GET", "/api/roles/"+old, admin, nil).decode(t, &got)
		if len(got.Permissions) != 1 || got.Permissions[0] != int(shared.PermUseSpaces) {
			t.Fatalf("a stored role with tunnel and sharing permissions shows %v", got.Permissions)
		}
		e.must(http.StatusOK, "PUT", "/api/roles/"+old, admin, map[string]any{"permissions": got.Permissions})
	})
}

func TestRolePermissionsApplyAtOnce(t *testing.T) {
	e := newEnv(t)
	role := e.role("tmpl", shared.PermManageTemplates)
	_, token := e.user("ann", role)
	e.must(http.StatusOK, "GET", "/api/templates/"+e.template("t1").ID, token, nil)
	r, _ := getRecord[shared.Role](e, role)
	r.Permissions = nil
	if err := e.store.Put(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	e.must(http.StatusForbidden, "GET", "/api/templates/"+e.template("t2").ID, token, nil)
}
