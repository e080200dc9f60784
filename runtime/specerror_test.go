package runtime_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
)

// An editor marks the line of a refused spec: every error of a spec or
// volume definition is a *shared.SpecError at the line of the text that
// is wrong (not that of its enclosing block), and at its column where the
// parser knows it.
func TestValidateTemplatePlacesErrorAtItsLine(t *testing.T) {
	const container, nomad = shared.TemplateContainer, shared.TemplateNomad
	for _, tt := range []struct {
		name         string
		kind         shared.TemplateKind
		spec, vols   string
		field        string
		line, column int
		msg          string
	}{
		// YAML syntax: yaml.v3 names the line of the enclosing block.
		{"YAMLItemOutOfList", container, "image: x\nenvironment:\n  - A=1\n  - B=2\n  bad: x\n", "", "spec", 5, 0, "line 5: did not find expected '-' indicator"},
		{"YAMLDedentedItem", container, "image: x\nports:\n  - \"80:80\"\n - \"90:90\"\n", "", "spec", 4, 0, "line 4: did not find expected key"},
		{"YAMLDedentedKey", container, "image: x\nauth:\n  username: a\n password: b\n", "", "spec", 4, 0, "line 4: did not find expected key"},
		{"YAMLListInMapping", container, "image: x\n- a\n", "", "spec", 2, 0, "line 2: did not find expected key"},
		{"YAMLUnclosedFlow", container, "image: x\nports: [\"80:80\"\nnetwork: host\n", "", "spec", 2, 0, "did not find expected ',' or ']'"},
		{"YAMLUnclosedQuote", container, "image: x\n\ncommand: \"abc\n", "", "spec", 3, 0, "found unexpected end of stream"},
		{"YAMLTab", container, "image: x\nenvironment:\n  - A=1\n\tB: 2\n", "", "spec", 4, 0, "line 4: found a tab character"},
		{"YAMLDeepBlock", container, "image: x\nauth:\n  username: a\n  password: b\n\n\n  \n   oops: c\n", "", "spec", 8, 0, "line 8: mapping values are not allowed"},
		{"YAMLAfterMultiLineFlow", container, "image: x\ncommand: [\n  a,\n  b\n]\nports:\n  - \"80:80\"\n - x\n", "", "spec", 8, 0, "line 8: did not find expected key"},
		{"YAMLUnknownAnchor", container, "image: x\n\nnetwork: *nope\n", "", "spec", 3, 0, "unknown anchor 'nope' referenced"},
		{"YAMLVolumes", container, "image: x\n", "volumes:\n  home:\n    x: 1\n   y: 2\n", "volumes", 4, 0, "volumes line 4: did not find expected key"},
		// What the YAML says.
		{"Key", container, "image: x\nportz: []\n", "", "spec", 2, 1, `line 2: unknown key "portz"`},
		{"ListEntry", container, "image: x\nports:\n  - \"80:80\"\n  - \"1:2:3:4\"\n", "", "spec", 4, 5, `line 4: ports: "1:2:3:4"`},
		{"Value", container, "image: x\nmemory:   lots\n", "", "spec", 2, 11, `line 2: memory: "lots"`},
		// Valid YAML that is not what was meant: a "- " indented deeper
		// than the item above it is more of that item's text.
		{"FoldedItem", container, "image: x\nenvironment:\n  - EDITOR=vi\n     - BAD=1\n", "", "spec", 4, 6, `line 4: environment: this "- " is indented deeper than the list item on line 3, so it is read as more of that item ("EDITOR=vi - BAD=1")`},
		{"FoldedItemAfterBlank", container, "image: x\ncommand:\n  - sh\n  - -c\n\n      - echo\n", "", "spec", 6, 7, `line 6: command: this "- " is indented deeper than the list item on line 4, so it is read as more of that item ("-c\n- echo")`},
		{"VolumeName", container, "image: x\n", "volumes:\n  ok:\n  \"my home\":\n", "volumes", 3, 3, `volumes line 3: volumes: "my home" is not a volume name`},
		// ${{ }} templates.
		{"RenderUnknownField", container, "image: x\nhostname: ${{ .user.nickname }}\n", "", "spec", 2, 20, `line 2: .user.nickname is not defined`},
		{"RenderUnclosedAction", container, "image: x\nhostname: ${{ .space.name \n\n", "", "spec", 2, 0, `unclosed action started at line 2`},
		{"RenderNomad", nomad, "job \"x\" {\n  datacenters = [\"${{ .nomad.datacentre }}\"]\n}\n", "", "spec", 2, 29, `line 2: .nomad.datacentre is not defined`},
		// Nomad jobs in HCL and JSON.
		{"HCLMissingBrace", nomad, "job \"dev\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"docker\"\n    }\n  \n}\n", "", "spec", 1, 11, "line 1, column 11: Unclosed configuration block"},
		{"HCLTwoArguments", nomad, "job \"dev\" {\n  datacenters = [\"dc1\"] type = \"service\"\n}\n", "", "spec", 2, 25, "line 2, column 25: Missing newline after argument"},
		{"HCLBadExpression", nomad, "job \"dev\" {\n  type = \n  priority = 50\n}\n", "", "spec", 2, 10, "line 2, column 10: Invalid expression"},
		{"JSONMissingComma", nomad, "{\n  \"job\": {\n    \"dev\": {\n      \"type\": \"service\"\n      \"priority\": 50\n    }\n  }\n}\n", "", "spec", 5, 7, "line 5, column 7: invalid character '\"' after object key:value pair"},
		{"JSONUnclosed", nomad, "{\n  \"job\": {\n    \"dev\": {}\n", "", "spec", 4, 1, "line 4, column 1"},
		{"NomadVolumesYAML", nomad, "job \"x\" {}\n", "volumes:\n  - id: a\n    plugin_id: p\n   type: csi\n", "volumes", 4, 0, "volumes line 4: did not find expected '-' indicator"},
		{"NomadEmpty", nomad, "\n\n", "", "spec", 1, 0, "line 1: the job spec is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := runtime.ValidateTemplate(&shared.Template{Name: "dev", Kind: tt.kind, Spec: tt.spec, Volumes: tt.vols})
			var se *shared.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T); want a *shared.SpecError", err, err)
			}
			if se.Field != tt.field || se.Line != tt.line || se.Column != tt.column {
				t.Errorf("error at %s %d:%d; want %s %d:%d (%v)", se.Field, se.Line, se.Column, tt.field, tt.line, tt.column, err)
			}
			if shared.ErrorCode(err) != shared.EINVALID || !strings.Contains(shared.ErrorMessage(err), tt.msg) {
				t.Errorf("error %q (%s); want EINVALID containing %q", shared.ErrorMessage(err), shared.ErrorCode(err), tt.msg)
			}
		})
	}
}

func TestValidateTemplateAcceptsNomadJobs(t *testing.T) {
	for name, spec := range map[string]string{
		"HCL":  "job \"${{ .space.name }}\" {\n  datacenters = [\"${{ .nomad.dc }}\"]\n  group \"g\" {\n    task \"t\" {\n      driver = \"docker\"\n      config { image = \"x\" }\n    }\n  }\n}\n",
		"JSON": "  {\"job\": {\"${{ .space.name }}\": {\"datacenters\": [\"dc1\"]}}}\n",
	} {
		if err := runtime.ValidateTemplate(&shared.Template{Name: "job", Kind: shared.TemplateNomad, Spec: spec}); err != nil {
			t.Errorf("%s job refused: %v", name, err)
		}
	}
}

// Whatever the spec, an error is placed on one of its lines (YAML breaks
// lines at \r too).
func FuzzYAMLErrorLine(f *testing.F) {
	f.Add("image: x\nauth:\n  username: a\n password: b\n")
	f.Add("a: [\n")
	f.Fuzz(func(t *testing.T, spec string) {
		err := runtime.ValidateTemplate(&shared.Template{Name: "f", Kind: shared.TemplateContainer, Spec: spec})
		var se *shared.SpecError
		lines := strings.Count(spec, "\n") + strings.Count(spec, "\r") - strings.Count(spec, "\r\n") + 1
		if errors.As(err, &se) && (se.Line < 1 || se.Line > lines) {
			t.Fatalf("error at line %d of a %d-line spec: %v", se.Line, lines, err)
		}
	})
}
