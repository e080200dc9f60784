package badger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/testenv"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/badger"
)

// A batch from an origin that would take the disk below the free space the
// store keeps is refused whole with ENOSPACE, though the disk is above it;
// smaller writes go on.
func TestABatchThatWouldFillTheDiskIsRefused(t *testing.T) {
	dir := testenv.SmallDisk(t)
	s, err := badger.Open(badger.Options{Path: dir, MinFree: 24 << 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	spec := strings.Repeat("x", 1<<20)
	b := storage.Batch{Epoch: "E1", Applied: 15}
	for i := range 15 {
		tpl := &shared.Template{Meta: shared.Meta{ID: fmt.Sprintf("big-%d", i), Revision: int64(i + 1)}, Name: fmt.Sprintf("big-%d", i), Kind: shared.TemplateContainer, Spec: spec}
		data, _ := json.Marshal(tpl)
		b.Changes = append(b.Changes, shared.Change{Kind: shared.KindTemplate, ID: tpl.ID, Revision: tpl.Revision, Data: data})
	}
	err = s.Apply(ctx, b)
	if shared.ErrorCode(err) != shared.ENOSPACE || !strings.Contains(shared.ErrorMessage(err), "24.0 MiB") {
		t.Fatalf("a batch of 15 MiB on a disk of 64 MiB that keeps 24 MiB free: %v; want ENOSPACE naming the 24 MiB", err)
	}
	if epoch, applied, _ := s.Replica(ctx); epoch != "" || applied != 0 {
		t.Fatalf("the refused batch left the replica at %s/%d", epoch, applied)
	}
	if err := s.Put(ctx, &shared.Group{Meta: shared.Meta{ID: "g"}, Name: "g"}); err != nil {
		t.Fatalf("a small write after the refused batch: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping while the disk is above the watermark: %v", err)
	}
}

// A transaction's writes are refused with ENOSPACE below the watermark, and
// nothing of them is written; one that only reads goes on.
func TestATransactionBelowTheWatermarkIsRefused(t *testing.T) {
	dir := testenv.SmallDisk(t)
	s, err := badger.Open(badger.Options{Path: dir, MinFree: 24 << 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	if err := s.Put(ctx, &shared.Group{Meta: shared.Meta{ID: "g"}, Name: "g"}); err != nil {
		t.Fatal(err)
	}
	// Leave less than 24 MiB of the 64 MiB free.
	if err := os.WriteFile(dir+"/filler", make([]byte, 48<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	head, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx storage.Tx) error {
		return tx.Put(ctx, &shared.Group{Meta: shared.Meta{ID: "h"}, Name: "h"})
	})
	if shared.ErrorCode(err) != shared.ENOSPACE {
		t.Fatalf("a transaction below the watermark: %v; want ENOSPACE", err)
	}
	if after, _ := s.Head(ctx); after.Revision != head.Revision {
		t.Fatalf("the refused transaction moved the revision from %d to %d", head.Revision, after.Revision)
	}
	if _, err := s.Get(ctx, shared.KindGroup, "h"); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Fatalf("the refused transaction's group: %v; want ENOTFOUND", err)
	}
	err = s.Update(ctx, func(tx storage.Tx) error {
		_, err := tx.Get(ctx, shared.KindGroup, "g")
		return err
	})
	if err != nil {
		t.Fatalf("a transaction that only reads, below the watermark: %v", err)
	}
}
