package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/creack/pty"

	knotmain "github.com/knot-dev/knot/cmd/knot"
	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/tlsconf"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

// terminalBed is a web server with an agent endpoint on loopback, a
// running manual space "dev" of the admin, and a knot agent process for it.
type terminalBed struct {
	*testServer
	spaceID string
	agents  *leaf.Agents
}

func startTerminalBed(t *testing.T) *terminalBed {
	t.Helper()
	st := memory.New()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	mgr, err := runtime.NewManager(runtime.Options{
		Records: leaf.SpaceRecords{Store: st},
		Server:  runtime.ServerInfo{URL: "http://127.0.0.1", Location: "test"},
		Logger:  quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tlsconf.LoadServer(tlsconf.ServerOptions{SelfSignedDir: t.TempDir(), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	agents, err := leaf.NewAgents(leaf.AgentsOptions{
		Space: func(ctx context.Context, id string) (*shared.Space, error) {
			return storage.Get[shared.Space](ctx, st, id)
		},
		Location: "test", TLS: cert.Config, Version: "test", Logger: quiet,
		Endpoint: ln.Addr().String(), Fingerprint: cert.Fingerprint,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agents.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })

	ts := serveWeb(t, knotmain.ServerParts{Store: st, Runner: mgr, Logs: mgr, Agents: agents, Options: web.Options{Location: "test", Logger: quiet}})
	env := ts.as(t, ts.adminToken)
	mustSucceed(t, knot(t, env, "name: byo\nkind: manual\n", "template", "import", "-"))
	mustSucceed(t, knot(t, env, "", "space", "create", "dev", "byo"))
	mustSucceed(t, knot(t, env, "", "space", "start", "dev"))
	sp := ts.spaces(t, ts.adminToken)[0]

	// The agent's environment, as the owner of a manual space gets it.
	r := knot(t, env, "", "space", "agent-env", "dev")
	mustSucceed(t, r)
	agentEnv := map[string]string{"HOME": t.TempDir()}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		k, v, _ := strings.Cut(line, "=")
		agentEnv[k] = v
	}
	if agentEnv["KNOT_AGENT_ENDPOINT"] != ln.Addr().String() || agentEnv["KNOT_SPACE_ID"] != sp.ID || agentEnv["KNOT_AGENT_FINGERPRINT"] != cert.Fingerprint || agentEnv["KNOT_AGENT_TOKEN"] == "" {
		t.Fatalf("knot space agent-env printed %q", r.stdout)
	}
	startKnot(t, agentEnv, "agent")
	deadline := time.Now().Add(20 * time.Second)
	for !agents.Status(sp.ID).Connected {
		if time.Now().After(deadline) {
			t.Fatal("the agent did not link within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &terminalBed{testServer: ts, spaceID: sp.ID, agents: agents}
}

// wsTerm is a terminal websocket opened as a browser or the CLI does.
type wsTerm struct {
	t    *testing.T
	conn *websocket.Conn
	id   string
	out  chan []byte
	exit chan int
	err  error // why reading ended; set before out is closed
}

func (b *terminalBed) open(t *testing.T, token, query string) (*wsTerm, *http.Response, error) {
	t.Helper()
	return openTerminal(t, b.URL, token, b.spaceID, query)
}

// openTerminal opens the terminal websocket of a space at the server base.
func openTerminal(t *testing.T, base, token, spaceID, query string) (*wsTerm, *http.Response, error) {
	t.Helper()
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+token)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, strings.Replace(base, "http://", "ws://", 1)+"/api/spaces/"+spaceID+"/terminal?"+query, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		return nil, resp, err
	}
	conn.SetReadLimit(1 << 20)
	w := &wsTerm{t: t, conn: conn, out: make(chan []byte, 4096), exit: make(chan int, 1)}
	typ, data, err := conn.Read(context.Background())
	if err != nil || typ != websocket.MessageText {
		t.Fatalf("first message: %v %s", err, data)
	}
	var m struct{ Type, ID string }
	json.Unmarshal(data, &m)
	if m.Type != "session" || m.ID == "" {
		t.Fatalf("first message %s, want the session", data)
	}
	w.id = m.ID
	go func() {
		defer close(w.out)
		for {
			typ, data, err := conn.Read(context.Background())
			if err != nil {
				w.err = err
				return
			}
			if typ == websocket.MessageBinary {
				w.out <- data
				continue
			}
			var m struct {
				Type string
				Code int
			}
			if json.Unmarshal(data, &m) == nil && m.Type == "exit" {
				w.exit <- m.Code
			}
		}
	}()
	t.Cleanup(func() { conn.CloseNow() })
	return w, resp, nil
}

func (w *wsTerm) send(s string) {
	w.t.Helper()
	if err := w.conn.Write(context.Background(), websocket.MessageBinary, []byte(s)); err != nil {
		w.t.Fatal(err)
	}
}

func (w *wsTerm) control(v any) {
	w.t.Helper()
	b, _ := json.Marshal(v)
	if err := w.conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		w.t.Fatal(err)
	}
}

// until reads output until it holds want, and returns all of it.
func (w *wsTerm) until(got *strings.Builder, want string) string {
	w.t.Helper()
	deadline := time.After(20 * time.Second)
	for !strings.Contains(got.String(), want) {
		select {
		case p, ok := <-w.out:
			if !ok {
				w.t.Fatalf("the terminal ended before %q; got %q", want, tail(got.String()))
			}
			got.Write(p)
		case <-deadline:
			w.t.Fatalf("no %q within 20s; got %q", want, tail(got.String()))
		}
	}
	return got.String()
}

func tail(s string) string {
	if len(s) > 400 {
		return "…" + s[len(s)-400:]
	}
	return s
}

func (w *wsTerm) waitEnd() int {
	w.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case _, ok := <-w.out:
			if !ok {
				select {
				case c := <-w.exit:
					return c
				default:
					w.t.Fatal("the terminal ended without an exit message")
				}
			}
		case <-deadline:
			w.t.Fatal("the terminal did not end within 20s")
		}
	}
}

func TestTerminalThroughTheWebServer(t *testing.T) {
	b := startTerminalBed(t)
	var sp struct {
		Agent *struct {
			Connected bool
			Version   string
			LastSeen  *time.Time `json:"last_seen"`
		}
	}
	b.mustCall(t, "GET", "/api/spaces/"+b.spaceID, b.adminToken, nil, &sp)
	if sp.Agent == nil || !sp.Agent.Connected || sp.Agent.Version == "" || sp.Agent.LastSeen == nil {
		t.Fatalf("the space's agent is %+v, want connected with its version and last_seen", sp.Agent)
	}
	w, _, err := b.open(t, b.adminToken, "cols=80&rows=24")
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	w.send("echo hi-$((40+2))\n")
	w.until(&got, "hi-42")

	w.control(map[string]any{"type": "resize", "cols": 120, "rows": 40})
	w.send("stty size\n")
	w.until(&got, "40 120")

	// A second viewer shares the session and sees the earlier output.
	w2, _, err := b.open(t, b.adminToken, "attach="+w.id)
	if err != nil {
		t.Fatal(err)
	}
	var got2 strings.Builder
	w2.until(&got2, "hi-42")
	w2.send("echo 'ünïcødé ✓ 日本'\n")
	w.until(&got, "ünïcødé ✓ 日本\r\n")
	w2.until(&got2, "ünïcødé ✓ 日本\r\n")

	// 1 MiB of output, none lost.
	w.send("i=0; while [ $i -lt 16384 ]; do echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde; i=$((i+1)); done; echo DONE-$((1+1))\n")
	out := w.until(&got, "DONE-2\r\n")
	if n := strings.Count(out, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n"); n != 16384 {
		t.Fatalf("got %d of 16384 lines", n)
	}

	w.send("exit 5\n")
	if c := w.waitEnd(); c != 5 {
		t.Fatalf("exit code %d, want 5", c)
	}
	if c := w2.waitEnd(); c != 5 {
		t.Fatalf("second viewer: exit code %d, want 5", c)
	}

	// The audit log has the open and the close, with who, how long and why.
	var audit struct {
		Items []struct {
			Actor      string
			Event      string
			Details    string
			Properties map[string]string
		}
	}
	opened, closed := 0, 0
	deadline := time.Now().Add(10 * time.Second)
	for closed < 2 && time.Now().Before(deadline) {
		b.mustCall(t, "GET", "/api/audit-logs", b.adminToken, nil, &audit)
		closed = 0
		for _, e := range audit.Items {
			if e.Event == "terminal closed" {
				closed++
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	closed = 0
	for _, e := range audit.Items {
		switch e.Event {
		case "terminal opened":
			opened++
		case "terminal closed":
			closed++
			if e.Actor != "admin" || e.Properties["duration"] == "" || e.Properties["ip"] == "" || !strings.Contains(e.Properties["reason"], "exited with code 5") {
				t.Errorf("close event %+v lacks who, from where, how long or why", e)
			}
		}
	}
	if opened != 2 || closed != 2 {
		t.Fatalf("%d opens and %d closes audited, want 2 and 2: %+v", opened, closed, audit.Items)
	}
}

func TestTerminalRefusesANonOwnerAndAuditsIt(t *testing.T) {
	b := startTerminalBed(t)
	other := b.addUser(t, "mallory")
	_, resp, err := b.open(t, other, "")
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a non-owner's terminal: %v, %+v; want 404", err, resp)
	}
	var audit struct {
		Items []struct{ Actor, Event string }
	}
	b.mustCall(t, "GET", "/api/audit-logs", b.adminToken, nil, &audit)
	found := false
	for _, e := range audit.Items {
		found = found || (e.Event == "terminal refused" && e.Actor == "mallory")
	}
	if !found {
		t.Fatalf("the refusal is not audited: %+v", audit.Items)
	}
}

func TestSpaceShellAndExecFromTheCLI(t *testing.T) {
	b := startTerminalBed(t)
	env := b.as(t, b.adminToken)

	r := knot(t, env, "", "space", "exec", "dev", "--", "sh", "-c", "echo out-$((2*3)); exit 3")
	if r.code != 3 || r.stdout != "out-6\n" {
		t.Fatalf("exec: exit %d, stdout %q, stderr %q; want 3 and out-6", r.code, r.stdout, r.stderr)
	}
	r = knot(t, env, "piped input\n", "space", "exec", "dev", "--", "cat")
	if r.code != 0 || r.stdout != "piped input\n" {
		t.Fatalf("exec cat: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// Programs in the space get the agent's environment, but not its
	// credential.
	r = knot(t, env, "", "space", "exec", "dev", "--", "env")
	if r.code != 0 || !strings.Contains(r.stdout, "KNOT_SPACE_ID="+b.spaceID+"\n") || strings.Contains(r.stdout, "KNOT_AGENT_TOKEN") {
		t.Fatalf("env in the space: exit %d, stdout %q; want KNOT_SPACE_ID and no KNOT_AGENT_TOKEN", r.code, r.stdout)
	}
	r = knot(t, env, "", "space", "exec", "dev", "--", "no-such-program-knot")
	if r.code != 127 {
		t.Fatalf("exec of a missing program: exit %d, stderr %q; want 127", r.code, r.stderr)
	}

	// A shell with a pipe as input: the script runs and its end ends the
	// shell.
	r = knot(t, env, "echo scripted-$((3*3))\nexit 4\n", "space", "shell", "dev")
	if r.code != 4 || !strings.Contains(r.stdout, "scripted-9") {
		t.Fatalf("shell: exit %d, stdout %q, stderr %q; want 4 and scripted-9", r.code, r.stdout, r.stderr)
	}
	r = knot(t, env, "echo eof-ends-it\n", "space", "shell", "dev")
	if r.code != 0 || !strings.Contains(r.stdout, "eof-ends-it") {
		t.Fatalf("shell to EOF: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestSpaceAgentEnvIsForTheOwnerOfAManualSpace(t *testing.T) {
	b := startTerminalBed(t)
	other := b.addUser(t, "mallory")
	if r := knot(t, b.as(t, other), "", "space", "agent-env", "dev"); r.code == 0 {
		t.Fatalf("another user got the agent's environment: %s", r.stdout)
	}
	if status := b.call(t, "POST", "/api/spaces/"+b.spaceID+"/agent-token", other, nil, nil); status != http.StatusNotFound {
		t.Fatalf("another user's agent-token: HTTP %d, want 404", status)
	}
	env := b.as(t, b.adminToken)
	mustSucceed(t, knot(t, env, "name: box\nkind: container\nspec: |\n  image: busybox\n", "template", "import", "-"))
	mustSucceed(t, knot(t, env, "", "space", "create", "boxed", "box"))
	r := knot(t, env, "", "space", "agent-env", "boxed")
	if r.code == 0 || !strings.Contains(r.stderr, "only a manual space's agent token is made here") {
		t.Fatalf("agent-env of a container space: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestTerminalBadRequestsGetClearAnswers(t *testing.T) {
	b := startTerminalBed(t)
	for query, want := range map[string]string{
		"cols=abc":  "query parameter cols must be a number from 1 to 1000",
		"rows=5000": "query parameter rows must be a number from 1 to 1000",
		"pty=maybe": "query parameter pty must be 0 or 1",
	} {
		_, resp, err := b.open(t, b.adminToken, query)
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %v %+v; want 400", query, err, resp)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), want) {
			t.Errorf("%s: %s; want %q", query, body, want)
		}
	}
	if _, resp, err := b.open(t, b.adminToken, "attach=no-such-session"); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("attach to an unknown session: %v %+v; want 404", err, resp)
	}

	// A text message that is not a control message closes the websocket
	// with the reason, and the audit log says so.
	w, _, err := b.open(t, b.adminToken, "")
	if err != nil {
		t.Fatal(err)
	}
	w.control(map[string]any{"type": "explode"})
	deadline := time.After(20 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-w.out:
		case <-deadline:
			t.Fatal("the websocket stayed open after a bad message")
		}
	}
	if websocket.CloseStatus(w.err) != websocket.StatusPolicyViolation || !strings.Contains(w.err.Error(), "unknown control message type") {
		t.Fatalf("after a bad message: %v; want a policy violation close with the reason", w.err)
	}

	// A space of another location, at a server with no other locations (a
	// standalone one): 503 at once, saying why.
	rec, err := storage.Get[shared.Space](context.Background(), b.store, b.spaceID)
	if err != nil {
		t.Fatal(err)
	}
	rec.Location = "elsewhere"
	if err := b.store.Put(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	_, resp, err := b.open(t, b.adminToken, "")
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a space elsewhere: %v %+v; want 503", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "runs at location elsewhere, and this server has no way to other locations") {
		t.Fatalf("a space elsewhere: %s", body)
	}
}

// knot space shell on a terminal: raw mode (the remote shell echoes),
// the terminal's size at the start and after SIGWINCH, the exit status.
func TestSpaceShellOnATerminalFollowsItsSize(t *testing.T) {
	b := startTerminalBed(t)
	cmd := exec.Command(knotBin, "space", "shell", "dev")
	cmd.Env = testEnv(b.as(t, b.adminToken))
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 91, Rows: 31})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	var mu sync.Mutex
	var out strings.Builder
	go io.Copy(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) }), f)
	waitOut := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			mu.Lock()
			got := out.String()
			mu.Unlock()
			if strings.Contains(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %q within 20s; got %q", want, tail(got))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	f.Write([]byte("stty size; echo A-$((1+1))\r"))
	waitOut("31 91")
	waitOut("A-2")
	if err := pty.Setsize(f, &pty.Winsize{Cols: 77, Rows: 22}); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGWINCH)
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		f.Write([]byte("stty size\r"))
		mu.Lock()
		got := strings.Contains(out.String(), "22 77")
		mu.Unlock()
		if got {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the remote terminal did not follow the resize")
		}
		time.Sleep(100 * time.Millisecond)
	}
	f.Write([]byte("exit 7\r"))
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 7 {
			t.Fatalf("knot space shell ended with %v; want exit status 7", err)
		}
		done <- err
	case <-time.After(20 * time.Second):
		t.Fatal("knot space shell did not end")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
