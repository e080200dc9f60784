// Package redistest runs Redis servers for tests: redis-server on a free
// loopback port, without persistence, and a new key prefix for each store.
// When redis-server is not installed, tests skip, or fail under
// KNOT_REQUIRE_ENGINES=1 (see shared/testenv).
//
// The tests of a package share one server, started by the first test that
// needs it; the package's TestMain calls StopShared when the tests end.
// Tests that need a server of their own (with a password, or as a node of a
// cluster) start one with MustStart.
package redistest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/knot-dev/knot/shared/testenv"
	"github.com/knot-dev/knot/storage/redis"
)

// Server is a running redis-server.
type Server struct {
	// Port is the server's loopback port.
	Port int
	// Addr is "127.0.0.1:Port".
	Addr string
	// Admin is a client of the server, nil when the server wants a
	// password.
	Admin *goredis.Client

	proc    *testenv.Process
	counter atomic.Int64
}

// Program is the server program that Start runs.
const Program = "redis-server"

// Start starts a server of its own with args added to its command line;
// the caller stops it with Stop. When redis-server is not installed, the
// error wraps exec.ErrNotFound.
func Start(args ...string) (*Server, error) {
	p, err := testenv.StartProcess(testenv.ProcessOptions{
		Program: Program,
		Args: func(port int, dir string) []string {
			return append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
				"--appendonly", "no", "--dir", dir, "--logfile", "", "--daemonize", "no"}, args...)
		},
		Ready: func(ctx context.Context, port int) error {
			c := client(port)
			defer c.Close()
			err := c.Ping(ctx).Err()
			if err != nil && strings.HasPrefix(err.Error(), "NOAUTH") {
				return nil // a refused login is an answer
			}
			return err
		},
	})
	if err != nil {
		return nil, err
	}
	s := &Server{Port: p.Port, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)), proc: p}
	c := client(p.Port)
	if err := c.Ping(context.Background()).Err(); err != nil {
		c.Close()
	} else {
		s.Admin = c
	}
	return s, nil
}

func client(port int) *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Protocol: 2, MaxRetries: -1})
}

// MustStart starts a server for tb alone, with args added to its command
// line, and stops it when tb ends.
func MustStart(tb testing.TB, args ...string) *Server {
	tb.Helper()
	s, err := Start(args...)
	testenv.CheckStart(tb, Program, err)
	tb.Cleanup(s.Stop)
	return s
}

// Stop closes Admin and stops the server.
func (s *Server) Stop() {
	if s.Admin != nil {
		s.Admin.Close()
	}
	s.proc.Stop()
}

// Options returns the options that open the store under prefix on the
// server.
func (s *Server) Options(prefix string) redis.Options {
	return redis.Options{Hosts: []string{s.Addr}, KeyPrefix: prefix}
}

// NewPrefix returns a key prefix that no test used, whose keys are deleted
// when tb ends (after the stores opened later in tb are closed).
func (s *Server) NewPrefix(tb testing.TB) string {
	tb.Helper()
	prefix := fmt.Sprintf("test%d", s.counter.Add(1))
	tb.Cleanup(func() {
		ctx := context.Background()
		keys, err := s.Admin.Keys(ctx, "{"+prefix+"}:*").Result()
		if err == nil && len(keys) > 0 {
			err = s.Admin.Del(ctx, keys...).Err()
		}
		if err != nil {
			tb.Errorf("delete the keys of %s: %v", prefix, err)
		}
	})
	return prefix
}

var shared testenv.Once[*Server]

// Shared returns the server that the tests of this process share, starting
// it on first use. A missing redis-server skips tb (or fails it under
// KNOT_REQUIRE_ENGINES=1); a server that does not start fails tb.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	return shared.Get(tb, Program, func() (*Server, error) { return Start() })
}

// StopShared stops the shared server, if one was started; TestMain calls it
// when the tests end.
func StopShared() { shared.Stop((*Server).Stop) }
