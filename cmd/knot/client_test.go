package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	knotmain "github.com/knot-dev/knot/cmd/knot"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/config"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

// testServer is a real knot web server on a loopback port, with the memory
// store.
type testServer struct {
	URL        string
	adminToken string
	store      storage.Store
}

const (
	adminEmail    = "admin@example.com"
	adminPassword = "admin-password"
)

// startServer starts a web server and creates its first user, an admin,
// with an API token.
func startServer(t *testing.T) *testServer {
	return serveWeb(t, knotmain.ServerParts{Store: memory.New(), Options: web.Options{
		Location: "test",
		Version:  "test",
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}})
}

// serveWeb runs a web server of o on 127.0.0.1 until the test ends, and
// creates its first user, an admin, with an API token.
func serveWeb(t *testing.T, o knotmain.ServerParts) *testServer {
	t.Helper()
	ts := runWeb(t, o)
	ts.mustCall(t, "POST", "/api/users", "", map[string]any{"username": "admin", "email": adminEmail, "password": adminPassword}, nil)
	ts.adminToken = ts.newToken(t, adminEmail, adminPassword)
	return ts
}

// runWeb runs a web server with o on 127.0.0.1 until the test ends.
func runWeb(t *testing.T, o knotmain.ServerParts) *testServer {
	t.Helper()
	srv, err := knotmain.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("web server: %v", err)
		}
	})
	return &testServer{URL: "http://" + ln.Addr().String(), store: o.Store}
}

// call sends a JSON request and decodes the answer into out; it returns the
// status.
func (ts *testServer) call(t *testing.T, method, path, token string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, ts.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

func (ts *testServer) mustCall(t *testing.T, method, path, token string, in, out any) {
	t.Helper()
	if status := ts.call(t, method, path, token, in, out); status >= 300 {
		t.Fatalf("%s %s: HTTP %d", method, path, status)
	}
}

// newToken logs in and creates an API token.
func (ts *testServer) newToken(t *testing.T, email, password string) string {
	t.Helper()
	var login struct{ Token string }
	ts.mustCall(t, "POST", "/api/auth", "", map[string]string{"email": email, "password": password}, &login)
	var tok struct{ Token string }
	ts.mustCall(t, "POST", "/api/tokens", login.Token, map[string]string{"name": "test"}, &tok)
	return tok.Token
}

// addUser creates a user with the built-in user role and returns an API
// token of theirs.
func (ts *testServer) addUser(t *testing.T, name string) string {
	t.Helper()
	email, password := name+"@example.com", name+"-password"
	ts.mustCall(t, "POST", "/api/users", ts.adminToken, map[string]any{"username": name, "email": email, "password": password}, nil)
	return ts.newToken(t, email, password)
}

type apiSpace struct {
	ID              string `json:"space_id"`
	Name            string `json:"name"`
	Description     string `json:"description"`
	Shell           string `json:"shell"`
	State           string `json:"state"`
	TemplateName    string `json:"template_name"`
	UpdateAvailable bool   `json:"update_available"`
}

func (ts *testServer) spaces(t *testing.T, token string) []apiSpace {
	t.Helper()
	var l struct{ Spaces []apiSpace }
	ts.mustCall(t, "GET", "/api/spaces", token, nil, &l)
	return l.Spaces
}

type apiTemplate struct {
	ID           string   `json:"template_id"`
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	Kind         string   `json:"kind"`
	Spec         string   `json:"spec"`
	Volumes      string   `json:"volumes"`
	Groups       []string `json:"groups"`
	Locations    []string `json:"locations"`
	ComputeUnits int      `json:"compute_units"`
	StorageUnits int      `json:"storage_units"`
	WithTerminal bool     `json:"with_terminal"`
	WithSSH      bool     `json:"with_ssh"`
}

func (ts *testServer) templates(t *testing.T) []apiTemplate {
	t.Helper()
	var l struct{ Templates []apiTemplate }
	ts.mustCall(t, "GET", "/api/templates", ts.adminToken, nil, &l)
	var out []apiTemplate
	for _, it := range l.Templates {
		var full apiTemplate
		ts.mustCall(t, "GET", "/api/templates/"+it.ID, ts.adminToken, nil, &full)
		out = append(out, full)
	}
	return out
}

// clientEnv returns the environment of a client command: a fresh, empty
// configuration directory and home, plus kv (name, value pairs).
func clientEnv(t testing.TB, kv ...string) map[string]string {
	t.Helper()
	env := map[string]string{"XDG_CONFIG_HOME": t.TempDir(), "HOME": t.TempDir()}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

// as returns the environment that points client commands at ts with token.
func (ts *testServer) as(t *testing.T, token string) map[string]string {
	return clientEnv(t, "KNOT_SERVER", ts.URL, "KNOT_TOKEN", token)
}

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustSucceed(t testing.TB, r result) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

func TestConnectSavesAWorkingToken(t *testing.T) {
	ts := startServer(t)
	host, _ := os.Hostname()
	tests := []struct {
		name  string
		args  []string
		stdin string
	}{
		{name: "EmailFlagPasswordOnStdin", args: []string{"connect", "--email", adminEmail, ts.URL + "/"}, stdin: adminPassword + "\n"},
		{name: "EmailAndPasswordOnStdin", args: []string{"connect", ts.URL}, stdin: adminEmail + "\n" + adminPassword},
		{name: "FlagAfterURL", args: []string{"connect", ts.URL, "-e", "ADMIN@example.com"}, stdin: adminPassword + "\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := clientEnv(t)
			file := filepath.Join(env["XDG_CONFIG_HOME"], "knot", "knot.yaml")
			// An existing file keeps its other keys and comments.
			writeFile(t, file, "# my settings\nlog:\n  level: debug # chatty\nclient:\n  server: https://old.example.com # old server\n")
			r := knot(t, env, tt.stdin, tt.args...)
			mustSucceed(t, r)
			if !strings.Contains(r.stdout, "Connected to "+ts.URL+" as admin") || !strings.Contains(r.stdout, file) {
				t.Errorf("stdout: %s", r.stdout)
			}
			st, err := os.Stat(file)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("config file mode %v, want 0600", st.Mode().Perm())
			}
			cfg, err := config.Load(config.Options{File: file, Env: func(string) (string, bool) { return "", false }})
			if err != nil {
				t.Fatalf("the written file does not load: %v", err)
			}
			if cfg.Client.Server != ts.URL || cfg.Client.Token == "" || cfg.Log.Level != "debug" {
				t.Errorf("loaded server %q, token %q, log level %q", cfg.Client.Server, cfg.Client.Token, cfg.Log.Level)
			}
			text, _ := os.ReadFile(file)
			for _, want := range []string{"# my settings", "# chatty"} {
				if !strings.Contains(string(text), want) {
					t.Errorf("comment %q lost:\n%s", want, text)
				}
			}
			// The token works, and carries the host's name.
			var toks []struct{ Name string }
			ts.mustCall(t, "GET", "/api/tokens", cfg.Client.Token, nil, &toks)
			found := false
			for _, tok := range toks {
				found = found || tok.Name == "knot client "+host
			}
			if !found {
				t.Errorf("no token named %q among %+v", "knot client "+host, toks)
			}
			// Other client commands find the file by themselves.
			r = knot(t, env, "", "space", "list")
			mustSucceed(t, r)
			if !strings.Contains(r.stdout, "no spaces") {
				t.Errorf("space list: %s", r.stdout)
			}
		})
	}
}

func TestConnectCreatesANewFileWhereConfigSays(t *testing.T) {
	ts := startServer(t)
	env := clientEnv(t)
	file := filepath.Join(t.TempDir(), "new", "dir", "client.yaml")
	r := knot(t, env, adminPassword+"\n", "connect", "--config", file, "--email", adminEmail, ts.URL)
	mustSucceed(t, r)
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(env["XDG_CONFIG_HOME"], "knot", "knot.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the user's configuration file was written too: %v", err)
	}
	// Only --config (or KNOT_CONFIG) leads to that file.
	mustSucceed(t, knot(t, env, "", "template", "list", "--config", file))
	env["KNOT_CONFIG"] = file
	mustSucceed(t, knot(t, env, "", "template", "list"))
}

func TestConnectFailures(t *testing.T) {
	ts := startServer(t)
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stderr string
	}{
		{name: "WrongPassword", args: []string{"connect", "--email", adminEmail, ts.URL}, stdin: "not-the-password\n", code: 1, stderr: "knot: invalid email or password (HTTP 401)"},
		{name: "NoPassword", args: []string{"connect", "--email", adminEmail, ts.URL}, stdin: "", code: 1, stderr: "no password"},
		{name: "NoEmail", args: []string{"connect", ts.URL}, stdin: "", code: 1, stderr: "no email"},
		{name: "ServerDown", args: []string{"connect", "--email", adminEmail, "http://127.0.0.1:1"}, stdin: adminPassword + "\n", code: 1, stderr: "nothing answers at http://127.0.0.1:1 (connection refused)"},
		{name: "NotAURL", args: []string{"connect", "knot.example.com"}, code: 2, stderr: `server URL "knot.example.com" must be an http:// or https:// URL`},
		{name: "URLWithPath", args: []string{"connect", "https://knot.example.com/api"}, code: 2, stderr: "without a path"},
		{name: "MissingURL", args: []string{"connect"}, code: 2, stderr: "missing URL"},
		{name: "TwoURLs", args: []string{"connect", ts.URL, ts.URL}, code: 2, stderr: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := clientEnv(t)
			r := knot(t, env, tt.stdin, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) {
				t.Fatalf("exit %d (want %d), stderr:\n%s", r.code, tt.code, r.stderr)
			}
			if _, err := os.Stat(filepath.Join(env["XDG_CONFIG_HOME"], "knot", "knot.yaml")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a configuration file was written: %v", err)
			}
		})
	}
}

func TestConnectRefusesToRewriteABrokenFile(t *testing.T) {
	ts := startServer(t)
	env := clientEnv(t)
	file := writeFile(t, filepath.Join(env["XDG_CONFIG_HOME"], "knot", "knot.yaml"), "client:\n  colour: blue\n")
	r := knot(t, env, adminPassword+"\n", "connect", "--email", adminEmail, ts.URL)
	if r.code != 1 || !strings.Contains(r.stderr, "knot.yaml:2: client.colour") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if text, _ := os.ReadFile(file); string(text) != "client:\n  colour: blue\n" {
		t.Errorf("the file changed:\n%s", text)
	}
}

// containerTemplate is a template file with every field set.
const containerTemplate = `name: web-dev
description: |-
  Web development
  with Node
kind: container
spec: |
  container_name: ${{ .space.name }}
  image: "node:22"
  environment:
    - "KNOT_SPACE=${{ .space.id }}"
volumes: |
  volumes:
    home: {}
groups:
  - developers
locations:
  - test
compute_units: 2
storage_units: 5
with_terminal: true
with_ssh: false
`

func parseTemplateFile(t *testing.T, text string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(text), &m); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, text)
	}
	return m
}

func TestTemplateImportExportRoundTrip(t *testing.T) {
	ts := startServer(t)
	var g struct {
		ID string `json:"group_id"`
	}
	ts.mustCall(t, "POST", "/api/groups", ts.adminToken, map[string]any{"name": "developers"}, &g)
	env := ts.as(t, ts.adminToken)
	dir := t.TempDir()
	file := writeFile(t, filepath.Join(dir, "web-dev.yaml"), containerTemplate)

	r := knot(t, env, "", "template", "import", file)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "Template web-dev created.") {
		t.Errorf("stdout: %s", r.stdout)
	}
	tpls := ts.templates(t)
	if len(tpls) != 1 {
		t.Fatalf("templates on the server: %+v", tpls)
	}
	got := tpls[0]
	want := apiTemplate{
		ID: got.ID, Name: "web-dev", Description: "Web development\nwith Node", Kind: "container",
		Spec:    "container_name: ${{ .space.name }}\nimage: \"node:22\"\nenvironment:\n  - \"KNOT_SPACE=${{ .space.id }}\"\n",
		Volumes: "volumes:\n  home: {}\n", Groups: []string{g.ID}, Locations: []string{"test"},
		ComputeUnits: 2, StorageUnits: 5, WithTerminal: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("server holds\n%+v\nwant\n%+v", got, want)
	}

	// Export gives back what was imported, group by name, keys in order.
	r = knot(t, env, "", "template", "export", "web-dev")
	mustSucceed(t, r)
	if !reflect.DeepEqual(parseTemplateFile(t, r.stdout), parseTemplateFile(t, containerTemplate)) {
		t.Errorf("export differs from the imported file:\n%s", r.stdout)
	}
	var keys []string
	for _, line := range strings.Split(r.stdout, "\n") {
		if m := regexp.MustCompile(`^([a-z_]+):`).FindStringSubmatch(line); m != nil {
			keys = append(keys, m[1])
		}
	}
	wantKeys := []string{"name", "description", "kind", "spec", "volumes", "groups", "locations", "compute_units", "storage_units", "with_terminal", "with_ssh"}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Errorf("exported keys %v, want %v", keys, wantKeys)
	}

	// -o writes the same to a file, and the name matches in any case.
	out := filepath.Join(dir, "exported.yaml")
	r2 := knot(t, env, "", "template", "export", "WEB-DEV", "-o", out)
	mustSucceed(t, r2)
	if text, err := os.ReadFile(out); err != nil || string(text) != r.stdout {
		t.Errorf("exported file differs from standard output (%v):\n%s", err, text)
	}

	// Importing the edited export updates the template in place.
	edited := strings.Replace(r.stdout, "compute_units: 2", "compute_units: 3", 1)
	edited = strings.Replace(edited, "with_ssh: false", "with_ssh: true", 1)
	writeFile(t, out, edited)
	r = knot(t, env, "", "template", "import", out)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "Template web-dev updated.") {
		t.Errorf("stdout: %s", r.stdout)
	}
	tpls = ts.templates(t)
	want.ComputeUnits, want.WithSSH = 3, true
	if len(tpls) != 1 || !reflect.DeepEqual(tpls[0], want) {
		t.Errorf("after update the server holds %+v", tpls)
	}

	// Standard input works as a file, and list shows the templates.
	r = knot(t, env, "name: notes\nkind: manual\n", "template", "import", "-")
	mustSucceed(t, r)
	r = knot(t, env, "", "template", "list")
	mustSucceed(t, r)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^NAME\s+KIND\s+SPACES\s+DESCRIPTION$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^notes\s+manual\s+0\s*$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^web-dev\s+container\s+0\s+Web development with Node$`).MatchString(lines[2]) {
		t.Errorf("template list:\n%s", r.stdout)
	}
}

func TestTemplateImportErrors(t *testing.T) {
	ts := startServer(t)
	bob := ts.addUser(t, "bob")
	dir := t.TempDir()
	tests := []struct {
		name   string
		file   string // contents; "" for a missing file
		token  string // "" for the admin's
		code   int
		stderr string
	}{
		{name: "UnknownFieldNamesIt", file: "name: a1\nkind: manual\ncolour: blue\n", code: 1, stderr: "line 3: field colour not found in a template"},
		{name: "WrongTypeNamesTheLine", file: "name: a1\nkind: manual\ncompute_units: many\n", code: 1, stderr: "line 3: cannot unmarshal !!str `many` into int"},
		{name: "NotYAML", file: "name: [a1\n", code: 1, stderr: "is not a template file"},
		{name: "MissingName", file: "kind: manual\n", code: 1, stderr: "name is required"},
		{name: "MissingKind", file: "name: a1\n", code: 1, stderr: "kind is required"},
		{name: "EmptyFile", file: "\n", code: 1, stderr: "is empty"},
		{name: "TwoDocuments", file: "name: a1\nkind: manual\n---\nname: a2\n", code: 1, stderr: "more than one YAML document"},
		{name: "MissingFile", code: 1, stderr: "cannot read the template"},
		{name: "UnknownGroup", file: "name: a1\nkind: manual\ngroups: [nobody]\n", code: 1, stderr: `groups: there is no group named "nobody"`},
		{name: "ServerRefusesKind", file: "name: a1\nkind: vm\n", code: 1, stderr: `knot: kind "vm" is not one of container, nomad, manual (HTTP 400)`},
		{name: "ServerRefusesName", file: "name: 1-bad\nkind: manual\n", code: 1, stderr: "(HTTP 400)"},
		{name: "ServerRefusesSpecOfContainer", file: "name: a1\nkind: container\n", code: 1, stderr: "knot: spec is required for container templates (HTTP 400)"},
		{name: "UserWithoutPermission", file: "name: a1\nkind: manual\n", token: bob, code: 1, stderr: "permission (HTTP 403)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, tt.name+".yaml")
			if tt.file != "" {
				writeFile(t, file, tt.file)
			}
			token := tt.token
			if token == "" {
				token = ts.adminToken
			}
			r := knot(t, ts.as(t, token), "", "template", "import", file)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("exit %d (want %d), stderr:\n%s", r.code, tt.code, r.stderr)
			}
		})
	}
	if tpls := ts.templates(t); len(tpls) != 0 {
		t.Errorf("templates were created: %+v", tpls)
	}
}

func TestSpaceLifecycle(t *testing.T) {
	ts := startServer(t)
	admin := ts.as(t, ts.adminToken)
	mustSucceed(t, knot(t, admin, "name: byo\nkind: manual\ndescription: bring your own\n", "template", "import", "-"))
	bobToken := ts.addUser(t, "bob")
	bob := ts.as(t, bobToken)

	// Flags may follow the arguments.
	r := knot(t, bob, "", "space", "create", "dev", "BYO", "--description", "my dev box", "--shell", "zsh")
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "Space dev created from template byo.") {
		t.Errorf("stdout: %s", r.stdout)
	}
	sps := ts.spaces(t, bobToken)
	if len(sps) != 1 || sps[0].Name != "dev" || sps[0].Description != "my dev box" || sps[0].Shell != "zsh" || sps[0].State != "stopped" {
		t.Fatalf("spaces: %+v", sps)
	}
	// A manual space's agent needs its token, which is shown once.
	if !regexp.MustCompile(`KNOT_SPACE_ID=` + sps[0].ID + `\):\n[A-Za-z0-9_-]{20,}\n`).MatchString(r.stdout) {
		t.Errorf("agent token not shown:\n%s", r.stdout)
	}
	// and how to get the rest of what its agent needs.
	if !strings.Contains(r.stdout, "env $(knot space agent-env dev) knot agent runs it.\n") {
		t.Errorf("knot space create does not say how to run the agent:\n%s", r.stdout)
	}
	mustSucceed(t, knot(t, bob, "", "space", "create", "--shell", "sh", "api", "byo"))

	listRow := func(env map[string]string, name string) string {
		t.Helper()
		r := knot(t, env, "", "space", "list")
		mustSucceed(t, r)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if !regexp.MustCompile(`^NAME\s+STATE\s+LOCATION\s+TEMPLATE\s+UPDATE AVAILABLE$`).MatchString(lines[0]) {
			t.Errorf("header: %q", lines[0])
		}
		for _, l := range lines[1:] {
			if strings.Fields(l)[0] == name {
				return strings.Join(strings.Fields(l), " ")
			}
		}
		return ""
	}
	if row := listRow(bob, "dev"); row != "dev stopped test byo no" {
		t.Errorf("row %q", row)
	}
	if row := listRow(bob, "api"); row != "api stopped test byo no" {
		t.Errorf("row %q", row)
	}
	// The server searches and filters the list.
	if r := knot(t, bob, "", "space", "list", "--search", "DE", "--state", "stopped"); !strings.Contains(r.stdout, "dev") || strings.Contains(r.stdout, "api") {
		t.Errorf("space list --search DE --state stopped:\n%s%s", r.stdout, r.stderr)
	}
	if r := knot(t, bob, "", "space", "list", "--state", "running"); strings.TrimSpace(r.stdout) != "No space of yours matches." {
		t.Errorf("space list --state running:\n%s%s", r.stdout, r.stderr)
	}
	if r := knot(t, bob, "", "space", "list", "--state", "asleep"); r.code == 0 || !strings.Contains(r.stderr, "state must be one of") {
		t.Errorf("space list --state asleep: code %d\n%s", r.code, r.stderr)
	}

	r = knot(t, bob, "", "space", "start", "dev")
	mustSucceed(t, r)
	if strings.TrimSpace(r.stdout) != "Space dev: running." {
		t.Errorf("start: %s", r.stdout)
	}
	if row := listRow(bob, "dev"); row != "dev running test byo no" {
		t.Errorf("row %q", row)
	}
	// Another user's spaces are not found by name.
	r = knot(t, admin, "", "space", "stop", "dev")
	if r.code != 1 || !strings.Contains(r.stderr, `knot: you have no space named "dev"`) {
		t.Errorf("admin stop of bob's space: exit %d, %s", r.code, r.stderr)
	}
	r = knot(t, bob, "", "space", "stop", "DEV")
	mustSucceed(t, r)
	if strings.TrimSpace(r.stdout) != "Space dev: stopped." {
		t.Errorf("stop: %s", r.stdout)
	}

	// Changing what the template runs offers an update (with_ssh, which the
	// server decides at each open, does not).
	mustSucceed(t, knot(t, admin, "name: byo\nkind: manual\nwith_ssh: false\n", "template", "import", "-"))
	if row := listRow(bob, "dev"); row != "dev stopped test byo no" {
		t.Errorf("row %q after with_ssh changed", row)
	}
	mustSucceed(t, knot(t, admin, "name: byo\nkind: manual\nspec: \"# v2\"\n", "template", "import", "-"))
	if row := listRow(bob, "dev"); row != "dev stopped test byo yes" {
		t.Errorf("row %q", row)
	}

	// A name clash is the server's error, shown as it comes.
	r = knot(t, bob, "", "space", "create", "dev", "byo")
	if r.code != 1 || !strings.Contains(r.stderr, `knot: user "bob" already has a space named "dev" at location "test" (HTTP 409)`) {
		t.Errorf("duplicate create: exit %d, %s", r.code, r.stderr)
	}
	r = knot(t, bob, "", "space", "create", "other", "nope")
	if r.code != 1 || !strings.Contains(r.stderr, `no template named "nope"`) {
		t.Errorf("unknown template: exit %d, %s", r.code, r.stderr)
	}

	r = knot(t, bob, "", "space", "delete", "dev")
	mustSucceed(t, r)
	if strings.TrimSpace(r.stdout) != "Space dev deleted." {
		t.Errorf("delete: %s", r.stdout)
	}
	if sps := ts.spaces(t, bobToken); len(sps) != 1 || sps[0].Name != "api" {
		t.Errorf("spaces after delete: %+v", sps)
	}
	r = knot(t, bob, "", "space", "start", "dev")
	if r.code != 1 || !strings.Contains(r.stderr, `you have no space named "dev"`) {
		t.Errorf("start of deleted space: exit %d, %s", r.code, r.stderr)
	}
	mustSucceed(t, knot(t, bob, "", "space", "rm", "api"))
	r = knot(t, bob, "", "space", "list")
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "You have no spaces") {
		t.Errorf("list: %s", r.stdout)
	}
}

// TestSpaceNamedAtSeveralLocations: names are unique per location, so a
// name held at two locations must be given as NAME@LOCATION.
func TestSpaceNamedAtSeveralLocations(t *testing.T) {
	ts := startServer(t)
	admin := ts.as(t, ts.adminToken)
	mustSucceed(t, knot(t, admin, "name: byo\nkind: manual\n", "template", "import", "-"))
	bob := ts.as(t, ts.addUser(t, "bob"))
	mustSucceed(t, knot(t, bob, "", "space", "create", "dev", "byo"))
	// The same name at another location, as a leaf's report brings it.
	sps, err := storage.List[shared.Space](context.Background(), ts.store)
	if err != nil || len(sps) != 1 {
		t.Fatalf("spaces in the store: %v, %v", sps, err)
	}
	far := *sps[0]
	far.ID, far.Revision, far.Location = "far-dev", 0, "far"
	if err := ts.store.Put(context.Background(), &far); err != nil {
		t.Fatalf("a space of the same name at another location: %v", err)
	}

	r := knot(t, bob, "", "space", "start", "dev")
	if r.code != 1 || !strings.Contains(r.stderr, `you have a space named "dev" at each of `) || !strings.Contains(r.stderr, "name one as dev@LOCATION") {
		t.Errorf("start of an ambiguous name: exit %d, %s", r.code, r.stderr)
	}
	r = knot(t, bob, "", "space", "start", "dev@test")
	mustSucceed(t, r)
	if strings.TrimSpace(r.stdout) != "Space dev: running." {
		t.Errorf("start dev@test: %s", r.stdout)
	}
	r = knot(t, bob, "", "space", "stop", "dev@nowhere")
	if r.code != 1 || !strings.Contains(r.stderr, `you have no space named "dev" at location "nowhere"`) {
		t.Errorf("stop dev@nowhere: exit %d, %s", r.code, r.stderr)
	}
}

func TestSpaceOfContainerTemplateWithoutRuntime(t *testing.T) {
	ts := startServer(t)
	env := ts.as(t, ts.adminToken)
	mustSucceed(t, knot(t, env, "name: box\nkind: container\nspec: 'image: alpine'\n", "template", "import", "-"))
	mustSucceed(t, knot(t, env, "", "space", "create", "dev", "box"))
	// The server has no container runtime: its 503 is shown as it comes.
	r := knot(t, env, "", "space", "start", "dev")
	if r.code != 1 || !strings.Contains(r.stderr, "knot: no runtime is configured for container templates on this server (HTTP 503)") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestClientCommandErrors(t *testing.T) {
	ts := startServer(t)
	good := ts.adminToken
	tests := []struct {
		name   string
		env    []string // name, value pairs
		args   []string
		code   int
		stderr []string
	}{
		{name: "NoServerNamesEveryWay", args: []string{"space", "list"}, code: 1,
			stderr: []string{"knot: no knot server is configured", "--server", "KNOT_SERVER", "knot connect"}},
		{name: "NoTokenNamesEveryWay", env: []string{"KNOT_SERVER", ts.URL}, args: []string{"template", "list"}, code: 1,
			stderr: []string{"knot: no API token is configured for " + ts.URL, "--token", "KNOT_TOKEN", "knot connect " + ts.URL}},
		{name: "BadTokenIsRefused", env: []string{"KNOT_SERVER", ts.URL, "KNOT_TOKEN", "not-a-token"}, args: []string{"space", "list"}, code: 1,
			stderr: []string{"knot: authentication token is not valid (HTTP 401)", "knot connect " + ts.URL}},
		{name: "ServerDown", env: []string{"KNOT_SERVER", "http://127.0.0.1:1", "KNOT_TOKEN", good}, args: []string{"space", "list"}, code: 1,
			stderr: []string{"knot: nothing answers at http://127.0.0.1:1 (connection refused): the server is not running there"}},
		{name: "StartUnknownSpace", env: []string{"KNOT_SERVER", ts.URL, "KNOT_TOKEN", good}, args: []string{"space", "start", "x"}, code: 1,
			stderr: []string{`you have no space named "x"`}},
		{name: "BadServerFlagIsUsage", args: []string{"space", "list", "--server", "knot.example.com", "--token", good}, code: 2,
			stderr: []string{"flag --server: client.server", "http:// or https://"}},
		{name: "BadServerEnvIsFailure", env: []string{"KNOT_SERVER", "ftp://x", "KNOT_TOKEN", good}, args: []string{"space", "list"}, code: 1,
			stderr: []string{"env KNOT_SERVER: client.server"}},
		{name: "CreateMissingTemplateIsUsage", args: []string{"space", "create", "dev"}, code: 2, stderr: []string{"knot space create: missing TEMPLATE"}},
		{name: "CreateBadShellIsUsage", args: []string{"space", "create", "dev", "byo", "--shell", "tcsh"}, code: 2, stderr: []string{`--shell "tcsh" is not one of`}},
		{name: "StartMissingNameIsUsage", args: []string{"space", "start"}, code: 2, stderr: []string{"missing NAME"}},
		{name: "DeleteExtraArgumentIsUsage", args: []string{"space", "delete", "a", "b"}, code: 2, stderr: []string{`unexpected argument "b"`}},
		{name: "ListArgumentIsUsage", args: []string{"template", "list", "x"}, code: 2, stderr: []string{`unexpected argument "x"`}},
		{name: "ImportMissingFileIsUsage", args: []string{"template", "import"}, code: 2, stderr: []string{"missing FILE"}},
		{name: "UnknownSpaceCommandIsUsage", args: []string{"space", "launch"}, code: 2, stderr: []string{`knot space: unknown command "launch"`}},
		{name: "DashDashEndsFlags", args: []string{"space", "delete", "--", "-x"}, code: 1, stderr: []string{"no knot server is configured"}},
		{name: "UnknownFlagIsUsage", args: []string{"space", "list", "--colour"}, code: 2, stderr: []string{"flag provided but not defined: -colour"}},
		{name: "ExportUnknownTemplate", env: []string{"KNOT_SERVER", ts.URL, "KNOT_TOKEN", good}, args: []string{"template", "export", "nope"}, code: 1,
			stderr: []string{`knot: there is no template named "nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := knot(t, clientEnv(t, tt.env...), "", tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			if tt.code == 2 && !strings.Contains(r.stderr, "--help' for usage") {
				t.Errorf("usage error without a help hint:\n%s", r.stderr)
			}
		})
	}
}

func TestClientConfigPrecedence(t *testing.T) {
	ts := startServer(t)
	good := ts.adminToken
	const down = "http://127.0.0.1:1"
	tests := []struct {
		name            string
		file, env, flag [2]string // server and token from each source; "" unset
		ok              bool
		stderr          string
	}{
		{name: "FileAlone", file: [2]string{ts.URL, good}, ok: true},
		{name: "EnvOverridesFileServer", file: [2]string{down, good}, env: [2]string{ts.URL, ""}, ok: true},
		{name: "EnvOverridesFileToken", file: [2]string{ts.URL, "stale"}, env: [2]string{"", good}, ok: true},
		{name: "EnvServerWinsOverFile", file: [2]string{ts.URL, good}, env: [2]string{down, ""}, stderr: "nothing answers at " + down},
		{name: "FlagOverridesEnvServer", env: [2]string{down, good}, flag: [2]string{ts.URL, ""}, ok: true},
		{name: "FlagOverridesEnvToken", env: [2]string{ts.URL, "stale"}, flag: [2]string{"", good}, ok: true},
		{name: "FlagTokenWinsOverEnv", env: [2]string{ts.URL, good}, flag: [2]string{"", "stale"}, stderr: "(HTTP 401)"},
		{name: "FlagOverridesFile", file: [2]string{down, "stale"}, flag: [2]string{ts.URL, good}, ok: true},
		{name: "MixedSources", file: [2]string{"", good}, flag: [2]string{ts.URL, ""}, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := clientEnv(t)
			var text strings.Builder
			text.WriteString("client:\n")
			if tt.file[0] != "" {
				text.WriteString("  server: " + tt.file[0] + "\n")
			}
			if tt.file[1] != "" {
				text.WriteString("  token: " + tt.file[1] + "\n")
			}
			writeFile(t, filepath.Join(env["XDG_CONFIG_HOME"], "knot", "knot.yaml"), text.String())
			if tt.env[0] != "" {
				env["KNOT_SERVER"] = tt.env[0]
			}
			if tt.env[1] != "" {
				env["KNOT_TOKEN"] = tt.env[1]
			}
			args := []string{"template", "list"}
			if tt.flag[0] != "" {
				args = append(args, "--server", tt.flag[0])
			}
			if tt.flag[1] != "" {
				args = append(args, "--token", tt.flag[1])
			}
			r := knot(t, env, "", args...)
			if tt.ok {
				mustSucceed(t, r)
				return
			}
			if r.code != 1 || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
			}
		})
	}
}

func TestClientReadsKnotConfigOverTheUserFile(t *testing.T) {
	ts := startServer(t)
	env := clientEnv(t)
	writeFile(t, filepath.Join(env["XDG_CONFIG_HOME"], "knot", "knot.yaml"), "client:\n  server: http://127.0.0.1:1\n  token: stale\n")
	env["KNOT_CONFIG"] = writeFile(t, filepath.Join(t.TempDir(), "other.yaml"), "client:\n  server: "+ts.URL+"\n  token: "+ts.adminToken+"\n")
	mustSucceed(t, knot(t, env, "", "space", "list"))
	// A broken client file is reported with its line.
	env["KNOT_CONFIG"] = writeFile(t, filepath.Join(t.TempDir(), "bad.yaml"), "client:\n  server: nowhere\n")
	r := knot(t, env, "", "space", "list")
	if r.code != 1 || !strings.Contains(r.stderr, "bad.yaml:2: client.server") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestSpaceLogsOfAnUnknownSpace(t *testing.T) {
	ts := startServer(t)
	r := knot(t, ts.as(t, ts.adminToken), "", "space", "logs", "nope", "-f")
	if r.code != 1 || !strings.Contains(r.stderr, `you have no space named "nope"`) {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}
