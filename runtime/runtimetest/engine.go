package runtimetest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	dockerclient "github.com/docker/docker/client"
)

// TestImage is the reference of the image every Engine gets: busybox (from
// Debian's busybox-static) and nothing else, an ordinary image that knows
// nothing of knot. Its default command, ServeCommand, waits until it is
// stopped and then exits 0.
const TestImage = "knot-test:latest"

// ServeCommand is the default command of TestImage.
var ServeCommand = []string{"sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait; done"}

// MissingImage names an image that no engine here has and none can pull.
// Its registry is 127.0.0.1:1, where nothing listens: the pull fails at once
// with "connection refused", and the engine never asks the machine's
// resolver for anything, as a registry given by name would make it.
const MissingImage = "127.0.0.1:1/knot/missing:1"

// Engine is a private Docker or Podman daemon started for a test package:
// its own socket, data and state in a temporary directory, no bridge, no
// iptables, and the test image imported. Close stops it and removes
// everything. Start one per package in TestMain, not one per test.
type Engine struct {
	Name   string // "docker" or "podman"
	Host   string // the API address, "unix://<dir>/<name>.sock"
	Socket string // the socket's path
	Image  string // TestImage
	Dir    string

	cmd  *exec.Cmd
	done chan error
	log  string

	closeOnce sync.Once
	closeErr  error
}

// StartDocker starts a private dockerd. It returns an error saying why when
// it cannot (not installed, not root, does not come up); the caller passes
// it to testenv.Missing.
func StartDocker(ctx context.Context) (*Engine, error) {
	bin, err := exec.LookPath("dockerd")
	if err != nil {
		return nil, fmt.Errorf("dockerd is not installed (run .ci/engines.sh): %w", err)
	}
	e, err := newEngine("docker")
	if err != nil {
		return nil, err
	}
	e.cmd = exec.Command(bin,
		"--host", e.Host,
		"--data-root", filepath.Join(e.Dir, "data"),
		"--exec-root", filepath.Join(e.Dir, "exec"),
		"--pidfile", filepath.Join(e.Dir, "docker.pid"),
		"--iptables=false", "--ip6tables=false", "--bridge=none",
		"--log-level=warn",
	)
	if err := e.start(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// StartPodman starts a private "podman system service" that speaks the
// Docker API, with runc and ulimits that work on the build machines.
func StartPodman(ctx context.Context) (*Engine, error) {
	bin, err := exec.LookPath("podman")
	if err != nil {
		return nil, fmt.Errorf("podman is not installed (run .ci/engines.sh): %w", err)
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return nil, fmt.Errorf("runc is not installed (run .ci/engines.sh): %w", err)
	}
	e, err := newEngine("podman")
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(e.Dir, "containers.conf")
	err = os.WriteFile(conf, []byte(`[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`), 0o644)
	if err != nil {
		e.cleanup()
		return nil, err
	}
	e.cmd = exec.Command(bin,
		"--root", filepath.Join(e.Dir, "root"),
		"--runroot", filepath.Join(e.Dir, "runroot"),
		"--tmpdir", filepath.Join(e.Dir, "tmp"),
		"--volumepath", filepath.Join(e.Dir, "volumes"),
		"--log-level=warn",
		"system", "service", "--time=0", e.Host,
	)
	e.cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+conf)
	if err := e.start(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

func newEngine(name string) (*Engine, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("a private %s needs root", name)
	}
	dir, err := os.MkdirTemp("", "knot-"+name+"-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, name+".sock")
	return &Engine{Name: name, Host: "unix://" + sock, Socket: sock, Image: TestImage, Dir: dir, log: filepath.Join(dir, name+".log")}, nil
}

func (e *Engine) start(ctx context.Context) error {
	logf, err := os.Create(e.log)
	if err != nil {
		e.cleanup()
		return err
	}
	e.cmd.Stdout, e.cmd.Stderr = logf, logf
	// The daemon dies with the test binary even if Close is never reached.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := e.cmd.Start(); err != nil {
		logf.Close()
		e.cleanup()
		return fmt.Errorf("starting %s: %w", e.Name, err)
	}
	e.done = make(chan error, 1)
	go func() { e.done <- e.cmd.Wait(); logf.Close() }()

	cli, err := e.Client()
	if err != nil {
		e.Close()
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := cli.Ping(ctx)
		if err == nil {
			break
		}
		select {
		case werr := <-e.done:
			e.done <- werr
			tail := e.tail()
			e.Close()
			return fmt.Errorf("%s exited at start (%v): %s", e.Name, werr, tail)
		case <-ctx.Done():
			tail := e.tail()
			e.Close()
			return fmt.Errorf("%s did not answer within 60s: %v: %s", e.Name, err, tail)
		case <-tick.C:
		}
	}
	if err := e.importImage(ctx, cli); err != nil {
		e.Close()
		return fmt.Errorf("importing the test image into %s: %w", e.Name, err)
	}
	return nil
}

// tail returns the end of the daemon's log.
func (e *Engine) tail() string {
	b, _ := os.ReadFile(e.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// Client returns a new API client for the engine.
func (e *Engine) Client() (*dockerclient.Client, error) {
	return dockerclient.NewClientWithOpts(dockerclient.WithHost(e.Host), dockerclient.WithAPIVersionNegotiation())
}

// Close removes every container, stops the daemon and deletes its
// directory. Closing again returns the first result.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() { e.closeErr = e.close() })
	return e.closeErr
}

func (e *Engine) close() error {
	if e.cmd == nil || e.cmd.Process == nil {
		return e.cleanup()
	}
	if cli, err := e.Client(); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if list, err := cli.ContainerList(ctx, container.ListOptions{All: true}); err == nil {
			for _, c := range list {
				cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
			}
		}
		cancel()
		cli.Close()
	}
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(30 * time.Second):
		syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-e.done:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("%s (pid %d) did not exit; %s is left behind", e.Name, e.cmd.Process.Pid, e.Dir)
		}
	}
	e.killStragglers()
	return e.cleanup()
}

// killStragglers kills what the daemon started and left running: Podman's
// conmon processes of exec sessions linger for minutes after the service
// stops. They are found by the engine's directory on their command line.
func (e *Engine) killStragglers() {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(e.Dir+"/")) {
			continue
		}
		var pid int
		if _, err := fmt.Sscanf(p, "/proc/%d/cmdline", &pid); err == nil && pid != os.Getpid() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// cleanup unmounts whatever the daemon left mounted under its directory and
// removes it. Podman's cleanup processes may still be mounting its storage
// for a moment after the service stops, so it tries for a few seconds.
func (e *Engine) cleanup() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if mounts, err := mountsUnder(e.Dir); err == nil {
			for i := len(mounts) - 1; i >= 0; i-- {
				syscall.Unmount(mounts[i], syscall.MNT_DETACH)
			}
		}
		err := os.RemoveAll(e.Dir)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond) // polling for stray mounts to go
	}
}

func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			out = append(out, fields[4])
		}
	}
	return out, sc.Err()
}

// knot is knot's own binary, built once per test binary.
var knot struct {
	once sync.Once
	path string
	err  error
}

// Knot returns the host path of knot's own static binary (CGO_ENABLED=0),
// to be injected into spaces as the agent. It is built from this tree once
// per test binary, into a temporary directory of its own that outlives
// every engine (engines are closed as their tests end, and a binary kept in
// the first one's directory went with it). When the tree does not
// build, t fails with the compiler's output: that is a fault to fix, not a
// component to skip.
func (e *Engine) Knot(t testing.TB) string {
	t.Helper()
	knot.once.Do(func() { knot.path, knot.err = buildKnot() })
	if knot.err != nil {
		t.Fatal(knot.err)
	}
	return knot.path
}

func buildKnot() (string, error) {
	_, file, _, ok := goruntime.Caller(0)
	if !ok {
		return "", errors.New("cannot find the knot sources")
	}
	// Built once per test process and shared by its engines, so it lives in
	// a directory of its own, not in the first engine's, which goes with it.
	dir, err := os.MkdirTemp("", "knot-static-")
	if err != nil {
		return "", err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(goruntime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(dir, "knot")
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", out, "github.com/knot-dev/knot/cmd/knot")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building knot (CGO_ENABLED=0 go build github.com/knot-dev/knot/cmd/knot): %v\n%s", err, b)
	}
	return out, nil
}

// busyboxPath finds Debian's static busybox.
func busyboxPath() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			out, _ := exec.Command("file", "-L", p).Output()
			if len(out) > 0 && !bytes.Contains(out, []byte("statically linked")) && !bytes.Contains(out, []byte("static-pie")) {
				continue
			}
			return p, nil
		}
	}
	return "", errors.New("busybox-static is not installed (run .ci/engines.sh)")
}

// RootFS writes a root filesystem tarball: busybox with a link for each of
// its applets in /bin, and the usual empty directories.
func RootFS(w io.Writer) error {
	bb, err := busyboxPath()
	if err != nil {
		return err
	}
	applets, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	tw := tar.NewWriter(w)
	now := time.Now()
	dirs := []string{"bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "var", "data"}
	for _, d := range dirs {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode, ModTime: now}); err != nil {
			return err
		}
	}
	addFile := func(name, src string, mode int64, data []byte) error {
		if src != "" {
			b, err := os.ReadFile(src)
			if err != nil {
				return err
			}
			data = b
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: now}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := addFile("bin/busybox", bb, 0o755, nil); err != nil {
		return err
	}
	if err := addFile("etc/passwd", "", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\n")); err != nil {
		return err
	}
	if err := addFile("etc/group", "", 0o644, []byte("root:x:0:\n")); err != nil {
		return err
	}
	for _, a := range strings.Fields(string(applets)) {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", ModTime: now}); err != nil {
			return err
		}
	}
	return tw.Close()
}

// importImage imports the test root filesystem as TestImage.
func (e *Engine) importImage(ctx context.Context, cli *dockerclient.Client) error {
	var buf bytes.Buffer
	if err := RootFS(&buf); err != nil {
		return err
	}
	cmd, err := json.Marshal(ServeCommand)
	if err != nil {
		return err
	}
	rc, err := cli.ImageImport(ctx, image.ImportSource{Source: &buf, SourceName: "-"}, TestImage, image.ImportOptions{
		Changes: []string{"CMD " + string(cmd)},
	})
	if err != nil {
		return err
	}
	out, _ := io.ReadAll(rc)
	rc.Close()
	if bytes.Contains(out, []byte(`"error"`)) {
		return fmt.Errorf("%s", out)
	}
	if _, err := cli.ImageInspect(ctx, TestImage); err != nil {
		return fmt.Errorf("the imported image is not there: %w (import said %s)", err, out)
	}
	return nil
}
