package mysql_test

import (
	"sync"
	"testing"

	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store { return mustOpen(t, newDatabase(t)) })
}

func TestPersistence(t *testing.T) {
	var mu sync.Mutex
	databases := map[string]string{} // the suite's directories name databases
	storetest.RunPersistence(t, func(t *testing.T, dir string) storage.Store {
		mu.Lock()
		db, ok := databases[dir]
		if !ok {
			db = newDatabase(t)
			databases[dir] = db
		}
		mu.Unlock()
		return mustOpen(t, db)
	})
}

func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (storage.Store, storage.Store) {
		db := newDatabase(t)
		return mustOpen(t, db), mustOpen(t, db)
	})
}

func FuzzApply(f *testing.F) {
	storetest.FuzzApply(f, func(t *testing.T) storage.Store { return mustOpen(t, newDatabase(t)) })
}
