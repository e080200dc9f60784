package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/knot-dev/knot/shared/testenv"
	"github.com/knot-dev/knot/storage/mysql"
)

// The tests share one MariaDB server on a free loopback port, started by the
// first test that needs it and stopped when the tests end; every store gets
// a database of its own. The server is tied to this process: it is killed
// when the process dies, whatever the way.

func TestMain(m *testing.M) {
	flag.Parse()
	// Under -fuzz the fuzzing workers are processes of their own, which
	// must answer the coordinator within seconds: the coordinator starts
	// the server up front and hands its port down through the environment.
	if fuzz, worker := flag.Lookup("test.fuzz"), flag.Lookup("test.fuzzworker"); fuzz != nil && fuzz.Value.String() != "" &&
		(worker == nil || worker.Value.String() != "true") {
		server.once.Do(func() {
			if server.missing, server.err = server.run(); server.err == nil {
				os.Setenv(portVar, strconv.Itoa(server.port))
			}
		})
	}
	code := m.Run()
	server.stop()
	os.Exit(code)
}

// portVar hands the coordinator's server down to fuzzing workers.
const portVar = "KNOT_TEST_MARIADB_PORT"

var server mariadb

type mariadb struct {
	once    sync.Once
	err     error // why there is no server
	missing bool  // err says a program is not installed
	port    int
	admin   *sql.DB
	cmd     *exec.Cmd
	exited  <-chan struct{} // closed when cmd exits
	dir     string
	counter atomic.Int64
}

// start returns the port of the server, starting it on first use. A missing
// program skips the test (or fails it under KNOT_REQUIRE_ENGINES=1).
func (m *mariadb) start(t testing.TB) int {
	t.Helper()
	m.once.Do(func() {
		if port, err := strconv.Atoi(os.Getenv(portVar)); err == nil {
			m.port = port
			m.admin, m.err = waitReady(port, nil)
			return
		}
		m.missing, m.err = m.run()
	})
	if m.missing {
		testenv.Missing(t, "mariadbd", m.err)
	}
	if m.err != nil {
		t.Fatalf("start mariadbd: %v", m.err)
	}
	return m.port
}

// run installs a data directory and starts mariadbd on it, trying another
// port when the one it picked was taken meanwhile.
func (m *mariadb) run() (missing bool, err error) {
	mariadbd, err := lookPath("mariadbd")
	if err != nil {
		return true, err
	}
	install, err := lookPath("mariadb-install-db")
	if err != nil {
		return true, err
	}
	me, err := user.Current()
	if err != nil {
		return false, err
	}
	if m.dir, err = os.MkdirTemp("", "knot-mariadb-"); err != nil {
		return false, err
	}
	data := filepath.Join(m.dir, "data")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, install, "--no-defaults", "--datadir="+data, "--user="+me.Username,
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if out, err := cmd.CombinedOutput(); err != nil {
		return false, fmt.Errorf("mariadb-install-db: %v\n%s", err, out)
	}
	for range 3 {
		port, err := freePort()
		if err != nil {
			return false, err
		}
		logFile := filepath.Join(m.dir, "error.log")
		os.Remove(logFile)
		m.cmd = exec.Command(mariadbd, "--no-defaults", "--datadir="+data, "--user="+me.Username,
			"--port="+strconv.Itoa(port), "--bind-address=127.0.0.1", "--skip-name-resolve",
			"--socket="+filepath.Join(m.dir, "mysqld.sock"), "--pid-file="+filepath.Join(m.dir, "mysqld.pid"),
			"--log-error="+logFile, "--skip-log-bin", "--innodb-buffer-pool-size=64M",
			"--max-connections=500", "--max-allowed-packet=4M")
		if m.exited, err = startTied(m.cmd); err != nil {
			return false, err
		}
		m.port = port
		if m.admin, err = waitReady(port, m.exited); err == nil {
			return false, nil
		}
		m.kill()
		log, _ := os.ReadFile(logFile)
		if !strings.Contains(string(log), "Address already in use") {
			return false, fmt.Errorf("%v\n%s", err, log)
		}
	}
	return false, errors.New("no free port after 3 tries")
}

// waitReady polls the server until it answers, it exits, or a minute passes.
func waitReady(port int, exited <-chan struct{}) (*sql.DB, error) {
	cfg := gomysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfg.Logger = &gomysql.NopLogger{}
	conn, err := gomysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for {
		if err = db.Ping(); err == nil {
			return db, nil
		}
		select {
		case <-exited:
			db.Close()
			return nil, fmt.Errorf("mariadbd exited before it answered: %v", err)
		case <-deadline:
			db.Close()
			return nil, fmt.Errorf("mariadbd did not answer within a minute: %v", err)
		case <-tick.C:
		}
	}
}

// stop kills the server and removes its files.
func (m *mariadb) stop() {
	m.kill()
	if m.dir != "" {
		os.RemoveAll(m.dir)
	}
}

// kill kills the server's process group and waits for the server to exit.
func (m *mariadb) kill() {
	if m.admin != nil {
		m.admin.Close()
		m.admin = nil
	}
	if m.cmd != nil {
		syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.exited
		m.cmd = nil
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

// lookPath finds a program on PATH or in the sbin directories, where Debian
// puts mariadbd and which a user's PATH often lacks.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", name, exec.ErrNotFound)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// options returns the options that open database on the test server.
func options(t testing.TB, database string) mysql.Options {
	return mysql.Options{Host: "127.0.0.1", Port: server.start(t), User: "root", Database: database}
}

// newDatabase returns the name of a database that no test used, dropped
// when t ends (after the stores opened later in t are closed).
func newDatabase(t testing.TB) string {
	t.Helper()
	server.start(t)
	// The process id keeps apart the databases of fuzzing workers, which
	// share one server.
	name := fmt.Sprintf("knot_test_%d_%d", os.Getpid(), server.counter.Add(1))
	t.Cleanup(func() {
		if _, err := server.admin.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return name
}

// mustOpen opens the store in database and closes it when t ends.
func mustOpen(t testing.TB, database string) *mysql.Store {
	t.Helper()
	s, err := mysql.Open(context.Background(), options(t, database))
	if err != nil {
		t.Fatalf("open database %s: %v", database, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// admin runs a statement on the test server as root.
func admin(t testing.TB, query string, args ...any) {
	t.Helper()
	if _, err := server.admin.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
