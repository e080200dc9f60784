package web_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/web"
)

const containerSpec = "image: debian:12\nhostname: ${{ .space.name }}\n"

func TestTemplates(t *testing.T) {
	e := newEnv(t)
	_, admin := e.admin()
	ann, user := e.user("ann")

	var group struct {
		ID string `json:"group_id"`
	}
	e.must(http.StatusCreated, "POST", "/api/groups", admin, map[string]any{"name": "devs"}).decode(t, &group)

	var created struct {
		ID string `json:"template_id"`
	}
	e.must(http.StatusCreated, "POST", "/api/templates", admin, map[string]any{
		"name": "debian", "description": "Debian 12", "kind": "container", "spec": containerSpec,
		"groups": []string{group.ID}, "locations": []string{"home"}, "compute_units": 2, "with_terminal": true,
	}).decode(t, &created)
	e.must(http.StatusCreated, "POST", "/api/templates", admin, map[string]any{"name": "open", "kind": "manual"})

	t.Run("HashIsComputed", func(t *testing.T) {
		tpl, err := getRecord[shared.Template](e, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if tpl.Hash == "" || tpl.Hash != tpl.ComputeHash() {
			t.Fatalf("hash %q, want %q", tpl.Hash, tpl.ComputeHash())
		}
		var got map[string]any
		e.must(http.StatusOK, "GET", "/api/templates/"+created.ID, admin, nil).decode(t, &got)
		if got["hash"] != tpl.Hash || got["spec"] != containerSpec || got["kind"] != "container" || got["with_terminal"] != true {
			t.Fatalf("template = %v", got)
		}
	})

	t.Run("ListIsFilteredByGroups", func(t *testing.T) {
		names := func(token string) string {
			var out struct {
				Templates []struct {
					Name string `json:"name"`
				} `json:"templates"`
			}
			e.must(http.StatusOK, "GET", "/api/templates", token, nil).decode(t, &out)
			var n []string
			for _, t := range out.Templates {
				n = append(n, t.Name)
			}
			return strings.Join(n, ",")
		}
		if got := names(user); got != "open" {
			t.Fatalf("user outside the group sees %q, want only the open template", got)
		}
		if got := names(admin); got != "debian,open" {
			t.Fatalf("admin sees %q", got)
		}
		e.must(http.StatusOK, "PUT", "/api/users/"+ann.ID, admin, map[string]any{"groups": []string{group.ID}})
		if got := names(user); got != "debian,open" {
			t.Fatalf("group member sees %q", got)
		}
	})

	t.Run("UpdateChangesTheHash", func(t *testing.T) {
		before, _ := getRecord[shared.Template](e, created.ID)
		e.must(http.StatusOK, "PUT", "/api/templates/"+created.ID, admin, map[string]any{"spec": "image: debian:13\n"})
		after, _ := getRecord[shared.Template](e, created.ID)
		if after.Hash == before.Hash || after.Hash != after.ComputeHash() || after.Name != "debian" || after.ComputeUnits != 2 {
			t.Fatalf("template after update = %+v", after)
		}
	})

	t.Run("DeleteWhileUsedIs423", func(t *testing.T) {
		tpl, _ := getRecord[shared.Template](e, created.ID)
		sp := e.space(ann, tpl, "work")
		r := e.must(http.StatusLocked, "DELETE", "/api/templates/"+created.ID, admin, nil)
		if !strings.Contains(r.errMsg(t), "is used by 1 space: delete it first") {
			t.Fatalf("message %s", r.body)
		}
		e.must(http.StatusOK, "DELETE", "/api/spaces/"+sp.ID, admin, nil)
		e.must(http.StatusOK, "DELETE", "/api/templates/"+created.ID, admin, nil)
		e.must(http.StatusNotFound, "GET", "/api/templates/"+created.ID, admin, nil)
	})

	t.Run("WritesAreAudited", func(t *testing.T) {
		for _, ev := range []string{"Template Create", "Template Update", "Template Delete"} {
			if !e.hasAudit(ev, "debian") {
				t.Errorf("no %s event", ev)
			}
		}
	})

	for _, tc := range []struct {
		name, method, path string
		body               any
	}{
		{"CreateNeedsManageTemplates", "POST", "/api/templates", map[string]any{"name": "mine", "kind": "manual"}},
		{"GetNeedsManageTemplates", "GET", "/api/templates/" + e.template("x").ID, nil},
		{"UpdateNeedsManageTemplates", "PUT", "/api/templates/" + e.template("y").ID, map[string]any{"name": "mine"}},
		{"DeleteNeedsManageTemplates", "DELETE", "/api/templates/" + e.template("z").ID, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(http.StatusForbidden, tc.method, tc.path, user, tc.body)
			if !strings.Contains(r.errMsg(t), "Manage Templates") {
				t.Fatalf("message %s", r.body)
			}
		})
	}
}

func TestTemplateValidation(t *testing.T) {
	e := newEnv(t)
	_, admin := e.admin()
	tests := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"KindIsRequired", map[string]any{"name": "a1"}, "kind"},
		{"UnknownKind", map[string]any{"name": "a1", "kind": "vm"}, "kind"},
		{"ContainerNeedsSpec", map[string]any{"name": "a1", "kind": "container"}, "spec"},
		{"NomadNeedsSpec", map[string]any{"name": "a1", "kind": "nomad"}, "spec"},
		{"ContainerSpecMustBeYAMLMapping", map[string]any{"name": "a1", "kind": "container", "spec": "- just\n- a list\n"}, "spec"},
		{"ContainerSpecMustParse", map[string]any{"name": "a1", "kind": "container", "spec": "image: [unclosed"}, "spec"},
		{"UnknownGroup", map[string]any{"name": "a1", "kind": "manual", "groups": []string{"nope"}}, "groups"},
		{"BadLocation", map[string]any{"name": "a1", "kind": "manual", "locations": []string{"no place"}}, "locations"},
		{"NegativeUnits", map[string]any{"name": "a1", "kind": "manual", "compute_units": -1}, "compute_units"},
		{"InvalidName", map[string]any{"name": "a--b", "kind": "manual"}, "name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.revision()
			r := e.must(http.StatusBadRequest, "POST", "/api/templates", admin, tc.body)
			if !strings.Contains(r.errMsg(t), tc.field) {
				t.Fatalf("message %q does not name %s", r.errMsg(t), tc.field)
			}
			if e.revision() != before {
				t.Fatal("store changed")
			}
		})
	}

	t.Run("SpecOver1MiBIs413", func(t *testing.T) {
		big := strings.Repeat("a", 1<<20+1)
		r := e.must(http.StatusRequestEntityTooLarge, "POST", "/api/templates", admin, map[string]any{"name": "big", "kind": "nomad", "spec": big})
		r.errMsg(t)
	})
}

func TestCustomTemplateValidator(t *testing.T) {
	var seen *shared.Template
	e := newEnv(t, func(o *web.TestOptions) {
		o.ValidateTemplate = func(t *shared.Template) error {
			seen = t
			if strings.Contains(t.Spec, "forbidden") {
				return errors.New("spec: line 1: image forbidden")
			}
			return nil
		}
	})
	_, admin := e.admin()
	r := e.must(http.StatusBadRequest, "POST", "/api/templates", admin, map[string]any{"name": "bad", "kind": "nomad", "spec": "forbidden"})
	if !strings.Contains(r.errMsg(t), "image forbidden") {
		t.Fatalf("message %s", r.body)
	}
	e.must(http.StatusCreated, "POST", "/api/templates", admin, map[string]any{"name": "good", "kind": "nomad", "spec": "job \"x\" {}"})
	if seen == nil || seen.Name != "good" || seen.Hash == "" {
		t.Fatalf("validator saw %+v", seen)
	}
}

func TestTemplateVars(t *testing.T) {
	sealer, err := crypt.NewSealer(crypt.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *web.TestOptions) { o.Sealer = sealer })
	_, admin := e.admin()
	_, user := e.user("ann")

	var plain, secret struct {
		ID string `json:"templatevar_id"`
	}
	e.must(http.StatusCreated, "POST", "/api/templatevars", admin, map[string]any{"name": "region", "value": "eu-west", "location": "home"}).decode(t, &plain)
	e.must(http.StatusCreated, "POST", "/api/templatevars", admin, map[string]any{"name": "db_password", "value": "s3cret-value", "protected": true, "restricted": true}).decode(t, &secret)

	t.Run("ProtectedValueIsSealedAtRest", func(t *testing.T) {
		v, err := getRecord[shared.TemplateVar](e, secret.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !crypt.IsSealed(v.Value) {
			t.Fatalf("stored value %q is not sealed", v.Value)
		}
		if got, err := sealer.Open(v.Value); err != nil || got != "s3cret-value" {
			t.Fatalf("sealed value opens to %q, %v", got, err)
		}
		if storeHolds(t, e, "s3cret-value") {
			t.Fatal("the plaintext is in the store")
		}
	})

	t.Run("ProtectedValueIsNeverReturned", func(t *testing.T) {
		stored, _ := getRecord[shared.TemplateVar](e, secret.ID)
		for _, path := range []string{"/api/templatevars", "/api/templatevars/" + secret.ID} {
			r := e.must(http.StatusOK, "GET", path, admin, nil)
			if strings.Contains(r.String(), "s3cret-value") || strings.Contains(r.String(), "sealed:") || strings.Contains(r.String(), stored.Value[12:30]) {
				t.Fatalf("GET %s reveals the value: %s", path, r.body)
			}
		}
		var got map[string]any
		e.must(http.StatusOK, "GET", "/api/templatevars/"+secret.ID, admin, nil).decode(t, &got)
		if got["value"] != "" || got["protected"] != true || got["restricted"] != true {
			t.Fatalf("protected variable = %v", got)
		}
		e.must(http.StatusOK, "GET", "/api/templatevars/"+plain.ID, admin, nil).decode(t, &got)
		if got["value"] != "eu-west" || got["location"] != "home" {
			t.Fatalf("plain variable = %v", got)
		}
	})

	t.Run("UpdateWithoutValueKeepsTheSecret", func(t *testing.T) {
		e.must(http.StatusOK, "PUT", "/api/templatevars/"+secret.ID, admin, map[string]any{"name": "db_pass"})
		v, _ := getRecord[shared.TemplateVar](e, secret.ID)
		if got, err := sealer.Open(v.Value); err != nil || got != "s3cret-value" || v.Name != "db_pass" {
			t.Fatalf("after rename: %q (%v), name %q", got, err, v.Name)
		}
	})

	t.Run("UpdateWithValueSealsIt", func(t *testing.T) {
		e.must(http.StatusOK, "PUT", "/api/templatevars/"+secret.ID, admin, map[string]any{"value": "new-secret"})
		v, _ := getRecord[shared.TemplateVar](e, secret.ID)
		if got, err := sealer.Open(v.Value); err != nil || got != "new-secret" {
			t.Fatalf("after new value: %q (%v)", got, err)
		}
	})

	t.Run("ProtectingSealsTheExistingValue", func(t *testing.T) {
		e.must(http.StatusOK, "PUT", "/api/templatevars/"+plain.ID, admin, map[string]any{"protected": true})
		v, _ := getRecord[shared.TemplateVar](e, plain.ID)
		if got, err := sealer.Open(v.Value); err != nil || got != "eu-west" {
			t.Fatalf("after protecting: %q (%v)", got, err)
		}
	})

	t.Run("UnprotectingNeedsAValue", func(t *testing.T) {
		r := e.must(http.StatusBadRequest, "PUT", "/api/templatevars/"+plain.ID, admin, map[string]any{"protected": false})
		if !strings.Contains(r.errMsg(t), "value") {
			t.Fatalf("message %s", r.body)
		}
		e.must(http.StatusOK, "PUT", "/api/templatevars/"+plain.ID, admin, map[string]any{"protected": false, "value": "eu-north"})
		v, _ := getRecord[shared.TemplateVar](e, plain.ID)
		if v.Value != "eu-north" || v.Protected {
			t.Fatalf("after unprotecting: %+v", v)
		}
	})

	t.Run("DuplicateNameAndLocationIs409", func(t *testing.T) {
		e.must(http.StatusConflict, "POST", "/api/templatevars", admin, map[string]any{"name": "region", "location": "home"})
		e.must(http.StatusCreated, "POST", "/api/templatevars", admin, map[string]any{"name": "region", "location": "away"})
	})

	t.Run("Delete", func(t *testing.T) {
		e.must(http.StatusOK, "DELETE", "/api/templatevars/"+plain.ID, admin, nil)
		e.must(http.StatusNotFound, "GET", "/api/templatevars/"+plain.ID, admin, nil)
		for _, ev := range []string{"Variable Create", "Variable Update", "Variable Delete"} {
			if !e.hasAudit(ev, "") {
				t.Errorf("no %s event", ev)
			}
		}
	})

	t.Run("NeedsManageVariables", func(t *testing.T) {
		for _, q := range []struct{ method, path string }{
			{"GET", "/api/templatevars"}, {"POST", "/api/templatevars"}, {"GET", "/api/templatevars/" + secret.ID},
			{"PUT", "/api/templatevars/" + secret.ID}, {"DELETE", "/api/templatevars/" + secret.ID},
		} {
			r := e.must(http.StatusForbidden, q.method, q.path, user, map[string]any{"name": "x"})
			if !strings.Contains(r.errMsg(t), "Manage Variables") {
				t.Fatalf("message %s", r.body)
			}
		}
	})
}

func TestProtectedVariableWithoutKeyIs400(t *testing.T) {
	e := newEnv(t)
	_, admin := e.admin()
	before := e.revision()
	r := e.must(http.StatusBadRequest, "POST", "/api/templatevars", admin, map[string]any{"name": "pw", "value": "x", "protected": true})
	if !strings.Contains(r.errMsg(t), "server.encrypt is not set") {
		t.Fatalf("message %s", r.body)
	}
	if e.revision() != before {
		t.Fatal("store changed")
	}
}
