package runtime_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// renderData is the data of every rendering golden file.
func renderData(nomad bool) *runtime.RenderData {
	d := &runtime.RenderData{
		Space:    &shared.Space{Meta: shared.Meta{ID: "0190a8f2-7c1e-7d3a-9b2f-1a2b3c4d5e6f"}, Name: "dev"},
		User:     &shared.User{Meta: shared.Meta{ID: "0190a8f2-0000-7000-8000-00000000a11e"}, Username: "ann", Email: "ann@example.com", Timezone: "Europe/London", ServicePassword: "s3rv1ce"},
		Template: &shared.Template{Meta: shared.Meta{ID: "0190a8f2-0000-7000-8000-0000000000d1"}, Name: "debian"},
		Server: runtime.ServerInfo{
			URL: "https://knot.example.com/", AgentEndpoint: "srv+knot-agent.service.consul",
			WildcardDomain: "*.knot.example.com", Location: "london", Timezone: "UTC",
		},
		Vars: map[string]string{
			"registry": "registry.example.com", "registry_user": "robot", "registry_password": "p@ss: word",
			"ports": "8080", "greeting": `say "hi"`, "html": "<b>&</b>", "optional": "",
		},
	}
	if nomad {
		d.Nomad = &runtime.NomadInfo{DC: "dc1", Region: "europe"}
	}
	return d
}

// TestRenderGolden renders each testdata/render/*.tmpl and compares the
// output, or the error for err_*.tmpl, with its .golden file. Run with
// -update to rewrite the golden files after checking the differences.
func TestRenderGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/render/*.tmpl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates in testdata/render: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".tmpl")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			out, err := runtime.Render(`template "dev"`, string(src), renderData(name == "nomad"))
			wantErr := strings.HasPrefix(name, "err_")
			var got string
			switch {
			case wantErr && err == nil:
				t.Fatalf("rendered without error:\n%s", out)
			case wantErr:
				if shared.ErrorCode(err) != shared.EINVALID {
					t.Fatalf("error code %q; want EINVALID: %v", shared.ErrorCode(err), err)
				}
				got = err.Error() + "\n"
			case err != nil:
				t.Fatalf("render: %v", err)
			default:
				got = out
			}
			if strings.Contains(got, "<no value>") {
				t.Fatalf("output contains <no value>:\n%s", got)
			}
			golden := strings.TrimSuffix(file, ".tmpl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant (%s):\n%s", got, golden, want)
			}
		})
	}
}

// TestMissingVarErrorNamesTheVariable checks that a reference to an
// undefined variable, in each form a template may write it, is a
// *runtime.MissingVarError with the variable's name, and still the EINVALID
// error with the message users see.
func TestMissingVarErrorNamesTheVariable(t *testing.T) {
	for _, tt := range []struct {
		name, src, wantVar, wantMsg string
	}{
		{"Field", "a: ${{ .var.FOO }}", "FOO", `template "dev" line 1: .var.FOO is not defined`},
		{"FieldFromRoot", "a: 1\nb: ${{ with .space }}${{ $.var.FOO }}${{ end }}", "FOO", `template "dev" line 2: $.var.FOO is not defined`},
		{"Index", "a: ${{ index .var \"FOO\" }}", "FOO", `template "dev" line 1: index .var "FOO": key "FOO" is not defined`},
		{"IndexOfAVariable", "a: ${{ $v := .var }}${{ index $v \"my-var\" }}", "my-var", `template "dev" line 1: index $v "my-var": key "my-var" is not defined`},
		{"NotAVariable", "a: ${{ .user.nickname }}", "", `template "dev" line 1: .user.nickname is not defined`},
		{"InsideAVariable", "a: ${{ .var.registry.host }}", "", `template "dev" line 1: .var.registry.host: can't evaluate field host in type string`},
		{"IndexNotAVariable", "a: ${{ index .user \"FOO\" }}", "", `template "dev" line 1: index .user "FOO": key "FOO" is not defined`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runtime.Render(`template "dev"`, tt.src, renderData(false))
			if shared.ErrorCode(err) != shared.EINVALID || err.Error() != tt.wantMsg {
				t.Fatalf("error %v (%s); want EINVALID %q", err, shared.ErrorCode(err), tt.wantMsg)
			}
			var missing *runtime.MissingVarError
			switch ok := errors.As(err, &missing); {
			case tt.wantVar == "" && ok:
				t.Fatalf("a MissingVarError for %q; want none", missing.Name)
			case tt.wantVar != "" && !ok:
				t.Fatalf("%T is not a MissingVarError", err)
			case ok && missing.Name != tt.wantVar:
				t.Fatalf("MissingVarError names %q; want %q", missing.Name, tt.wantVar)
			}
		})
	}
}
