package badger_test

import (
	"testing"

	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/badger"
	"github.com/knot-dev/knot/storage/storetest"
)

// mustOpen opens a store in dir and closes it when t ends.
func mustOpen(t testing.TB, dir string) *badger.Store {
	t.Helper()
	s, err := badger.Open(badger.Options{Path: dir})
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store { return mustOpen(t, t.TempDir()) })
}

func TestPersistence(t *testing.T) {
	storetest.RunPersistence(t, func(t *testing.T, dir string) storage.Store { return mustOpen(t, dir) })
}

func FuzzApply(f *testing.F) {
	storetest.FuzzApply(f, func(t *testing.T) storage.Store { return mustOpen(t, t.TempDir()) })
}
