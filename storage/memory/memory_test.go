package memory_test

import (
	"testing"

	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/storage/storetest"
)

func open(t *testing.T) storage.Store {
	s := memory.New()
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) { storetest.Run(t, open) }

func FuzzApply(f *testing.F) { storetest.FuzzApply(f, open) }
