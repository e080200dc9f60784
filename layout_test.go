package knot_test

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/knot-dev/knot"

type goPackage struct {
	ImportPath string
	Name       string
	Doc        string
	Imports    []string
	GoFiles    []string
}

func listPackages(t *testing.T) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(out)
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// top returns the top-level directory of a knot import path ("" for the root).
func top(path string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
	top, _, _ := strings.Cut(rel, "/")
	return top
}

// allowed lists, for each top-level directory, the knot top-level
// directories its non-test code may import (DESIGN.md: cmd → web → origin,
// leaf → runtime, storage → shared; agent → shared).
var allowed = map[string][]string{
	"":        {},
	"shared":  {"shared"},
	"storage": {"storage", "shared"},
	"runtime": {"runtime", "shared"},
	"origin":  {"origin", "storage", "runtime", "shared"},
	"leaf":    {"leaf", "storage", "runtime", "shared"},
	"agent":   {"agent", "shared"},
	"web":     {"web", "origin", "leaf", "runtime", "shared"},
	"cmd":     {"cmd", "web", "origin", "leaf", "storage", "runtime", "agent", "shared"},
}

func TestDependenciesPointDown(t *testing.T) {
	for _, p := range listPackages(t) {
		from := top(p.ImportPath)
		ok, known := allowed[from]
		if !known {
			t.Errorf("%s: top-level directory %q is not in DESIGN.md's layout", p.ImportPath, from)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to := top(imp)
			if !contains(ok, to) {
				t.Errorf("%s imports %s: %s may not depend on %s", p.ImportPath, imp, from, to)
			}
		}
	}
}

// Packages below web serve no HTTP handlers and render no HTML; only test
// helper packages may import testing.
func TestLayersStayInTheirLane(t *testing.T) {
	for _, p := range listPackages(t) {
		t0 := top(p.ImportPath)
		helper := strings.HasSuffix(p.ImportPath, "test") || strings.HasSuffix(p.ImportPath, "/testenv")
		for _, imp := range p.Imports {
			switch {
			case imp == "testing" && !helper:
				t.Errorf("%s imports testing outside a test helper package", p.ImportPath)
			case (imp == "html/template" || imp == "github.com/go-chi/chi/v5") && t0 != "web" && t0 != "cmd":
				t.Errorf("%s imports %s: only web serves HTTP and HTML", p.ImportPath, imp)
			}
		}
	}
}

// uiPackage is the web UI: pages that read the API and the services of
// shared, and nothing beneath them (DESIGN.md: "web/ HTTP only ...; the web
// UI").
const uiPackage = module + "/web/ui"

// Of knot's packages, the web UI imports only shared and itself: never storage, origin,
// leaf or runtime, nor the rest of web.
func TestUIImportsOnlyShared(t *testing.T) {
	found := false
	for _, p := range listPackages(t) {
		if p.ImportPath != uiPackage && !strings.HasPrefix(p.ImportPath, uiPackage+"/") {
			continue
		}
		found = true
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			if top(imp) != "shared" && imp != uiPackage && !strings.HasPrefix(imp, uiPackage+"/") {
				t.Errorf("%s imports %s: the UI reads shared's services, which web hands it, and nothing beneath them", p.ImportPath, imp)
			}
		}
	}
	if !found {
		t.Fatalf("no package %s", uiPackage)
	}
}

func TestEveryPackageIsDocumented(t *testing.T) {
	for _, p := range listPackages(t) {
		if len(p.GoFiles) == 0 {
			continue
		}
		want := "Package " + p.Name + " "
		if p.Name == "main" {
			want = "Command "
		}
		if !strings.HasPrefix(p.Doc, want) {
			t.Errorf("%s: package doc %q does not start with %q", p.ImportPath, p.Doc, want)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// apiIDKeys are the JSON keys the REST API names its records' ids by; a
// stored record names its own id "id".
var apiIDKeys = []string{"user_id", "space_id", "template_id", "templatevar_id", "group_id", "role_id",
	"token_id", "leaf_token_id", "audit_log_id"}

// The REST API's bodies are declared once, in shared/api: web encodes and
// decodes them, shared/client sends and reads them, and nothing else
// re-declares them. A struct elsewhere whose ID field is tagged with a key
// the API names ids by, or that has an "error" key, is such a
// re-declaration (a runtime driver reads the error bodies of Docker and
// Nomad, and shared/agentwire is the agent link's own protocol: neither is
// knot's REST API).
func TestAPIBodiesAreDeclaredOnce(t *testing.T) {
	for _, p := range listPackages(t) {
		dir := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if dir == "shared/api" {
			continue
		}
		for _, name := range p.GoFiles {
			file := path.Join(dir, name)
			f, err := parser.ParseFile(token.NewFileSet(), filepath.FromSlash(path.Join(".", file)), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				st, ok := n.(*ast.StructType)
				if !ok {
					return true
				}
				keys := map[string]bool{}
				for _, fld := range st.Fields.List {
					if fld.Tag == nil || len(fld.Names) == 0 {
						continue
					}
					tag, _ := strconv.Unquote(fld.Tag.Value)
					key, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
					keys[key] = true
					if fld.Names[0].Name == "ID" && contains(apiIDKeys, key) {
						t.Errorf("%s: a struct with the field ID `json:%q` re-declares an API body: use the type in shared/api", file, key)
					}
				}
				// Runtimes read Docker's and Nomad's errors; agentwire is the
				// agent link's protocol, not the REST API.
				if keys["error"] && top(p.ImportPath) != "runtime" && dir != "shared/agentwire" {
					t.Errorf("%s: a struct with the key \"error\" re-declares the API's error body: use shared/api or shared/client's errors", file)
				}
				return true
			})
		}
	}
}

// maxHandlerLines is how long a handler in web may be (DESIGN.md, "The
// application layer"): decode, one service call, encode.
const maxHandlerLines = 40

// longHandlers are the handlers of web that are longer than
// maxHandlerLines because their rules still live in them. The list may only
// shrink: a handler not on it may not grow past the limit, and one that has
// shrunk below it must leave the list.
var longHandlers = []string{}

// servedByServices are the files of web whose handlers call a service
// (shared.GroupService, …) and never the store. The list may only grow,
// but a name that is no file of web fails TestHandlersAreShort: the check
// would hold of nothing, so the name comes off the list. That these files
// do not import storage, TestDependenciesPointDown already guarantees for
// all of web (allowed["web"]); checkServedByServices says it again for
// them, and adds that they use no field or method named store.
var servedByServices = []string{"groups.go", "templates.go", "audit.go", "fleet.go",
	"users.go", "tokens.go", "spaces.go", "logs.go", "agentenv.go"}

// TestHandlersAreShort fails on a handler of web or of its UI (web/ui), a
// function named handle*, longer than maxHandlerLines, from its signature
// to its closing brace, unless it is on longHandlers, on a file of
// servedByServices that reads or writes the store, and on a name of
// servedByServices that is no file of web.
func TestHandlersAreShort(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("web", "*.go"))
	uiFiles, uiErr := filepath.Glob(filepath.Join("web", "ui", "*.go"))
	if err != nil || uiErr != nil || len(files) == 0 || len(uiFiles) == 0 {
		t.Fatalf("no web or web/ui sources: %v %v", err, uiErr)
	}
	for _, name := range servedByServices {
		if !contains(files, filepath.Join("web", name)) {
			t.Errorf("%s is on servedByServices but is not a file of web (it is gone or was renamed): take it off the list", name)
		}
	}
	files = append(files, uiFiles...)
	fset := token.NewFileSet()
	long := map[string]int{}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || !strings.HasPrefix(fd.Name.Name, "handle") {
				continue
			}
			if n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1; n > maxHandlerLines {
				long[fd.Name.Name] = n
				if !contains(longHandlers, fd.Name.Name) {
					t.Errorf("%s: %s is %d lines long, over %d: move its rules into a service (see package origin)", file, fd.Name.Name, n, maxHandlerLines)
				}
			}
		}
		if contains(servedByServices, filepath.Base(file)) {
			checkServedByServices(t, fset, file, f)
		}
	}
	for _, name := range longHandlers {
		if _, ok := long[name]; !ok {
			t.Errorf("%s is on longHandlers but is no longer over %d lines (or is gone): take it off the list", name, maxHandlerLines)
		}
	}
}

// checkServedByServices fails when f imports storage or uses a field or
// method named store.
func checkServedByServices(t *testing.T, fset *token.FileSet, file string, f *ast.File) {
	t.Helper()
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == module+"/storage" {
			t.Errorf("%s imports storage: its handlers call a service, never the store", file)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "store" {
			t.Errorf("%s uses the store: the handlers of %s call a service", fset.Position(sel.Pos()), file)
		}
		return true
	})
}

// maxWebLines bounds web's own Go code, its UI aside (DESIGN.md: web is
// HTTP only; the rules live in the services below it).
const maxWebLines = 2500

// TestWebIsThin fails when web's non-test Go files outside web/ui hold
// maxWebLines lines or more.
func TestWebIsThin(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("web", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no web sources: %v", err)
	}
	lines := 0
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines += bytes.Count(b, []byte("\n"))
	}
	if lines >= maxWebLines {
		t.Errorf("web's non-test Go files hold %d lines; they must stay under %d: move rules into the services, bodies into shared/api", lines, maxWebLines)
	}
}
