package testenv_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared/testenv"
)

// The test binary doubles as the server that the tests start: with
// helperVar set it runs the mode the variable names.
const helperVar = "KNOT_TESTENV_HELPER"

func TestMain(m *testing.M) {
	mode, arg, _ := strings.Cut(os.Getenv(helperVar), ":")
	arg, dir, _ := strings.Cut(arg, ":")
	switch mode {
	case "":
		os.Exit(m.Run())
	case "serve": // answer "hi" on 127.0.0.1:arg
		os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(os.Getpid())), 0o600)
		l, err := net.Listen("tcp", "127.0.0.1:"+arg)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		for {
			c, err := l.Accept()
			if err != nil {
				os.Exit(1)
			}
			fmt.Fprintln(c, "hi")
			c.Close()
		}
	case "fail":
		fmt.Println("bad configuration:", arg)
		os.Exit(3)
	case "parent": // start a server, print its pid, wait to be killed
		p, err := testenv.StartProcess(helperMode(helperServer(), "serve", same))
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		pid, _ := os.ReadFile(filepath.Join(p.Dir, "pid"))
		fmt.Printf("server %s %s\n", pid, p.Dir)
		select {}
	}
}

// helperServer starts the test binary as a server that answers "hi".
func helperServer() testenv.ProcessOptions {
	return testenv.ProcessOptions{
		Program: os.Args[0],
		Args:    func(port int, dir string) []string { return []string{"-test.run=^$"} },
		Ready:   hello,
	}
}

// hello returns nil when the server on port says hi.
func hello(ctx context.Context, port int) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "hi\n" {
		return fmt.Errorf("server said %q", line)
	}
	return nil
}

// helperMode sets the helper mode for the processes that opts starts; the
// port is the one StartProcess chose unless port says otherwise.
func helperMode(opts testenv.ProcessOptions, mode string, port func(int) int) testenv.ProcessOptions {
	args := opts.Args
	opts.Args = func(p int, dir string) []string {
		os.Setenv(helperVar, mode+":"+strconv.Itoa(port(p))+":"+dir)
		return args(p, dir)
	}
	return opts
}

// withHelper is helperMode for a test, which unsets the mode when it ends.
func withHelper(t *testing.T, opts testenv.ProcessOptions, mode string, port func(int) int) testenv.ProcessOptions {
	t.Cleanup(func() { os.Unsetenv(helperVar) })
	return helperMode(opts, mode, port)
}

func same(p int) int { return p }

func TestStartProcessWaitsUntilTheServerAnswers(t *testing.T) {
	p, err := testenv.StartProcess(withHelper(t, helperServer(), "serve", same))
	if err != nil {
		t.Fatal(err)
	}
	if err := hello(context.Background(), p.Port); err != nil {
		p.Stop()
		t.Fatalf("the server does not answer after StartProcess: %v", err)
	}
	dir := p.Dir
	p.Stop()
	p.Stop()
	select {
	case <-p.Exited():
	default:
		t.Fatal("the server runs on after Stop")
	}
	if err := hello(context.Background(), p.Port); err == nil {
		t.Fatal("something still answers on the port after Stop")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the directory %s is still there after Stop: %v", dir, err)
	}
}

func TestStartProcessTriesAnotherPortWhenItsPortIsTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tries := 0
	p, err := testenv.StartProcess(withHelper(t, helperServer(), "serve", func(p int) int {
		tries++
		if tries == 1 {
			return taken.Addr().(*net.TCPAddr).Port
		}
		return p
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if tries != 2 {
		t.Fatalf("the server started %d times, want 2", tries)
	}
	if err := hello(context.Background(), p.Port); err != nil {
		t.Fatalf("the server on the second port does not answer: %v", err)
	}
}

func TestStartProcessReportsAServerThatExits(t *testing.T) {
	_, err := testenv.StartProcess(withHelper(t, helperServer(), "fail", same))
	if err == nil || !strings.Contains(err.Error(), "exited before it answered") || !strings.Contains(err.Error(), "bad configuration") {
		t.Fatalf("start of a server that exits: %v; want an error that says so and quotes its output", err)
	}
}

func TestStartProcessRunsSetupFirst(t *testing.T) {
	opts := withHelper(t, helperServer(), "serve", same)
	var setupDir string
	opts.Setup = func(ctx context.Context, dir string) error {
		setupDir = dir
		return os.WriteFile(filepath.Join(dir, "data"), []byte("x"), 0o600)
	}
	args := opts.Args
	opts.Args = func(port int, dir string) []string {
		if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
			t.Errorf("the server starts before setup: %v", err)
		}
		return args(port, dir)
	}
	p, err := testenv.StartProcess(opts)
	if err != nil {
		t.Fatal(err)
	}
	p.Stop()
	if setupDir != p.Dir {
		t.Fatalf("setup ran in %q, the server in %q", setupDir, p.Dir)
	}

	opts.Setup = func(ctx context.Context, dir string) error { setupDir = dir; return errors.New("no disk") }
	if _, err := testenv.StartProcess(opts); err == nil || !strings.Contains(err.Error(), "no disk") {
		t.Fatalf("start after a failed setup: %v", err)
	}
	if _, err := os.Stat(setupDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the directory of a failed start is still there: %v", err)
	}
}

func TestMissingProgramIsNotFound(t *testing.T) {
	for _, name := range []string{"knot-no-such-program", "/nonexistent/knot-no-such-program"} {
		_, err := testenv.StartProcess(testenv.ProcessOptions{Program: name})
		if !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), name) {
			t.Errorf("start of %s: %v; want exec.ErrNotFound naming it", name, err)
		}
	}
}

func TestServerDiesWithTheTestProcess(t *testing.T) {
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), helperVar+"=parent")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer parent.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "server ") {
		t.Fatalf("the parent said %q, %v", line, err)
	}
	fields := strings.Fields(line)
	if len(fields) != 3 {
		t.Fatalf("the parent said %q", line)
	}
	t.Cleanup(func() { os.RemoveAll(fields[2]) })
	pid, err := strconv.Atoi(fields[1])
	if err != nil {
		t.Fatalf("the parent said %q", line)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the server %d is not running: %v", pid, err)
	}
	parent.Process.Signal(syscall.SIGKILL)
	parent.Wait()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		select {
		case <-deadline:
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the server %d outlived its parent by 30s", pid)
		case <-tick.C:
		}
	}
}

func TestRunKillsTheProgramWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := testenv.Run(ctx, "sleep", "30")
	if err == nil {
		t.Fatal("sleep 30 ended without error within a context of 100ms")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Run returned after %v", d)
	}
	out, err := testenv.Run(context.Background(), "echo", "done")
	if err != nil || string(out) != "done\n" {
		t.Fatalf("echo done: %q, %v", out, err)
	}
}

func TestProxyCutsAndRestoresTheServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { // say hi, then echo until the client leaves
				defer c.Close()
				fmt.Fprintln(c, "hi")
				io.Copy(c, c)
			}()
		}
	}()
	p := testenv.NewProxy(t, l.Addr().(*net.TCPAddr).Port)
	ctx := context.Background()
	if err := hello(ctx, p.Port); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	held, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(p.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	held.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(held)
	if line, err := r.ReadString('\n'); err != nil || line != "hi\n" {
		t.Fatalf("a held connection got %q, %v", line, err)
	}
	p.Cut()
	if err := hello(ctx, p.Port); err == nil {
		t.Fatal("the server answers through a cut proxy")
	}
	fmt.Fprintln(held, "still there?")
	if line, err := r.ReadString('\n'); err == nil {
		t.Fatalf("a connection through the proxy stays open after the cut: it echoed %q", line)
	} else if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("a connection through the proxy stays open after the cut")
	}
	p.Restore(t)
	if err := hello(ctx, p.Port); err != nil {
		t.Fatalf("through the restored proxy: %v", err)
	}
}

func TestClosedPortRefusesConnections(t *testing.T) {
	port := testenv.ClosedPort(t)
	if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
		c.Close()
		t.Fatalf("port %d accepts connections", port)
	}
}

func TestOnceStartsOnceAndStopsWhatItStarted(t *testing.T) {
	var o testenv.Once[int]
	calls := 0
	start := func() (int, error) { calls++; return 7, nil }
	for range 3 {
		if v := o.Get(t, "seven", start); v != 7 {
			t.Fatalf("got %d", v)
		}
	}
	stopped := 0
	o.Stop(func(v int) { stopped = v })
	if calls != 1 || stopped != 7 {
		t.Fatalf("start ran %d times, stop got %d; want once and 7", calls, stopped)
	}

	var never testenv.Once[int]
	never.Stop(func(int) { t.Fatal("stop of a value that was never started") })
	if _, err := never.Start(start); err == nil || calls != 1 {
		t.Fatalf("start after stop: %v, start ran %d times; want an error and no run", err, calls)
	}

	var failed testenv.Once[int]
	if _, err := failed.Start(func() (int, error) { return 0, errors.New("no port") }); err == nil {
		t.Fatal("a failed start reported no error")
	}
	failed.Stop(func(int) { t.Fatal("stop of a value whose start failed") })
}
