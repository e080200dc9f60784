package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/knot-dev/knot/shared/testenv"
	"github.com/knot-dev/knot/storage/redis"
)

// The tests share one redis-server on a free loopback port, started by the
// first test that needs it and stopped when the tests end; every store gets
// a key prefix of its own. The server is tied to this process: it is killed
// when the process dies, whatever the way.

func TestMain(m *testing.M) {
	code := m.Run()
	server.stop()
	os.Exit(code)
}

var server sharedServer

// sharedServer is the server that most tests share.
type sharedServer struct {
	once    sync.Once
	err     error // why there is no server
	missing bool  // err says redis-server is not installed
	*redisProc
	counter atomic.Int64
}

// start returns the port of the server, starting it on first use. A missing
// redis-server skips the test (or fails it under KNOT_REQUIRE_ENGINES=1).
func (s *sharedServer) start(t testing.TB) int {
	t.Helper()
	s.once.Do(func() { s.redisProc, s.missing, s.err = startRedis() })
	if s.missing {
		testenv.Missing(t, "redis-server", s.err)
	}
	if s.err != nil {
		t.Fatalf("start redis-server: %v", s.err)
	}
	return s.port
}

func (s *sharedServer) stop() {
	if s.redisProc != nil {
		s.redisProc.stop()
	}
}

// mustStartRedis starts a server of the test's own with extra arguments
// and stops it when t ends.
func mustStartRedis(t *testing.T, args ...string) *redisProc {
	t.Helper()
	r, missing, err := startRedis(args...)
	if missing {
		testenv.Missing(t, "redis-server", err)
	}
	if err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(r.stop)
	return r
}

// redisProc is a running redis-server.
type redisProc struct {
	port   int
	admin  *goredis.Client
	cmd    *exec.Cmd
	exited <-chan struct{} // closed when cmd exits
	dir    string
}

// startRedis starts redis-server without persistence on a free loopback
// port, trying another port when the one it picked was taken meanwhile.
// args are added to the command line; when they set a password, admin is
// nil.
func startRedis(args ...string) (r *redisProc, missing bool, err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, true, err
	}
	r = &redisProc{}
	if r.dir, err = os.MkdirTemp("", "knot-redis-"); err != nil {
		return nil, false, err
	}
	logFile := filepath.Join(r.dir, "redis.log")
	for range 3 {
		port, err := freePort()
		if err != nil {
			r.stop()
			return nil, false, err
		}
		os.Remove(logFile)
		r.cmd = exec.Command(bin, append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
			"--appendonly", "no", "--dir", r.dir, "--logfile", logFile, "--daemonize", "no"}, args...)...)
		if r.exited, err = startTied(r.cmd); err != nil {
			r.stop()
			return nil, false, err
		}
		r.port = port
		if r.admin, err = waitReady(port, r.exited); err == nil {
			return r, false, nil
		}
		r.kill()
		log, _ := os.ReadFile(logFile)
		if !strings.Contains(string(log), "Address already in use") {
			r.stop()
			return nil, false, fmt.Errorf("%v\n%s", err, log)
		}
	}
	r.stop()
	return nil, false, errors.New("no free port after 3 tries")
}

// waitReady polls the server until it answers (a refused login is an
// answer), it exits, or a minute passes.
func waitReady(port int, exited <-chan struct{}) (*goredis.Client, error) {
	c := goredis.NewClient(&goredis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Protocol: 2, MaxRetries: -1})
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			return c, nil
		}
		if strings.HasPrefix(err.Error(), "NOAUTH") {
			c.Close()
			return nil, nil
		}
		select {
		case <-exited:
			c.Close()
			return nil, fmt.Errorf("redis-server exited before it answered: %v", err)
		case <-deadline:
			c.Close()
			return nil, fmt.Errorf("redis-server did not answer within a minute: %v", err)
		case <-tick.C:
		}
	}
}

// stop kills the server and removes its files.
func (r *redisProc) stop() {
	r.kill()
	if r.dir != "" {
		os.RemoveAll(r.dir)
	}
}

// kill kills the server's process group and waits for the server to exit.
func (r *redisProc) kill() {
	if r.admin != nil {
		r.admin.Close()
		r.admin = nil
	}
	if r.cmd != nil {
		syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.exited
		r.cmd = nil
	}
}

// startTied starts cmd in a process group of its own, from an OS thread that
// lives as long as this process: the child's parent-death signal fires when
// the thread that started it ends, so the child dies with this process, even
// when a test panics or times out. The returned channel closes when the child
// exits.
func startTied(cmd *exec.Cmd) (<-chan struct{}, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the process
		started <- cmd.Start()
		select {}
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Process.Wait()
		close(exited)
	}()
	return exited, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// options returns the options that open the store under prefix on the test
// server.
func options(t testing.TB, prefix string) redis.Options {
	return redis.Options{Hosts: []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(server.start(t)))}, KeyPrefix: prefix}
}

// newPrefix returns a key prefix that no test used, whose keys are deleted
// when t ends (after the stores opened later in t are closed).
func newPrefix(t testing.TB) string {
	t.Helper()
	server.start(t)
	prefix := fmt.Sprintf("test%d", server.counter.Add(1))
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := server.admin.Keys(ctx, "{"+prefix+"}:*").Result()
		if err == nil && len(keys) > 0 {
			err = server.admin.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("delete the keys of %s: %v", prefix, err)
		}
	})
	return prefix
}

// mustOpen opens the store under prefix and closes it when t ends.
func mustOpen(t testing.TB, prefix string) *redis.Store {
	t.Helper()
	s, err := redis.Open(context.Background(), options(t, prefix))
	if err != nil {
		t.Fatalf("open the store %s: %v", prefix, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
