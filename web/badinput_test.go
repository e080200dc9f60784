package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
)

// fixture is a server with one record of each kind and an admin.
type fixture struct {
	*env
	admin, userToken              string
	user                          *shared.User
	group, role, tmpl, tvar, spID string
}

func newFixture(t testing.TB) *fixture {
	e := newEnv(t)
	f := &fixture{env: e}
	_, f.admin = e.admin()
	f.user, f.userToken = e.user("ann")
	var id struct {
		Group string `json:"group_id"`
		Role  string `json:"role_id"`
		Tmpl  string `json:"template_id"`
		Var   string `json:"templatevar_id"`
		Space string `json:"space_id"`
	}
	e.must(http.StatusCreated, "POST", "/api/groups", f.admin, map[string]any{"name": "devs"}).decode(t, &id)
	e.must(http.StatusCreated, "POST", "/api/roles", f.admin, map[string]any{"name": "helpers"}).decode(t, &id)
	e.must(http.StatusCreated, "POST", "/api/templates", f.admin, map[string]any{"name": "manual", "kind": "manual"}).decode(t, &id)
	e.must(http.StatusCreated, "POST", "/api/templatevars", f.admin, map[string]any{"name": "region", "value": "eu"}).decode(t, &id)
	e.must(http.StatusCreated, "POST", "/api/spaces", f.userToken, map[string]any{"name": "work", "template_id": id.Tmpl}).decode(t, &id)
	f.group, f.role, f.tmpl, f.tvar, f.spID = id.Group, id.Role, id.Tmpl, id.Var, id.Space
	return f
}

// bodyRoutes are the routes that read a JSON body, with a body that
// succeeds (as an admin, except spaces, which are the user's).
func (f *fixture) bodyRoutes() []struct {
	method, path string
	token        string
	valid        string
} {
	return []struct {
		method, path string
		token        string
		valid        string
	}{
		{"POST", "/api/auth", "", `{"email":"ann@example.com","password":"` + testPassword + `"}`},
		{"POST", "/api/auth/web", "", `{"email":"ann@example.com","password":"` + testPassword + `"}`},
		{"POST", "/api/users", f.admin, `{"username":"newbie","email":"newbie@example.com","password":"long-enough"}`},
		{"PUT", "/api/users/" + f.user.ID, f.admin, `{"timezone":"UTC"}`},
		{"POST", "/api/groups", f.admin, `{"name":"ops"}`},
		{"PUT", "/api/groups/" + f.group, f.admin, `{"max_spaces":2}`},
		{"POST", "/api/roles", f.admin, `{"name":"viewers","permissions":[9]}`},
		{"PUT", "/api/roles/" + f.role, f.admin, `{"permissions":[1]}`},
		{"POST", "/api/tokens", f.admin, `{"name":"cli"}`},
		{"POST", "/api/templates", f.admin, `{"name":"other","kind":"manual"}`},
		{"PUT", "/api/templates/" + f.tmpl, f.admin, `{"description":"hand made"}`},
		{"POST", "/api/templatevars", f.admin, `{"name":"zone","value":"a"}`},
		{"PUT", "/api/templatevars/" + f.tvar, f.admin, `{"value":"us"}`},
		{"POST", "/api/spaces", f.userToken, `{"name":"play","template_id":"` + f.tmpl + `"}`},
		{"PUT", "/api/spaces/" + f.spID, f.userToken, `{"description":"mine"}`},
	}
}

func TestBadBodies(t *testing.T) {
	f := newFixture(t)
	big := `{"name":"` + strings.Repeat("x", 1<<20) + `"}`
	classes := []struct {
		name string
		body string
		want int
		msg  string
	}{
		{"MalformedJSON", `{"name":`, http.StatusBadRequest, "not valid JSON"},
		{"SyntaxError", `{"name" "x"}`, http.StatusBadRequest, "not valid JSON"},
		{"UnknownField", `{"bogus_field":1}`, http.StatusBadRequest, `unknown field "bogus_field"`},
		{"TrailingValue", `{} {}`, http.StatusBadRequest, "more than one JSON value"},
		{"TrailingGarbage", `{}xyz`, http.StatusBadRequest, "after the JSON object"},
		{"NotAnObject", `[1,2]`, http.StatusBadRequest, "must be a JSON object"},
		{"EmptyBody", ``, http.StatusBadRequest, "empty"},
		{"OverOneMiB", big, http.StatusRequestEntityTooLarge, "larger than"},
	}
	for _, rt := range f.bodyRoutes() {
		for _, c := range classes {
			t.Run(rt.method+rt.path+"/"+c.name, func(t *testing.T) {
				before := f.revision()
				r := f.send(req{method: rt.method, path: rt.path, token: rt.token, body: c.body})
				if r.code != c.want {
					t.Fatalf("= %d %s, want %d", r.code, r.body, c.want)
				}
				if msg := r.errMsg(t); !strings.Contains(msg, c.msg) {
					t.Fatalf("message %q does not say %q", msg, c.msg)
				}
				if f.revision() != before {
					t.Fatal("store changed")
				}
			})
		}
		// A value of the wrong type names the field.
		field := strings.SplitN(strings.TrimPrefix(rt.valid, `{"`), `"`, 2)[0]
		t.Run(rt.method+rt.path+"/WrongType", func(t *testing.T) {
			before := f.revision()
			r := f.send(req{method: rt.method, path: rt.path, token: rt.token, body: fmt.Sprintf(`{%q: {"nested": true}}`, field)})
			if r.code != http.StatusBadRequest {
				t.Fatalf("= %d %s", r.code, r.body)
			}
			if msg := r.errMsg(t); !strings.Contains(msg, field) {
				t.Fatalf("message %q does not name %s", msg, field)
			}
			if f.revision() != before {
				t.Fatal("store changed")
			}
		})
	}
	// The valid bodies do succeed, so the failures above are about the body.
	for _, rt := range f.bodyRoutes() {
		t.Run(rt.method+rt.path+"/Valid", func(t *testing.T) {
			r := f.send(req{method: rt.method, path: rt.path, token: rt.token, body: rt.valid})
			if r.code != http.StatusOK && r.code != http.StatusCreated {
				t.Fatalf("= %d %s", r.code, r.body)
			}
		})
	}
}

func TestBadValues(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("a", 65)
	tests := []struct {
		name         string
		method, path string
		body         any
		want         int
		field        string
	}{
		{"UsernameWithDoubleDash", "POST", "/api/users", map[string]any{"username": "ann--b", "email": "x@example.com", "password": "long-enough"}, 400, "username"},
		{"UsernameTooLong", "POST", "/api/users", map[string]any{"username": long, "email": "x@example.com", "password": "long-enough"}, 400, "username"},
		{"UsernameStartsWithDigit", "POST", "/api/users", map[string]any{"username": "1ann", "email": "x@example.com", "password": "long-enough"}, 400, "username"},
		{"BadEmail", "POST", "/api/users", map[string]any{"username": "xavier", "email": "not-an-email", "password": "long-enough"}, 400, "email"},
		{"EmailWithName", "POST", "/api/users", map[string]any{"username": "xavier", "email": "X <x@example.com>", "password": "long-enough"}, 400, "email"},
		{"ShortPassword", "POST", "/api/users", map[string]any{"username": "xavier", "email": "x@example.com", "password": "short"}, 400, "password"},
		{"PasswordOver72Bytes", "POST", "/api/users", map[string]any{"username": "xavier", "email": "x@example.com", "password": strings.Repeat("p", 73)}, 400, "password"},
		{"UnknownRole", "POST", "/api/users", map[string]any{"username": "xavier", "email": "x@example.com", "password": "long-enough", "roles": []string{"nope"}}, 400, "roles"},
		{"UnknownGroup", "POST", "/api/users", map[string]any{"username": "xavier", "email": "x@example.com", "password": "long-enough", "groups": []string{"nope"}}, 400, "groups"},
		{"BadShell", "POST", "/api/users", map[string]any{"username": "xavier", "email": "x@example.com", "password": "long-enough", "preferred_shell": "csh"}, 400, "preferred_shell"},
		{"BadTimezone", "POST", "/api/users", map[string]any{"username": "xavier", "email": "x@example.com", "password": "long-enough", "timezone": "Mars/Olympus"}, 400, "timezone"},
		{"NegativeQuota", "POST", "/api/users", map[string]any{"username": "xavier", "email": "x@example.com", "password": "long-enough", "max_spaces": -1}, 400, "max_spaces"},
		{"NumberOutOfRange", "POST", "/api/users", `{"username":"xavier","email":"x@example.com","password":"long-enough","max_spaces":1e30}`, 400, "max_spaces"},
		{"UpdateBadEmail", "PUT", "/api/users/" + f.user.ID, map[string]any{"email": "nope"}, 400, "email"},
		{"UpdateShortPassword", "PUT", "/api/users/" + f.user.ID, map[string]any{"password": "1234567"}, 400, "password"},
		{"GroupNameWithSpace", "POST", "/api/groups", map[string]any{"name": "my group"}, 400, "name"},
		{"GroupNameMissing", "POST", "/api/groups", map[string]any{"max_spaces": 1}, 400, "name"},
		{"RoleNameWithDoubleDash", "POST", "/api/roles", map[string]any{"name": "a--b"}, 400, "name"},
		{"PermissionTooLarge", "POST", "/api/roles", `{"name":"big","permissions":[70000]}`, 400, "permissions"},
		{"TokenNameTooLong", "POST", "/api/tokens", map[string]any{"name": strings.Repeat("n", 256)}, 400, "name"},
		{"TemplateNameWithDoubleDash", "PUT", "/api/templates/" + f.tmpl, map[string]any{"name": "a--b"}, 400, "name"},
		{"TemplateKindUnknown", "PUT", "/api/templates/" + f.tmpl, map[string]any{"kind": "vm"}, 400, "kind"},
		{"VarNameWithDash", "POST", "/api/templatevars", map[string]any{"name": "my-var"}, 400, "name"},
		{"VarBadLocation", "POST", "/api/templatevars", map[string]any{"name": "v", "location": "a b"}, 400, "location"},
		{"SpaceNameWithDoubleDash", "PUT", "/api/spaces/" + f.spID, map[string]any{"name": "a--b"}, 400, "name"},
		{"SpaceBadShell", "PUT", "/api/spaces/" + f.spID, map[string]any{"shell": "pwsh"}, 400, "shell"},
		{"DescriptionWithControlCharacter", "PUT", "/api/spaces/" + f.spID, map[string]any{"description": "a\x00b"}, 400, "description"},
		{"AuditStartNotANumber", "GET", "/api/audit-logs?start=x", nil, 400, "start"},
		{"AuditMaxItemsTooLarge", "GET", "/api/audit-logs?max_items=100000", nil, 400, "max_items"},
		{"UnknownUser", "PUT", "/api/users/00000000-0000-0000-0000-0000000000ff", map[string]any{"timezone": "UTC"}, 404, "user"},
		{"UnknownGroupID", "PUT", "/api/groups/nope", map[string]any{"name": "x1"}, 404, "group"},
		{"UnknownRoleID", "DELETE", "/api/roles/nope", nil, 404, "role"},
		{"UnknownTemplateID", "GET", "/api/templates/nope", nil, 404, "template"},
		{"UnknownVarID", "DELETE", "/api/templatevars/nope", nil, 404, "variable"},
		{"UnknownSpaceID", "POST", "/api/spaces/nope/start", nil, 404, "space"},
		{"UnknownTokenID", "DELETE", "/api/tokens/nope", nil, 404, "token"},
		{"UnknownIDWithOddCharacters", "GET", "/api/users/%00%ff%22", nil, 404, "user"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.revision()
			token := f.admin
			if strings.HasPrefix(tc.path, "/api/spaces") {
				token = f.userToken
			}
			r := f.do(tc.method, tc.path, token, tc.body)
			if r.code != tc.want {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, r.code, r.body, tc.want)
			}
			if msg := r.errMsg(t); !strings.Contains(msg, tc.field) {
				t.Fatalf("message %q does not name %s", msg, tc.field)
			}
			if f.revision() != before {
				t.Fatal("store changed")
			}
		})
	}
}
