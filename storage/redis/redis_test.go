package redis_test

import (
	"testing"

	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store { return mustOpen(t, newPrefix(t)) })
}

func TestPersistence(t *testing.T) {
	storetest.RunPersistence(t, storetest.Named(
		func(t *testing.T) string { return newPrefix(t) },
		func(t *testing.T, p string) storage.Store { return mustOpen(t, p) }))
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
