package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/web"
)

// POST /api/templates/validate says whether a save would pass, and where
// a spec fails: at the line of the text that is wrong. It saves nothing,
// and needs Manage Templates.
func TestValidateTemplateSaysWhere(t *testing.T) {
	e := newEnv(t, func(o *web.TestOptions) { o.ValidateTemplate = runtime.ValidateTemplate })
	_, admin := e.admin()
	_, user := e.user("ann")
	before := e.revision()
	for _, tt := range []struct {
		name string
		body map[string]any
		want api.TemplateCheck
	}{
		{"Valid", map[string]any{"name": "dev", "kind": "container", "spec": "image: x\n"}, api.TemplateCheck{Valid: true}},
		{"YAMLAtItsLine", map[string]any{"name": "dev", "kind": "container", "spec": "image: x\nauth:\n  username: a\n password: b\n"},
			api.TemplateCheck{Error: `template "dev" line 4: did not find expected key`, Field: "spec", Line: 4}},
		{"KeyAtItsColumn", map[string]any{"name": "dev", "kind": "container", "spec": "image: x\nports:\n  - \"1:2:3:4\"\n"},
			api.TemplateCheck{Field: "spec", Line: 3, Column: 5}},
		{"Volumes", map[string]any{"name": "dev", "kind": "container", "spec": "image: x\n", "volumes": "volumes:\n  - \"a b\"\n"},
			api.TemplateCheck{Field: "volumes", Line: 2, Column: 5}},
		{"NomadHCL", map[string]any{"name": "job", "kind": "nomad", "spec": "job \"x\" {\n  type = \n}\n"},
			api.TemplateCheck{Field: "spec", Line: 2, Column: 10}},
		{"NoPlace", map[string]any{"name": "dev", "kind": "vm"}, api.TemplateCheck{Error: `template "dev": kind "vm" is not container, nomad or manual`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got api.TemplateCheck
			e.must(http.StatusOK, "POST", "/api/templates/validate", admin, tt.body).decode(t, &got)
			want := tt.want
			if want.Error == "" && !want.Valid {
				want.Error = got.Error // the message is runtime's; the place is what counts
			}
			if got != want || (!got.Valid && got.Error == "") {
				t.Fatalf("check = %+v; want %+v", got, want)
			}
		})
	}
	if e.revision() != before {
		t.Fatal("a check wrote to the store")
	}
	e.must(http.StatusForbidden, "POST", "/api/templates/validate", user, map[string]any{"kind": "manual"})
}

// A new template allows terminals and SSH unless it says otherwise; the
// details list the spaces made from it that the caller may see.
func TestTemplateDefaultsAndItsSpaces(t *testing.T) {
	e := newEnv(t)
	_, admin := e.admin()
	ann, _ := e.user("ann")
	_, tm := e.user("tm", e.role("templates", shared.PermManageTemplates))
	var created api.TemplateCreated
	e.must(http.StatusCreated, "POST", "/api/templates", admin, map[string]any{"name": "open", "kind": "manual"}).decode(t, &created)
	var d api.TemplateDetails
	e.must(http.StatusOK, "GET", "/api/templates/"+created.TemplateID, admin, nil).decode(t, &d)
	if !d.WithTerminal || !d.WithSSH || len(d.Spaces) != 0 {
		t.Fatalf("a new template: with_terminal %v, with_ssh %v, spaces %v; want true, true, none", d.WithTerminal, d.WithSSH, d.Spaces)
	}
	e.must(http.StatusOK, "PUT", "/api/templates/"+created.TemplateID, admin, map[string]any{"with_ssh": false})
	tpl, err := getRecord[shared.Template](e, created.TemplateID)
	if err != nil || tpl.AllowsSSH() || !tpl.AllowsTerminal() {
		t.Fatalf("after with_ssh false: %+v, %v", tpl, err)
	}
	sp := e.space(ann, tpl, "dev")
	e.must(http.StatusOK, "GET", "/api/templates/"+created.TemplateID, admin, nil).decode(t, &d)
	if len(d.Spaces) != 1 || d.Spaces[0] != (api.TemplateSpace{ID: sp.ID, Name: "dev", UserID: ann.ID, Username: "ann", Location: "home"}) || d.Usage != 1 {
		t.Fatalf("spaces %+v (usage %d); want ann's dev", d.Spaces, d.Usage)
	}
	// Manage Templates without Manage Spaces counts the space, but does not
	// see whose it is.
	e.must(http.StatusOK, "GET", "/api/templates/"+created.TemplateID, tm, nil).decode(t, &d)
	if len(d.Spaces) != 0 || d.Usage != 1 {
		t.Fatalf("spaces seen without Manage Spaces: %+v (usage %d)", d.Spaces, d.Usage)
	}
}

// A terminal into a space whose template has with_terminal off is refused
// with 403 and says why.
func TestTerminalOffIs403(t *testing.T) {
	e := newEnv(t)
	ann, token := e.user("ann")
	tpl := e.template("quiet")
	tpl.NoTerminal = true
	if err := e.store.Put(t.Context(), tpl); err != nil {
		t.Fatal(err)
	}
	sp := e.space(ann, tpl, "dev")
	var got api.Space
	e.must(http.StatusOK, "GET", "/api/spaces/"+sp.ID, token, nil).decode(t, &got)
	if got.WithTerminal || !got.WithSSH {
		t.Errorf("the space record says with_terminal %v, with_ssh %v; want false, true", got.WithTerminal, got.WithSSH)
	}
	r := e.must(http.StatusForbidden, "GET", "/api/spaces/"+sp.ID+"/terminal", token, nil)
	if msg := r.errMsg(t); !strings.Contains(msg, "with_terminal off") {
		t.Fatalf("message %q", msg)
	}
}
