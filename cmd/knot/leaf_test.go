package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared/testenv"
)

const fleetSharedToken = "shared-token-of-the-process-test-fleet"

// kill ends the server with SIGKILL: no goodbye to anyone.
func (s *serverProc) kill() {
	s.t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		s.t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.t.Fatal("the server did not die of SIGKILL")
	}
}

// waitUntil polls cond until it returns "" or within passes, then fails
// with its last answer.
func waitUntil(t testing.TB, within time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, msg)
		}
		<-tick.C
	}
}

// loopbackPort returns a port that is free on 127.0.0.1 now.
func loopbackPort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// tryLogin logs in as the admin and returns the session token, "" when the
// server refuses.
func tryLogin(s *serverProc) string {
	code, body := s.fetch("POST", "/api/auth", "", map[string]string{"email": "admin@example.com", "password": "a-long-password"})
	var out struct{ Token string }
	if code != http.StatusOK || json.Unmarshal(body, &out) != nil {
		return ""
	}
	return out.Token
}

type listedSpace struct {
	ID       string `json:"space_id"`
	Name     string `json:"name"`
	State    string `json:"state"`
	Location string `json:"location"`
}

func spacesAt(s *serverProc, token, query string) []listedSpace {
	code, body := s.fetch("GET", "/api/spaces"+query, token, nil)
	var out struct{ Spaces []listedSpace }
	if code != http.StatusOK || json.Unmarshal(body, &out) != nil {
		return nil
	}
	return out.Spaces
}

// An origin and a leaf as real processes on loopback: the leaf replicates,
// keeps serving and running its spaces with the origin killed, also after a
// cold restart, refuses writes to origin-owned data with a 503 that names
// the origin, and catches up when the origin is back; its spaces then show
// at the origin, which can stop them.
func TestOriginAndLeafProcesses(t *testing.T) {
	originDir, leafDir := t.TempDir(), t.TempDir()
	originArgs := []string{"--listen", "127.0.0.1:" + loopbackPort(t), "--location", "hq", "--shared-token", fleetSharedToken}
	o := runKnotServer(t, originDir, originArgs...)
	leafArgs := []string{"--listen", "127.0.0.1:0", "--location", "branch", "--shared-token", fleetSharedToken, "--origin-server", o.base}
	l := runKnotServer(t, leafDir, leafArgs...)
	if !strings.Contains(o.log.String(), "role=origin") || !strings.Contains(l.log.String(), "role=leaf") {
		t.Fatalf("roles not announced:\n%s\n%s", o.log, l.log)
	}

	o.call("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"}, 201, nil)
	originSession := o.login()
	var tmpl struct {
		ID string `json:"template_id"`
	}
	o.call("POST", "/api/templates", originSession, map[string]any{"name": "byo", "kind": "manual"}, 201, &tmpl)
	var tok struct{ Token string }
	o.call("POST", "/api/tokens", originSession, map[string]any{"name": "cli"}, 201, &tok)

	// What the origin made reaches the leaf: the admin logs in there and
	// sees the template.
	var leafSession string
	waitUntil(t, 30*time.Second, func() string {
		if leafSession = tryLogin(l); leafSession == "" {
			return "the admin cannot log in at the leaf yet"
		}
		if code, body := l.fetch("GET", "/api/templates", leafSession, nil); code != 200 || !strings.Contains(string(body), tmpl.ID) {
			return "the leaf has no template: " + string(body)
		}
		return ""
	})

	o.kill()
	templateWriteFails := func(l *serverProc) {
		t.Helper()
		code, body := l.fetch("POST", "/api/templates", tok.Token, map[string]any{"name": "while-down", "kind": "manual"})
		if code != http.StatusServiceUnavailable || !strings.Contains(string(body), o.base) {
			t.Fatalf("template write at the leaf with the origin down = %d %s, want 503 naming %s", code, body, o.base)
		}
	}
	waitUntil(t, 30*time.Second, func() string {
		if code, body := l.fetch("POST", "/api/templates", tok.Token, map[string]any{"name": "while-down", "kind": "manual"}); code != http.StatusServiceUnavailable {
			return "the leaf has not noticed yet: " + string(body)
		}
		return ""
	})
	templateWriteFails(l)

	leafSession = l.login()
	var tmp struct {
		ID string `json:"space_id"`
	}
	l.call("POST", "/api/spaces", leafSession, map[string]any{"name": "tmp", "template_id": tmpl.ID}, 201, &tmp)
	l.call("POST", "/api/spaces/"+tmp.ID+"/start", leafSession, nil, 200, nil)
	l.call("POST", "/api/spaces/"+tmp.ID+"/stop", leafSession, nil, 200, nil)
	l.call("DELETE", "/api/spaces/"+tmp.ID, leafSession, nil, 200, nil)
	var kept struct {
		ID string `json:"space_id"`
	}
	l.call("POST", "/api/spaces", leafSession, map[string]any{"name": "kept", "template_id": tmpl.ID}, 201, &kept)
	l.call("POST", "/api/spaces/"+kept.ID+"/start", leafSession, nil, 200, nil)

	// A cold restart of the leaf with the origin still down.
	l.stop()
	l = runKnotServer(t, leafDir, leafArgs...)
	leafSession = l.login()
	if sps := spacesAt(l, leafSession, ""); len(sps) != 1 || sps[0].ID != kept.ID || sps[0].State != "starting" {
		t.Fatalf("after the restart the leaf has %+v", sps)
	}
	var status struct {
		OriginReachable bool   `json:"origin_reachable"`
		Reason          string `json:"reason"`
	}
	l.call("GET", "/api/leaf/status", leafSession, nil, 200, &status)
	if status.OriginReachable {
		t.Fatalf("the leaf says the dead origin is reachable: %+v", status)
	}
	templateWriteFails(l)

	// The origin comes back at its address; the leaf catches up.
	o = runKnotServer(t, originDir, originArgs...)
	originSession = o.login()
	waitUntil(t, 60*time.Second, func() string {
		for _, sp := range spacesAt(o, originSession, "?all=true") {
			if sp.ID == kept.ID && sp.Location == "branch" && sp.State == "starting" {
				return ""
			}
		}
		return "the origin does not list the leaf's space: " + jsonString(spacesAt(o, originSession, "?all=true"))
	})
	for _, sp := range spacesAt(o, originSession, "?all=true") {
		if sp.ID == tmp.ID {
			t.Fatalf("the origin lists the space deleted at the leaf: %+v", sp)
		}
	}
	var later struct {
		ID string `json:"template_id"`
	}
	o.call("POST", "/api/templates", originSession, map[string]any{"name": "later", "kind": "manual"}, 201, &later)
	waitUntil(t, 30*time.Second, func() string {
		if code, body := l.fetch("GET", "/api/templates/"+later.ID, leafSession, nil); code != 200 {
			return "the leaf does not have the later template: " + string(body)
		}
		return ""
	})

	// An admin at the origin stops the leaf's space, and the leaf does it.
	o.call("POST", "/api/spaces/"+kept.ID+"/stop", originSession, nil, 200, nil)
	var got struct{ State string }
	l.call("GET", "/api/spaces/"+kept.ID, leafSession, nil, 200, &got)
	if got.State != "stopped" {
		t.Fatalf("at the leaf the space is %s after the origin stopped it", got.State)
	}

	// The leaf's audit events reach the origin with the leaf's location.
	waitUntil(t, 30*time.Second, func() string {
		code, body := o.fetch("GET", "/api/audit-logs?max_items=1000", originSession, nil)
		var logs struct {
			Items []struct {
				Event, Location string
			}
		}
		if code != 200 || json.Unmarshal(body, &logs) != nil {
			return "audit log: " + string(body)
		}
		creates := 0
		for _, e := range logs.Items {
			if e.Location == "branch" && e.Event == "Space Create" {
				creates++
			}
		}
		if creates != 2 {
			return "the origin holds " + strconv.Itoa(creates) + " space creations of the leaf, want 2"
		}
		return ""
	})
	l.stop()
	o.stop()
}

// An origin that hangs (stopped with SIGSTOP: its sockets stay open and
// nothing answers on them) is seen as unreachable by its leaf at the first
// request that waits for it in vain, here a login, which asks the origin
// for a session too; not a minute later at the link's idle timeout. From
// then on origin-owned writes fail at once with 503, and the leaf links up
// again when the origin resumes.
func TestLeafNoticesAHungOrigin(t *testing.T) {
	o := runKnotServer(t, t.TempDir(), "--listen", "127.0.0.1:"+loopbackPort(t), "--location", "hq", "--shared-token", fleetSharedToken)
	l := runKnotServer(t, t.TempDir(), "--listen", "127.0.0.1:0", "--location", "branch", "--shared-token", fleetSharedToken, "--origin-server", o.base)
	o.call("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"}, 201, nil)
	var tok struct{ Token string }
	o.call("POST", "/api/tokens", o.login(), map[string]any{"name": "cli"}, 201, &tok)
	waitUntil(t, 30*time.Second, func() string {
		if tryLogin(l) == "" {
			return "the admin cannot log in at the leaf yet"
		}
		return ""
	})
	type status struct {
		OriginReachable bool   `json:"origin_reachable"`
		Reason          string `json:"reason"`
	}
	statusOf := func(token string) status {
		var st status
		l.call("GET", "/api/leaf/status", token, nil, 200, &st)
		return st
	}

	if err := o.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.cmd.Process.Signal(syscall.SIGCONT) })
	session := l.login()
	waitUntil(t, 20*time.Second, func() string {
		if st := statusOf(session); st.OriginReachable || !strings.Contains(st.Reason, "did not answer a ping") {
			return fmt.Sprintf("the leaf's status with the origin hung: %+v", st)
		}
		return ""
	})
	code, body := l.fetch("POST", "/api/templates", tok.Token, map[string]any{"name": "while-hung", "kind": "manual"})
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "is not reachable") {
		t.Fatalf("template write at the leaf with the origin hung = %d %s, want 503 saying the origin is not reachable", code, body)
	}

	if err := o.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, func() string {
		if st := statusOf(session); !st.OriginReachable {
			return fmt.Sprintf("the leaf's status after the origin resumed: %+v", st)
		}
		return ""
	})
	l.call("POST", "/api/templates", tok.Token, map[string]any{"name": "after-hung", "kind": "manual"}, 201, nil)
}

// The leaf token commands, against an origin process and a leaf connected
// with a token they made.
func TestLeafTokenCommands(t *testing.T) {
	o := runKnotServer(t, t.TempDir(), "--listen", "127.0.0.1:0", "--location", "hq", "--shared-token", fleetSharedToken)
	o.call("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"}, 201, nil)
	var tok struct{ Token string }
	o.call("POST", "/api/tokens", o.login(), map[string]any{"name": "cli"}, 201, &tok)
	client := map[string]string{"KNOT_SERVER": o.base, "KNOT_TOKEN": tok.Token, "XDG_CONFIG_HOME": t.TempDir()}

	if r := knot(t, client, "", "leaf", "token", "create"); r.code != 2 || !strings.Contains(r.stderr, "--location is required") {
		t.Fatalf("create without --location: exit %d: %s", r.code, r.stderr)
	}
	// No token for the origin's own location, nor for a user's restricted
	// one.
	for loc, want := range map[string]string{"hq": "this origin's own location", "HQ": "this origin's own location", "user:admin": "restricted location"} {
		if r := knot(t, client, "", "leaf", "token", "create", "--location", loc); r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Fatalf("create --location %s: exit %d: %s, want exit 1 and %q", loc, r.code, r.stderr, want)
		}
	}
	r := knot(t, client, "", "leaf", "token", "create", "--location", "branch", "--name", "first")
	mustSucceed(t, r)
	secret := strings.TrimSpace(r.stdout)
	if strings.Contains(secret, "\n") || len(secret) < 20 || !strings.Contains(r.stderr, "not shown again") {
		t.Fatalf("create printed %q / %q", r.stdout, r.stderr)
	}

	l := runKnotServer(t, t.TempDir(), "--listen", "127.0.0.1:0", "--location", "branch", "--shared-token", secret, "--origin-server", o.base)
	waitUntil(t, 30*time.Second, func() string {
		r := knot(t, client, "", "leaf", "list")
		if r.code != 0 || !regexp.MustCompile(`branch\s+\S+\s+connected`).MatchString(r.stdout) {
			return "leaf list: " + r.stdout + r.stderr
		}
		return ""
	})

	r = knot(t, client, "", "leaf", "token", "list")
	mustSucceed(t, r)
	m := regexp.MustCompile(`(?m)^([0-9a-f]{12})\s+branch\s+first\s`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("token list:\n%s", r.stdout)
	}
	oldID := m[1]

	r = knot(t, client, "", "leaf", "token", "rotate", "--overlap", "1h", oldID)
	mustSucceed(t, r)
	if newSecret := strings.TrimSpace(r.stdout); newSecret == secret || len(newSecret) < 20 || !strings.Contains(r.stderr, "1h0m0s more") {
		t.Fatalf("rotate printed %q / %q", r.stdout, r.stderr)
	}
	r = knot(t, client, "", "leaf", "token", "list")
	if lines := strings.Count(strings.TrimSpace(r.stdout), "\n"); lines != 2 || !strings.Contains(r.stdout, oldID) {
		t.Fatalf("after the rotation the list is:\n%s", r.stdout)
	}

	// Revoking the token the leaf uses disconnects it.
	r = knot(t, client, "", "leaf", "token", "revoke", oldID)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "Revoked the leaf token "+oldID) {
		t.Fatalf("revoke printed %q", r.stdout)
	}
	waitUntil(t, 30*time.Second, func() string {
		r := knot(t, client, "", "leaf", "list")
		if !regexp.MustCompile(`branch\s+\S+\s+disconnected`).MatchString(r.stdout) {
			return "leaf list: " + r.stdout + r.stderr
		}
		return ""
	})
	if r := knot(t, client, "", "leaf", "token", "revoke", oldID); r.code != 1 || !strings.Contains(r.stderr, "no leaf token") {
		t.Fatalf("revoking again: exit %d: %s", r.code, r.stderr)
	}
	l.stop()
	o.stop()
}

var devURLRe = regexp.MustCompile(`^(origin|leaf\d+)\s+(http://127\.0\.0\.1:\d+)\s`)

// knot dev --leaves 2 starts an origin and two leaves, prints their URLs,
// and stops them all on SIGINT.
func TestDevRunsAnOriginAndLeaves(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(knotBin, "dev", "--leaves", "2", "--dir", "fleet", "--port", "0")
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KNOT_") && !strings.HasPrefix(kv, "DOCKER_HOST=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := new(testenv.Buffer)
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	urls := map[string]string{}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	timeout := time.After(60 * time.Second)
wait:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("knot dev ended early:\n%s", logs.String())
			}
			if m := devURLRe.FindStringSubmatch(line); m != nil {
				urls[m[1]] = m[2]
			}
			if strings.Contains(line, "Ctrl-C stops every server") {
				break wait
			}
		case <-timeout:
			t.Fatalf("knot dev printed no URLs in 60 s; got %v", urls)
		}
	}
	if len(urls) != 3 || urls["origin"] == "" || urls["leaf1"] == "" || urls["leaf2"] == "" {
		t.Fatalf("URLs %v", urls)
	}
	token, err := os.ReadFile(dir + "/fleet/shared-token")
	if err != nil || len(strings.TrimSpace(string(token))) < 20 {
		t.Fatalf("shared token kept: %q, %v", token, err)
	}
	for _, name := range []string{"leaf1", "leaf2"} {
		waitUntil(t, 30*time.Second, func() string {
			resp, err := http.Get(urls[name] + "/metrics")
			if err != nil {
				return err.Error()
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(b), "knot_origin_reachable 1") {
				return name + " is not connected to the origin"
			}
			return ""
		})
	}
	// A space made at one leaf shows at the other, with its location.
	o, l1, l2 := &serverProc{t: t, base: urls["origin"]}, &serverProc{t: t, base: urls["leaf1"]}, &serverProc{t: t, base: urls["leaf2"]}
	o.call("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"}, 201, nil)
	var tmpl struct {
		ID string `json:"template_id"`
	}
	o.call("POST", "/api/templates", o.login(), map[string]any{"name": "byo", "kind": "manual"}, 201, &tmpl)
	var s1 string
	waitUntil(t, 30*time.Second, func() string {
		if s1 = tryLogin(l1); s1 == "" {
			return "the admin cannot log in at leaf1 yet"
		}
		if code, body := l1.fetch("GET", "/api/templates", s1, nil); code != 200 || !strings.Contains(string(body), tmpl.ID) {
			return "leaf1 has no template: " + string(body)
		}
		return ""
	})
	var sp struct {
		ID string `json:"space_id"`
	}
	l1.call("POST", "/api/spaces", s1, map[string]any{"name": "dev", "template_id": tmpl.ID}, 201, &sp)
	waitUntil(t, 30*time.Second, func() string {
		s2 := tryLogin(l2)
		sps := spacesAt(l2, s2, "")
		if len(sps) != 1 || sps[0].ID != sp.ID || sps[0].Location != "leaf1" {
			return "leaf2 lists " + jsonString(sps)
		}
		return ""
	})

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("knot dev exited with %v after SIGINT:\n%s", err, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("knot dev did not stop within 60 s of SIGINT:\n%s", logs.String())
	}
	for name, u := range urls {
		if resp, err := http.Get(u + "/health"); err == nil {
			resp.Body.Close()
			t.Errorf("%s still answers at %s after knot dev stopped", name, u)
		}
	}
	if got := strings.Count(logs.String(), `msg="knot stopped"`); got != 3 {
		t.Errorf("%d servers said they stopped, want 3:\n%s", got, logs.String())
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
