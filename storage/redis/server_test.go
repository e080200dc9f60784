package redis_test

import (
	"context"
	"os"
	"testing"

	"github.com/knot-dev/knot/storage/redis"
	"github.com/knot-dev/knot/storage/redis/redistest"
)

// The tests share one redis-server (redistest.Shared); every store gets a
// key prefix of its own.

func TestMain(m *testing.M) {
	code := m.Run()
	redistest.StopShared()
	os.Exit(code)
}

// options returns the options that open the store under prefix on the test
// server.
func options(t testing.TB, prefix string) redis.Options {
	return redistest.Shared(t).Options(prefix)
}

// newPrefix returns a key prefix that no test used, whose keys are deleted
// when t ends.
func newPrefix(t testing.TB) string {
	t.Helper()
	return redistest.Shared(t).NewPrefix(t)
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
