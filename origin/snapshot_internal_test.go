package origin

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage/memory"
)

// TestTrustedSnapshotIsMadeOnceForLinksAtOneRevision: links that ask for
// the trusted snapshot at the same time, or later while the store's head
// has not moved, share one; after a write, or for the view with spaces, it
// is made again.
func TestTrustedSnapshotIsMadeOnceForLinksAtOneRevision(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	for _, id := range []string{"a", "b", "c"} {
		if err := st.Put(ctx, &shared.Group{Meta: shared.Meta{ID: id}, Name: "group-" + id}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := New(Options{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SharedTokenHash: crypt.HashToken("shared")})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- h.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-ran })
	<-h.started

	const links = 16
	got := make([]*encodedSnapshot, links)
	var wg sync.WaitGroup
	for i := range links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := h.trustedSnapshot(ctx, true)
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		}()
	}
	wg.Wait()
	first := got[0]
	if first == nil || first.count != 3 {
		t.Fatalf("snapshot %+v, want the 3 groups", first)
	}
	for i, s := range got {
		if s != first {
			t.Fatalf("link %d got a snapshot of its own; at one revision they share one", i)
		}
	}
	if s, _ := h.trustedSnapshot(ctx, true); s != first {
		t.Fatal("a link asking later, with the head where it was, got a new snapshot")
	}
	if s, _ := h.trustedSnapshot(ctx, false); s == first {
		t.Fatal("the view without spaces got the snapshot of the view with them")
	}
	if err := st.Put(ctx, &shared.Group{Meta: shared.Meta{ID: "d"}, Name: "group-d"}); err != nil {
		t.Fatal(err)
	}
	s, err := h.trustedSnapshot(ctx, true)
	if err != nil || s == first || s.count != 4 || s.head.Revision <= first.head.Revision {
		t.Fatalf("after a write: %+v, %v; want a new snapshot of 4 groups", s, err)
	}
}
