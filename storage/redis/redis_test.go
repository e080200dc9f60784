package redis_test

import (
	"sync"
	"testing"

	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store { return mustOpen(t, newPrefix(t)) })
}

func TestPersistence(t *testing.T) {
	var mu sync.Mutex
	prefixes := map[string]string{} // the suite's directories name key prefixes
	storetest.RunPersistence(t, func(t *testing.T, dir string) storage.Store {
		mu.Lock()
		p, ok := prefixes[dir]
		if !ok {
			p = newPrefix(t)
			prefixes[dir] = p
		}
		mu.Unlock()
		return mustOpen(t, p)
	})
}

func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (storage.Store, storage.Store) {
		p := newPrefix(t)
		return mustOpen(t, p), mustOpen(t, p)
	})
}

func FuzzApply(f *testing.F) {
	storetest.FuzzApply(f, func(t *testing.T) storage.Store { return mustOpen(t, newPrefix(t)) })
}
