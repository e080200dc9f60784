package redis_test

import (
	"testing"

	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/storetest"
)

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) storage.Store { return mustOpen(b, newPrefix(b)) })
}
