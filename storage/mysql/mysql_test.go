package mysql_test

import (
	"testing"

	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store { return mustOpen(t, newDatabase(t)) })
}

func TestPersistence(t *testing.T) {
	storetest.RunPersistence(t, storetest.Named(
		func(t *testing.T) string { return newDatabase(t) },
		func(t *testing.T, db string) storage.Store { return mustOpen(t, db) }))
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
