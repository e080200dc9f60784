package badger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
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

// The biggest records the web layer takes, a template with a spec of 1 MiB,
// are written and read back, one at a time and as a batch from an origin
// that holds several: more than one transaction of the store's small
// memtables would hold, were the values not in the value log.
func TestRecordsOfAMebibyte(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	ctx := context.Background()
	spec := strings.Repeat("x", 1<<20)
	tpl := &shared.Template{Meta: shared.Meta{ID: "big-0"}, Name: "big-0", Kind: shared.TemplateContainer, Spec: spec}
	if err := s.Put(ctx, tpl); err != nil {
		t.Fatalf("put a template of 1 MiB: %v", err)
	}
	got, err := storage.Get[shared.Template](ctx, s, "big-0")
	if err != nil || got.Spec != spec {
		t.Fatalf("get the template of 1 MiB: %v", err)
	}

	leaf := mustOpen(t, t.TempDir())
	b := storage.Batch{Epoch: "E1", Applied: 4}
	for i := range 4 {
		tpl := &shared.Template{Meta: shared.Meta{ID: fmt.Sprintf("big-%d", i), Revision: int64(i + 1)}, Name: fmt.Sprintf("big-%d", i), Kind: shared.TemplateContainer, Spec: spec}
		data, err := json.Marshal(tpl)
		if err != nil {
			t.Fatal(err)
		}
		b.Changes = append(b.Changes, shared.Change{Kind: shared.KindTemplate, ID: tpl.ID, Revision: tpl.Revision, Data: data})
	}
	if err := leaf.Apply(ctx, b); err != nil {
		t.Fatalf("apply 4 templates of 1 MiB: %v", err)
	}
	for i := range 4 {
		got, err := storage.Get[shared.Template](ctx, leaf, fmt.Sprintf("big-%d", i))
		if err != nil || got.Spec != spec {
			t.Fatalf("template big-%d after the batch: %v", i, err)
		}
	}
}
