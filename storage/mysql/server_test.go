package mysql_test

import (
	"context"
	"flag"
	"os"
	"testing"

	"github.com/knot-dev/knot/storage/mysql"
	"github.com/knot-dev/knot/storage/mysql/mysqltest"
)

// The tests share one MariaDB server (mysqltest.Shared); every store gets a
// database of its own.

func TestMain(m *testing.M) {
	flag.Parse()
	// Under -fuzz the fuzzing workers are processes of their own, which
	// must answer the coordinator within seconds: the coordinator starts
	// the server up front and hands it down to them.
	if fuzz, worker := flag.Lookup("test.fuzz"), flag.Lookup("test.fuzzworker"); fuzz != nil && fuzz.Value.String() != "" &&
		(worker == nil || worker.Value.String() != "true") {
		mysqltest.Share()
	}
	code := m.Run()
	mysqltest.StopShared()
	os.Exit(code)
}

// options returns the options that open database on the test server.
func options(t testing.TB, database string) mysql.Options {
	return mysqltest.Shared(t).Options(database)
}

// newDatabase returns the name of a database that no test used, dropped
// when t ends.
func newDatabase(t testing.TB) string {
	t.Helper()
	return mysqltest.Shared(t).NewDatabase(t)
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
	mysqltest.Shared(t).Exec(t, query, args...)
}
