package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

func TestUserResponsesHoldNoSecrets(t *testing.T) {
	e := newEnv(t)
	admin, token := e.admin()
	admin.TOTPSecret = "TOTPSECRETVALUE"
	if err := e.store.Put(context.Background(), admin); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/users/whoami", "/api/users", "/api/users/" + admin.ID} {
		r := e.must(http.StatusOK, "GET", path, token, nil)
		for _, secret := range []string{admin.PasswordHash, "password_hash", "TOTPSECRETVALUE", "totp_secret"} {
			if strings.Contains(r.String(), secret) {
				t.Fatalf("GET %s leaks %q: %s", path, secret, r.body)
			}
		}
	}
}

func TestUserCRUD(t *testing.T) {
	e := newEnv(t)
	_, admin := e.admin()
	g := e.must(http.StatusCreated, "POST", "/api/groups", admin, map[string]any{"name": "devs", "max_spaces": 2})
	var group struct {
		ID string `json:"group_id"`
	}
	g.decode(t, &group)

	var created struct {
		UserID string `json:"user_id"`
	}
	e.must(http.StatusCreated, "POST", "/api/users", admin, map[string]any{
		"username": "carol", "email": "carol@example.com", "password": "carol-password",
		"groups": []string{group.ID}, "preferred_shell": "zsh", "timezone": "Europe/London", "max_spaces": 1,
	}).decode(t, &created)
	if !e.hasAudit("User Create", "carol") {
		t.Fatal("no audit event for the new user")
	}

	t.Run("GetShowsTheFields", func(t *testing.T) {
		var u map[string]any
		e.must(http.StatusOK, "GET", "/api/users/"+created.UserID, admin, nil).decode(t, &u)
		if u["username"] != "carol" || u["preferred_shell"] != "zsh" || u["active"] != true ||
			u["roles"].([]any)[0] != shared.UserRoleID || u["groups"].([]any)[0] != group.ID {
			t.Fatalf("user = %v", u)
		}
		if _, ok := u["service_password"]; ok {
			t.Fatal("service password shown to another user")
		}
	})

	t.Run("NewUserCanLogIn", func(t *testing.T) {
		if r := login(e, "carol@example.com", "carol-password"); r.code != http.StatusOK {
			t.Fatalf("login = %d %s", r.code, r.body)
		}
	})

	t.Run("DuplicateEmailIs409", func(t *testing.T) {
		r := e.must(http.StatusConflict, "POST", "/api/users", admin, map[string]any{"username": "carol2", "email": "CAROL@example.com", "password": "carol-password"})
		if !strings.Contains(r.errMsg(t), "email") {
			t.Fatalf("message %s", r.body)
		}
	})

	t.Run("DuplicateUsernameIs409", func(t *testing.T) {
		r := e.must(http.StatusConflict, "POST", "/api/users", admin, map[string]any{"username": "Carol", "email": "c2@example.com", "password": "carol-password"})
		if !strings.Contains(r.errMsg(t), "carol") && !strings.Contains(r.errMsg(t), "Carol") {
			t.Fatalf("message %s", r.body)
		}
	})

	t.Run("QuotaSumsUserAndGroups", func(t *testing.T) {
		var q map[string]int
		e.must(http.StatusOK, "GET", "/api/users/"+created.UserID+"/quota", admin, nil).decode(t, &q)
		if q["max_spaces"] != 3 || q["number_spaces"] != 0 {
			t.Fatalf("quota = %v, want max_spaces 3 (1 own + 2 group)", q)
		}
	})

	t.Run("AdminUpdatesOnlyTheFieldsSent", func(t *testing.T) {
		e.must(http.StatusOK, "PUT", "/api/users/"+created.UserID, admin, map[string]any{"timezone": "UTC", "max_spaces": 4})
		u, _ := getRecord[shared.User](e, created.UserID)
		if u.Timezone != "UTC" || u.MaxSpaces != 4 || u.PreferredShell != "zsh" || u.Email != "carol@example.com" {
			t.Fatalf("user after update = %+v", u)
		}
		if !e.hasAudit("User Update", "carol") {
			t.Fatal("no audit event for the update")
		}
	})

	t.Run("UsernameCannotChange", func(t *testing.T) {
		r := e.must(http.StatusBadRequest, "PUT", "/api/users/"+created.UserID, admin, map[string]any{"username": "caroline"})
		if !strings.Contains(r.errMsg(t), "username") {
			t.Fatalf("message %s", r.body)
		}
	})

	t.Run("DeleteCascades", func(t *testing.T) {
		carol, _ := getRecord[shared.User](e, created.UserID)
		session := e.session(carol.ID)
		var tok struct {
			Token string `json:"token"`
		}
		e.must(http.StatusCreated, "POST", "/api/tokens", session, map[string]string{"name": "t"}).decode(t, &tok)
		sp := e.space(carol, e.template("tpl"), "work")

		e.must(http.StatusOK, "DELETE", "/api/users/"+carol.ID, admin, nil)
		if _, err := getRecord[shared.User](e, carol.ID); shared.ErrorCode(err) != shared.ENOTFOUND {
			t.Fatalf("user after delete: %v", err)
		}
		if _, err := getRecord[shared.Token](e, crypt.HashToken(tok.Token)); shared.ErrorCode(err) != shared.ENOTFOUND {
			t.Fatalf("token after delete: %v", err)
		}
		if _, err := getRecord[shared.Session](e, crypt.HashToken(session)); shared.ErrorCode(err) != shared.ENOTFOUND {
			t.Fatalf("session after delete: %v", err)
		}
		if _, err := getRecord[shared.Space](e, sp.ID); shared.ErrorCode(err) != shared.ENOTFOUND {
			t.Fatalf("space after delete: %v", err)
		}
		if calls := e.ctl.Calls(); len(calls) != 1 || calls[0] != "delete "+sp.ID {
			t.Fatalf("controller calls = %v, want the space deleted through it", calls)
		}
		if !e.hasAudit("User Delete", "carol") {
			t.Fatal("no audit event for the delete")
		}
		e.must(http.StatusNotFound, "GET", "/api/users/"+carol.ID, admin, nil)
	})
}

func TestUserPermissions(t *testing.T) {
	e := newEnv(t)
	admin, adminToken := e.admin()
	ann, annToken := e.user("ann")
	bob, _ := e.user("bob")
	spaceAdminRole := e.role("space-admin", shared.PermManageSpaces)
	_, spaceAdmin := e.user("sam", spaceAdminRole)

	tests := []struct {
		name         string
		method, path string
		token        string
		body         any
		want         int
	}{
		{"ListNeedsManageUsers", "GET", "/api/users", annToken, nil, http.StatusForbidden},
		{"ListWithManageSpacesIsAllowed", "GET", "/api/users", spaceAdmin, nil, http.StatusOK},
		{"CreateNeedsManageUsers", "POST", "/api/users", annToken, map[string]any{"username": "eve", "email": "eve@example.com", "password": "eve-password"}, http.StatusForbidden},
		{"GetSelfIsAllowed", "GET", "/api/users/" + ann.ID, annToken, nil, http.StatusOK},
		{"GetOtherNeedsManageUsers", "GET", "/api/users/" + bob.ID, annToken, nil, http.StatusForbidden},
		{"QuotaOfSelfIsAllowed", "GET", "/api/users/" + ann.ID + "/quota", annToken, nil, http.StatusOK},
		{"QuotaOfOtherNeedsManageUsers", "GET", "/api/users/" + bob.ID + "/quota", annToken, nil, http.StatusForbidden},
		{"UpdateSelfProfileIsAllowed", "PUT", "/api/users/" + ann.ID, annToken, map[string]any{"preferred_shell": "fish", "ssh_public_key": "ssh-ed25519 AAAA"}, http.StatusOK},
		{"UpdateSelfSameRolesIsAllowed", "PUT", "/api/users/" + ann.ID, annToken, map[string]any{"roles": []string{shared.UserRoleID}}, http.StatusOK},
		{"UpdateOwnRolesNeedsManageUsers", "PUT", "/api/users/" + ann.ID, annToken, map[string]any{"roles": []string{shared.AdminRoleID}}, http.StatusForbidden},
		{"UpdateOwnGroupsNeedsManageUsers", "PUT", "/api/users/" + ann.ID, annToken, map[string]any{"groups": []string{"x"}}, http.StatusForbidden},
		{"UpdateOwnActiveNeedsManageUsers", "PUT", "/api/users/" + ann.ID, annToken, map[string]any{"active": false}, http.StatusForbidden},
		{"UpdateOwnQuotaNeedsManageUsers", "PUT", "/api/users/" + ann.ID, annToken, map[string]any{"max_spaces": 100}, http.StatusForbidden},
		{"UpdateOtherNeedsManageUsers", "PUT", "/api/users/" + bob.ID, annToken, map[string]any{"timezone": "UTC"}, http.StatusForbidden},
		{"DeleteOtherNeedsManageUsers", "DELETE", "/api/users/" + bob.ID, annToken, nil, http.StatusForbidden},
		{"DeleteSelfIsForbidden", "DELETE", "/api/users/" + admin.ID, adminToken, nil, http.StatusForbidden},
		{"AdminCannotDeactivateSelf", "PUT", "/api/users/" + admin.ID, adminToken, map[string]any{"active": false}, http.StatusBadRequest},
		{"UnknownUserIs404", "GET", "/api/users/00000000-0000-0000-0000-00000000dead", adminToken, nil, http.StatusNotFound},
		{"NoTokenIs401", "GET", "/api/users/" + ann.ID, "", nil, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.revision()
			r := e.do(tc.method, tc.path, tc.token, tc.body)
			if r.code != tc.want {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, r.code, r.body, tc.want)
			}
			if r.code >= 400 {
				r.errMsg(t)
				if e.revision() != before {
					t.Fatal("the refused request wrote to the store")
				}
			}
		})
	}
}

func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	e := newEnv(t)
	ann, current := e.user("ann")
	other := e.session(ann.ID)
	e.must(http.StatusOK, "PUT", "/api/users/"+ann.ID, current, map[string]any{"password": "a-new-password", "current_password": testPassword})
	e.must(http.StatusOK, "GET", "/api/users/whoami", current, nil)
	e.must(http.StatusUnauthorized, "GET", "/api/users/whoami", other, nil)
	if r := login(e, "ann@example.com", "a-new-password"); r.code != http.StatusOK {
		t.Fatalf("login with the new password = %d", r.code)
	}
}

func TestDeactivationEndsSessions(t *testing.T) {
	e := newEnv(t)
	_, admin := e.admin()
	ann, token := e.user("ann")
	e.must(http.StatusOK, "PUT", "/api/users/"+ann.ID, admin, map[string]any{"active": false})
	e.must(http.StatusUnauthorized, "GET", "/api/users/whoami", token, nil)
	sessions, _ := storage.ListWhere(context.Background(), e.store, func(s *shared.Session) bool { return s.UserID == ann.ID })
	if len(sessions) != 0 {
		t.Fatalf("%d sessions left for the deactivated user", len(sessions))
	}
}

func TestWhoAmIListsPermissions(t *testing.T) {
	e := newEnv(t)
	_, token := e.user("ann")
	var who struct {
		Permissions []int `json:"permissions"`
		Current     bool  `json:"current"`
	}
	e.must(http.StatusOK, "GET", "/api/users/whoami", token, nil).decode(t, &who)
	if !who.Current || len(who.Permissions) != 1 || who.Permissions[0] != int(shared.PermUseSpaces) {
		t.Fatalf("whoami = %+v, want the User role's permissions", who)
	}
}

func TestListUsersByState(t *testing.T) {
	e := newEnv(t)
	_, admin := e.admin()
	bob, _ := e.user("bob")
	bob.Active = false
	e.store.Put(context.Background(), bob)
	for state, want := range map[string]int{"": 2, "all": 2, "active": 1, "inactive": 1} {
		var out struct {
			Count int `json:"count"`
		}
		e.must(http.StatusOK, "GET", "/api/users?state="+state, admin, nil).decode(t, &out)
		if out.Count != want {
			t.Errorf("state=%s: %d users, want %d", state, out.Count, want)
		}
	}
	e.must(http.StatusBadRequest, "GET", "/api/users?state=gone", admin, nil)
}
