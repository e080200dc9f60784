package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared/testenv"
)

// serverProc is a knot server process started by a test.
type serverProc struct {
	t    testing.TB
	cmd  *exec.Cmd
	base string
	log  *testenv.Buffer // what the process wrote to stderr
	done chan error
	// client sends fetch's requests; nil means http.DefaultClient.
	client *http.Client
}

var listenRe = regexp.MustCompile(`listen=(https?://127\.0\.0\.1:\d+)`)

// runKnotServer runs `knot server args...` in dir and waits until it serves.
func runKnotServer(t testing.TB, dir string, args ...string) *serverProc {
	t.Helper()
	return runKnotServerEnv(t, dir, nil, args...)
}

// runKnotServerEnv is runKnotServer with the KNOT_* variables of env.
func runKnotServerEnv(t testing.TB, dir string, env map[string]string, args ...string) *serverProc {
	t.Helper()
	return runKnotServerOf(t, knotBin, dir, env, args...)
}

// runKnotServerOf is runKnotServerEnv with the knot binary bin, such as the
// static one a container runs as its agent.
func runKnotServerOf(t testing.TB, bin, dir string, env map[string]string, args ...string) *serverProc {
	t.Helper()
	if !slices.Contains(args, "--listen-agent") {
		// Servers of parallel tests must not share the agent port.
		args = append(args, "--listen-agent", "127.0.0.1:0")
	}
	cmd := exec.Command(bin, append([]string{"server"}, args...)...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KNOT_") && !strings.HasPrefix(kv, "DOCKER_HOST=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &serverProc{t: t, cmd: cmd, log: new(testenv.Buffer), done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(s.log, line)
			if m := listenRe.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	select {
	case s.base = <-addr:
	case err := <-s.done:
		t.Fatalf("server exited before serving: %v\n%s", err, s.log)
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start in 30 s:\n%s", s.log)
	}
	return s
}

// stop sends SIGTERM and requires a clean exit.
func (s *serverProc) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatalf("server exited with %v after SIGTERM:\n%s", err, s.log)
		}
	case <-time.After(30 * time.Second):
		s.t.Fatalf("server did not stop within 30 s of SIGTERM:\n%s", s.log)
	}
}

// fetch sends a JSON request and returns the status and the body.
func (s *serverProc) fetch(method, path, token string, body any) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	cl := s.client
	if cl == nil {
		cl = http.DefaultClient
	}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// call sends a JSON request, requires status want, and decodes the JSON
// answer into out.
func (s *serverProc) call(method, path, token string, body any, want int, out any) {
	s.t.Helper()
	status, data := s.fetch(method, path, token, body)
	if status != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
}

func (s *serverProc) login() string {
	var auth struct{ Token string }
	s.call("POST", "/api/auth", "", map[string]string{"email": "admin@example.com", "password": "a-long-password"}, 200, &auth)
	if auth.Token == "" {
		s.t.Fatal("login returned no token")
	}
	return auth.Token
}

// The README's first steps: start on BadgerDB, create the admin, log in,
// create a template and a manual space, stop with SIGTERM, start again and
// find everything there (the started space still waiting for its agent).
func TestServerKeepsEverythingAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	s := runKnotServer(t, dir, "--listen", "127.0.0.1:0")
	s.call("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"}, 201, nil)
	token := s.login()
	var tmpl struct {
		TemplateID string `json:"template_id"`
	}
	s.call("POST", "/api/templates", token, map[string]any{"name": "byo", "kind": "manual", "description": "bring your own"}, 201, &tmpl)
	var space struct {
		SpaceID string `json:"space_id"`
	}
	s.call("POST", "/api/spaces", token, map[string]any{"name": "dev", "template_id": tmpl.TemplateID}, 201, &space)
	s.call("POST", "/api/spaces/"+space.SpaceID+"/start", token, nil, 200, nil)
	s.stop()

	if _, err := os.Stat(filepath.Join(dir, "data", "badger")); err != nil {
		t.Fatalf("the default BadgerDB directory was not used: %v", err)
	}
	s = runKnotServer(t, dir, "--listen", "127.0.0.1:0")
	token = s.login()
	var list struct {
		Spaces []struct {
			SpaceID      string `json:"space_id"`
			Name         string `json:"name"`
			State        string `json:"state"`
			TemplateName string `json:"template_name"`
		} `json:"spaces"`
	}
	s.call("GET", "/api/spaces", token, nil, 200, &list)
	if len(list.Spaces) != 1 || list.Spaces[0].SpaceID != space.SpaceID || list.Spaces[0].Name != "dev" ||
		list.Spaces[0].State != "starting" || list.Spaces[0].TemplateName != "byo" {
		t.Fatalf("after restart the spaces are %+v", list.Spaces)
	}
	// First-user setup is over: creating a user now needs authentication.
	s.call("POST", "/api/users", "", map[string]string{"username": "eve", "email": "eve@example.com", "password": "a-long-password"}, 401, nil)
	s.stop()
}

// `knot scaffold --server > knot.yaml && knot server --config knot.yaml`
// starts once BadgerDB is enabled in the file.
func TestScaffoldedConfigStartsAServer(t *testing.T) {
	dir := t.TempDir()
	r := knotIn(t, dir, nil, "", "scaffold", "--server")
	if r.code != 0 {
		t.Fatalf("scaffold: exit %d: %s", r.code, r.stderr)
	}
	yaml := r.stdout
	enabled := regexp.MustCompile(`(?m)(badgerdb:\n(?:\s+#.*\n)*\s+enabled:) false`)
	if !enabled.MatchString(yaml) {
		t.Fatalf("scaffold has no badgerdb.enabled: false to switch on:\n%s", yaml)
	}
	yaml = enabled.ReplaceAllString(yaml, "$1 true")
	if err := os.WriteFile(filepath.Join(dir, "knot.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := runKnotServer(t, dir, "--config", "knot.yaml", "--listen", "127.0.0.1:0")
	s.call("GET", "/health", "", nil, 200, nil)
	s.call("GET", "/ready", "", nil, 200, nil)
	s.stop()
	if !strings.Contains(s.log.String(), fmt.Sprintf("store=%s", "badger")) {
		t.Errorf("server did not report the badger store:\n%s", s.log)
	}
}

// A container template with a bad spec is refused when it is saved, with a
// message that names the line, and nothing is stored.
func TestServerRefusesBadContainerSpecsWithTheirLine(t *testing.T) {
	s := runKnotServer(t, t.TempDir(), "--listen", "127.0.0.1:0")
	defer s.stop()
	s.call("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"}, 201, nil)
	token := s.login()
	for _, tt := range []struct {
		name, spec, want string
	}{
		{"UnknownKey", "image: busybox\ncolour: red\n", "line 2"},
		{"BadPort", "image: busybox\nports:\n  - \"127.0.0.1:99999:80\"\n", "line 3"},
		{"NoImage", "command: [sh]\n", "image"},
		{"TemplateError", "image: busybox\nhostname: ${{ .space.name \n", "line 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var e struct{ Error string }
			s.call("POST", "/api/templates", token, map[string]any{"name": "bad-" + strings.ToLower(tt.name), "kind": "container", "spec": tt.spec}, 400, &e)
			if !strings.Contains(e.Error, tt.want) {
				t.Errorf("error %q does not mention %q", e.Error, tt.want)
			}
		})
	}
	var list struct{ Count int }
	s.call("GET", "/api/templates", token, nil, 200, &list)
	if list.Count != 0 {
		t.Errorf("%d templates stored after refused saves", list.Count)
	}
}
