// Package mysqltest runs MariaDB servers for tests: a new data directory,
// mariadbd on a free loopback port, and a new database for each store. When
// mariadbd or mariadb-install-db is not installed, tests skip, or fail under
// KNOT_REQUIRE_ENGINES=1 (see shared/testenv).
//
// The tests of a package share one server, started by the first test that
// needs it; the package's TestMain calls StopShared when the tests end.
package mysqltest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/knot-dev/knot/shared/testenv"
	"github.com/knot-dev/knot/storage/mysql"
)

// Server is a running MariaDB server that lets root log in from 127.0.0.1
// without a password.
type Server struct {
	// Port is the server's loopback port.
	Port int
	// Admin is a connection pool logged in as root, with no database.
	Admin *sql.DB

	proc    *testenv.Process // nil when the server belongs to another process
	counter atomic.Int64
}

// Program is the server program that Start runs.
const Program = "mariadbd"

// Start starts a server of its own; the caller stops it with Stop. When a
// MariaDB program is not installed, the error wraps exec.ErrNotFound.
func Start() (*Server, error) {
	me, err := user.Current()
	if err != nil {
		return nil, err
	}
	common := func(dir string) []string {
		return []string{"--no-defaults", "--datadir=" + filepath.Join(dir, "data"), "--user=" + me.Username}
	}
	p, err := testenv.StartProcess(testenv.ProcessOptions{
		Program: Program,
		Setup: func(ctx context.Context, dir string) error {
			_, err := testenv.Run(ctx, "mariadb-install-db", append(common(dir),
				"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve")...)
			return err
		},
		Args: func(port int, dir string) []string {
			return append(common(dir),
				"--port="+strconv.Itoa(port), "--bind-address=127.0.0.1", "--skip-name-resolve",
				"--socket="+filepath.Join(dir, "mysqld.sock"), "--pid-file="+filepath.Join(dir, "mysqld.pid"),
				"--skip-log-bin", "--innodb-buffer-pool-size=64M",
				"--max-connections=500", "--max-allowed-packet=4M")
		},
		Ready: func(ctx context.Context, port int) error {
			db, err := connect(port)
			if err != nil {
				return err
			}
			defer db.Close()
			return db.PingContext(ctx)
		},
	})
	if err != nil {
		return nil, err
	}
	s := &Server{Port: p.Port, proc: p}
	if s.Admin, err = connect(p.Port); err != nil {
		p.Stop()
		return nil, err
	}
	return s, nil
}

// connect returns a pool logged in as root to the server on port.
func connect(port int) (*sql.DB, error) {
	cfg := gomysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfg.Logger = &gomysql.NopLogger{}
	conn, err := gomysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// MustStart starts a server for tb alone and stops it when tb ends.
func MustStart(tb testing.TB) *Server {
	tb.Helper()
	s, err := Start()
	testenv.CheckStart(tb, Program, err)
	tb.Cleanup(s.Stop)
	return s
}

// Stop closes Admin and stops the server, if it is this process's own.
func (s *Server) Stop() {
	s.Admin.Close()
	if s.proc != nil {
		s.proc.Stop()
	}
}

// Options returns the options that open database on the server as root.
func (s *Server) Options(database string) mysql.Options {
	return mysql.Options{Host: "127.0.0.1", Port: s.Port, User: "root", Database: database}
}

// NewDatabase returns the name of a database that no test used, dropped
// when tb ends (after the stores opened later in tb are closed). The
// database itself is left to the store to create.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	// The process id keeps apart the databases of processes that share
	// the server, such as fuzzing workers.
	name := fmt.Sprintf("knot_test_%d_%d", os.Getpid(), s.counter.Add(1))
	tb.Cleanup(func() {
		if _, err := s.Admin.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	return name
}

// Exec runs a statement on the server as root and fails tb if it fails.
func (s *Server) Exec(tb testing.TB, query string, args ...any) {
	tb.Helper()
	if _, err := s.Admin.Exec(query, args...); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
}

// PortVar hands a shared server down to child processes of the tests
// (fuzzing workers): Share sets it, and Shared in a process that finds it
// uses that server instead of starting one.
const PortVar = "KNOT_TEST_MARIADB_PORT"

var shared testenv.Once[*Server]

// Shared returns the server that the tests of this process share, starting
// it on first use. A missing MariaDB skips tb (or fails it under
// KNOT_REQUIRE_ENGINES=1); a server that does not start fails tb.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	return shared.Get(tb, Program, startShared)
}

// startShared starts the shared server, or uses the one that PortVar names.
func startShared() (*Server, error) {
	port, err := strconv.Atoi(os.Getenv(PortVar))
	if err != nil {
		return Start()
	}
	s := &Server{Port: port}
	if s.Admin, err = connect(port); err != nil {
		return nil, err
	}
	return s, nil
}

// Share starts the shared server now and sets PortVar, so that child
// processes started from now on use it too. A failure to start is left for
// Shared to report.
func Share() {
	if s, err := shared.Start(startShared); err == nil {
		os.Setenv(PortVar, strconv.Itoa(s.Port))
	}
}

// StopShared stops the shared server, if one was started; TestMain calls it
// when the tests end.
func StopShared() { shared.Stop((*Server).Stop) }
