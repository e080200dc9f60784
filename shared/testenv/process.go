package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ProcessOptions describe a server program for StartProcess.
type ProcessOptions struct {
	// Program is the program to run: a path, or a name looked up with
	// LookPath. Required.
	Program string
	// Args returns the arguments that make the program listen on
	// 127.0.0.1:port and keep its files in dir. Required.
	Args func(port int, dir string) []string
	// Setup prepares dir once, before the first start (a data directory,
	// say). nil means nothing to prepare.
	Setup func(ctx context.Context, dir string) error
	// Ready returns nil once the server on port answers. It is called every
	// 20ms until it does, the process exits, or Timeout passes. Required.
	Ready func(ctx context.Context, port int) error
	// Timeout bounds Setup, and each start until Ready. 0 means a minute.
	Timeout time.Duration
}

// Process is a server program that StartProcess started. It runs in a
// process group of its own and dies with the test process, whatever the
// way: a panic, a timeout or a kill.
type Process struct {
	// Port is the loopback port the server listens on.
	Port int
	// Dir is the server's own temporary directory, removed by Stop.
	Dir string

	cmd    *exec.Cmd
	out    *os.File
	exited chan struct{} // closed when cmd exits
	stop   sync.Once
}

// portTries is how often StartProcess picks another port when the one it
// picked was taken between its choice and the server's start.
const portTries = 3

// StartProcess runs opts.Setup on a new temporary directory, then starts
// opts.Program on a free loopback port and waits until opts.Ready says it
// answers. When the program is not installed, the error wraps
// exec.ErrNotFound (see CheckStart). The caller stops the process with Stop.
func StartProcess(opts ProcessOptions) (*Process, error) {
	bin, err := LookPath(opts.Program)
	if err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	p := &Process{}
	if p.Dir, err = os.MkdirTemp("", "knot-"+filepath.Base(bin)+"-"); err != nil {
		return nil, err
	}
	if opts.Setup != nil {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := opts.Setup(ctx, p.Dir)
		cancel()
		if err != nil {
			p.Stop()
			return nil, err
		}
	}
	for range portTries {
		if p.Port, err = FreePort(); err != nil {
			break
		}
		if err = p.start(bin, opts.Args(p.Port, p.Dir)); err != nil {
			break
		}
		if err = p.waitReady(opts.Ready, timeout); err == nil {
			return p, nil
		}
		p.kill()
		if !strings.Contains(strings.ToLower(p.Output()), "address already in use") {
			err = fmt.Errorf("%s: %v\n%s", opts.Program, err, p.Output())
			break
		}
		err = fmt.Errorf("%s: no free port after %d tries", opts.Program, portTries)
	}
	p.Stop()
	return nil, err
}

// start starts bin with its output going to a file in Dir, in a process
// group of its own, from an OS thread that lives as long as this process:
// the child's parent-death signal fires when the thread that started it
// ends, so the child dies with this process.
func (p *Process) start(bin string, args []string) error {
	out, err := os.Create(filepath.Join(p.Dir, "output.log"))
	if err != nil {
		return err
	}
	p.out = out
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the process
		started <- p.cmd.Start()
		select {}
	}()
	if err := <-started; err != nil {
		p.cmd = nil
		return err
	}
	p.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		cmd.Wait()
		close(exited)
	}(p.cmd, p.exited)
	return nil
}

// waitReady polls ready until it returns nil, the process exits, or
// timeout passes.
func (p *Process) waitReady(ready func(context.Context, int) error, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ready(ctx, p.Port)
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("exited before it answered: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("did not answer within %v: %v", timeout, err)
		case <-tick.C:
		}
	}
}

// Exited is closed when the server process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Output returns what the server wrote to its standard output and error.
func (p *Process) Output() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "output.log"))
	return string(b)
}

// Stop kills the server's process group, waits for the server to exit and
// removes Dir. Calling it again does nothing.
func (p *Process) Stop() {
	p.stop.Do(func() {
		p.kill()
		os.RemoveAll(p.Dir)
	})
}

func (p *Process) kill() {
	if p.cmd != nil {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
		p.cmd = nil
	}
	if p.out != nil {
		p.out.Close()
		p.out = nil
	}
}

// MustStartProcess starts a server for tb alone and stops it when tb ends.
// A program that is not installed is Missing; any other failure fails tb.
func MustStartProcess(tb testing.TB, opts ProcessOptions) *Process {
	tb.Helper()
	p, err := StartProcess(opts)
	CheckStart(tb, opts.Program, err)
	tb.Cleanup(p.Stop)
	return p
}

// CheckStart stops tb when starting program failed with err: Missing when
// the program is not installed, a failure otherwise. A nil err does
// nothing.
func CheckStart(tb testing.TB, program string, err error) {
	tb.Helper()
	switch {
	case err == nil:
	case errors.Is(err, exec.ErrNotFound):
		Missing(tb, program, err)
	default:
		tb.Fatalf("start %s: %v", program, err)
	}
}

// Run runs a program to its end, as StartProcess runs a server: in a
// process group of its own, which is killed when ctx ends. It returns what
// the program wrote to its standard output and error.
func Run(ctx context.Context, program string, args ...string) ([]byte, error) {
	bin, err := LookPath(program)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %v\n%s", program, err, out)
	}
	return out, nil
}

// LookPath finds a program on PATH or in the sbin directories, where
// Debian puts server programs such as mariadbd and which a user's PATH
// often lacks. A name with a slash is used as it is. When the program is
// not found, the error wraps exec.ErrNotFound.
func LookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	if strings.Contains(name, "/") {
		return "", fmt.Errorf("%s: %w (%v)", name, exec.ErrNotFound, err)
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p = filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", name, exec.ErrNotFound)
}

// FreePort returns a loopback TCP port that nothing listened on a moment
// ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ClosedPort returns a loopback port that nothing listens on, for tests of
// what a client does when no server answers.
func ClosedPort(tb testing.TB) int {
	tb.Helper()
	port, err := FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	return port
}
