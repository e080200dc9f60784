package main_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	knotmain "github.com/knot-dev/knot/cmd/knot"
	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared/testenv"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

// startServerWithManager starts a web server whose spaces are run, and
// whose space logs are kept, by a runtime Manager (with no container
// runtime: manual templates only).
func startServerWithManager(t *testing.T) *testServer {
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
	return serveWeb(t, knotmain.ServerParts{Store: st, Runner: mgr, Logs: mgr, Options: web.Options{Location: "test", Logger: quiet}})
}

// background is a knot command running while the test goes on.
type background struct {
	cmd    *exec.Cmd
	lines  chan string // stdout, line by line; closed at its end
	stderr *testenv.Buffer
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// testEnv returns the environment of knot: this one without KNOT_*
// variables, plus env.
func testEnv(env map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KNOT_") {
			out = append(out, kv)
		}
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func startKnot(t testing.TB, env map[string]string, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, knotBin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = testEnv(env)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &background{cmd: cmd, lines: make(chan string, 100), stderr: &testenv.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = b.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			b.lines <- sc.Text()
		}
		close(b.lines)
		b.err = cmd.Wait()
		cancel()
		close(b.exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-b.exited
	})
	return b
}

// waitLine returns the next line of output that matches re, failing the
// test when the output ends or 20 seconds pass first.
func (b *background) waitLine(t *testing.T, re string) string {
	t.Helper()
	want := regexp.MustCompile(re)
	deadline := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-b.lines:
			if !ok {
				t.Fatalf("output ended without a line matching %q; stderr:\n%s", re, b.stderr.String())
			}
			if want.MatchString(l) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line matching %q within 20s; stderr:\n%s", re, b.stderr.String())
		}
	}
}

// exitCode waits for the command to end and returns its exit status.
func (b *background) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-b.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("knot did not exit within 20s; stderr:\n%s", b.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(b.err, &ee) {
		return ee.ExitCode()
	}
	if b.err != nil {
		t.Fatal(b.err)
	}
	return 0
}

// logLine matches a log line of the Manager as the server prints it.
const logLine = `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (info|error) `

func TestSpaceLogsPrintsTheRecentLines(t *testing.T) {
	ts := startServerWithManager(t)
	env := ts.as(t, ts.adminToken)
	mustSucceed(t, knot(t, env, "name: byo\nkind: manual\n", "template", "import", "-"))
	mustSucceed(t, knot(t, env, "", "space", "create", "dev", "byo"))

	// A space that never ran has an empty log.
	r := knot(t, env, "", "space", "logs", "dev")
	mustSucceed(t, r)
	if r.stdout != "" {
		t.Errorf("log of a new space: %q", r.stdout)
	}

	mustSucceed(t, knot(t, env, "", "space", "start", "dev"))
	mustSucceed(t, knot(t, env, "", "space", "stop", "dev"))
	r = knot(t, env, "", "space", "logs", "dev")
	mustSucceed(t, r)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) < 2 {
		t.Fatalf("log:\n%s", r.stdout)
	}
	for _, l := range lines {
		if !regexp.MustCompile(logLine).MatchString(l) {
			t.Errorf("line %q is not a log line", l)
		}
	}
	if !strings.HasSuffix(lines[0], "→ running") || !strings.HasSuffix(lines[len(lines)-1], "→ stopped") {
		t.Errorf("log does not show the start, then the stop:\n%s", r.stdout)
	}
}

func TestSpaceLogsFollowUntilTheLogEnds(t *testing.T) {
	ts := startServerWithManager(t)
	env := ts.as(t, ts.adminToken)
	mustSucceed(t, knot(t, env, "name: byo\nkind: manual\n", "template", "import", "-"))
	mustSucceed(t, knot(t, env, "", "space", "create", "dev", "byo"))
	mustSucceed(t, knot(t, env, "", "space", "start", "dev"))

	f := startKnot(t, env, "space", "logs", "dev", "-f")
	// The recent lines come first, then the new ones as they are written.
	f.waitLine(t, logLine+`.*→ running$`)
	mustSucceed(t, knot(t, env, "", "space", "stop", "dev"))
	f.waitLine(t, logLine+`.*→ stopped$`)
	// Deleting the space ends its log, and the server ends the stream.
	mustSucceed(t, knot(t, env, "", "space", "delete", "dev"))
	if code := f.exitCode(t); code != 0 {
		t.Errorf("exit %d; stderr:\n%s", code, f.stderr.String())
	}
	if !strings.Contains(f.stderr.String(), "The server closed the log stream") {
		t.Errorf("stderr:\n%s", f.stderr.String())
	}
}

func TestSpaceLogsFollowStopsOnInterrupt(t *testing.T) {
	ts := startServerWithManager(t)
	env := ts.as(t, ts.adminToken)
	mustSucceed(t, knot(t, env, "name: byo\nkind: manual\n", "template", "import", "-"))
	mustSucceed(t, knot(t, env, "", "space", "create", "dev", "byo"))
	mustSucceed(t, knot(t, env, "", "space", "start", "dev"))

	f := startKnot(t, env, "space", "logs", "--follow", "dev")
	f.waitLine(t, logLine+`.*→ running$`)
	if err := f.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := f.exitCode(t); code != 0 {
		t.Errorf("exit %d after Ctrl-C; stderr:\n%s", code, f.stderr.String())
	}
	if s := f.stderr.String(); s != "" {
		t.Errorf("stderr after Ctrl-C:\n%s", s)
	}
}

func TestSpaceLogsOnAServerWithoutLogs(t *testing.T) {
	ts := startServer(t)
	env := ts.as(t, ts.adminToken)
	mustSucceed(t, knot(t, env, "name: byo\nkind: manual\n", "template", "import", "-"))
	mustSucceed(t, knot(t, env, "", "space", "create", "dev", "byo"))
	for _, args := range [][]string{{"space", "logs", "dev"}, {"space", "logs", "dev", "-f"}} {
		r := knot(t, env, "", args...)
		if r.code != 1 || !strings.Contains(r.stderr, "knot: this server keeps no space logs (HTTP 404)") {
			t.Errorf("%v: exit %d, stderr:\n%s", args, r.code, r.stderr)
		}
	}
}
