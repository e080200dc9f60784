package main_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/config"
)

// The job of knot scaffold --nomad configures knot through KNOT_*
// variables: each must be one of knot's, and together (with Nomad's
// ${...} filled in) they must start a standalone server.
func TestScaffoldNomadJobConfiguresKnot(t *testing.T) {
	r := knot(t, nil, "", "scaffold", "--nomad")
	mustSucceed(t, r)
	for _, want := range []string{`job "knot-server"`, `args    = ["server"]`, `path     = "/health"`, `static = 3000`, `static = 3010`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the job lacks %s:\n%s", want, r.stdout)
		}
	}
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[k.Env] = true
	}
	env := map[string]string{}
	nomadVar := regexp.MustCompile(`\$\{[a-z.\-]+\}`)
	for _, m := range regexp.MustCompile(`(?m)^\s+(KNOT_[A-Z_]+)\s+= "([^"]*)"$`).FindAllStringSubmatch(r.stdout, -1) {
		if !known[m[1]] {
			t.Errorf("%s is not a variable of knot", m[1])
		}
		env[m[1]] = nomadVar.ReplaceAllString(m[2], "dc1")
	}
	if len(env) < 6 {
		t.Fatalf("the job sets only %v", env)
	}
	env["KNOT_NOMAD_ADDR"] = "http://127.0.0.1:4646" // ${attr...} is an address
	cfg, err := config.Load(config.Options{File: os.DevNull, Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatalf("the job's configuration does not load: %v", err)
	}
	if cfg.Role() != config.RoleStandalone || cfg.Server.Listen != "0.0.0.0:3000" || cfg.Server.BadgerDB.Path != "/var/lib/knot/badger" {
		t.Errorf("role %s, listen %s, badger %s", cfg.Role(), cfg.Server.Listen, cfg.Server.BadgerDB.Path)
	}
}

// The template of knot scaffold --nomad-template imports as it is printed,
// and its spec renders for a space into a Nomad job.
func TestScaffoldNomadTemplateImports(t *testing.T) {
	r := knot(t, nil, "", "scaffold", "--nomad-template")
	mustSucceed(t, r)
	ts := startServer(t)
	mustSucceed(t, knot(t, ts.as(t, ts.adminToken), r.stdout, "template", "import", "-"))
	tps := ts.templates(t)
	if len(tps) != 1 || tps[0].Name != "nomad-dev" || tps[0].Kind != "nomad" {
		t.Fatalf("templates: %+v", tps)
	}
	var file struct{ Spec string }
	if err := yaml.Unmarshal([]byte(r.stdout), &file); err != nil {
		t.Fatal(err)
	}
	if tps[0].Spec != file.Spec {
		t.Errorf("spec stored as %q", tps[0].Spec)
	}
	data := &runtime.RenderData{
		Space:    &shared.Space{Meta: shared.Meta{ID: "0193f1c2-0000-7000-8000-000000000001"}, Name: "dev"},
		User:     &shared.User{Meta: shared.Meta{ID: "0193f1c2-0000-7000-8000-000000000002"}, Username: "alice", Timezone: "Europe/London"},
		Template: &shared.Template{Meta: shared.Meta{ID: "0193f1c2-0000-7000-8000-000000000003"}, Name: "nomad-dev"},
	}
	job, err := runtime.Render(`template "nomad-dev"`, tps[0].Spec, data)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(job, `job "alice-dev" {`) || !strings.Contains(job, `TZ = "Europe/London"`) {
		t.Errorf("rendered job:\n%s", job)
	}
	r = knot(t, nil, "", "scaffold", "--nomad", "--nomad-template")
	if r.code != 2 || !strings.Contains(r.stderr, "give only one of") {
		t.Errorf("two kinds: exit %d, stderr %q", r.code, r.stderr)
	}
}

// runtime/nomad runs the Nomad files of knot scaffold against its fake
// Nomad from copies in its testdata: they must be what knot prints.
func TestScaffoldNomadFilesAreTheOnesNomadTestsRun(t *testing.T) {
	for what, file := range map[string]string{
		"--nomad":          "../../runtime/nomad/testdata/scaffold/knot-server.nomad",
		"--nomad-template": "../../runtime/nomad/testdata/scaffold/nomad-template.yaml",
	} {
		r := knot(t, nil, "", "scaffold", what)
		mustSucceed(t, r)
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != r.stdout {
			t.Errorf("%s differs from knot scaffold %s: go run ./cmd/knot scaffold %s > %s", file, what, what, strings.TrimPrefix(file, "../../"))
		}
	}
}
