package leaf_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage/badger"
)

// A leaf's first snapshot of a large origin (here 3,000 templates of 2 KB,
// 6 MB) is more than BadgerDB holds in one transaction; a leaf on BadgerDB,
// the default store, applies it all the same.
func TestLeafOnBadgerAppliesASnapshotBiggerThanATransaction(t *testing.T) {
	const n = 3000
	var records []wire.Change
	for i := range n {
		id := fmt.Sprintf("t-%d", i)
		data, err := json.Marshal(&shared.Template{Meta: shared.Meta{ID: id, Revision: int64(i + 1)}, Name: id, Kind: shared.TemplateContainer, Spec: strings.Repeat("x", 2048)})
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, wire.Change{Kind: shared.KindTemplate, ID: id, Revision: int64(i + 1), Data: data})
	}
	acks := make(chan int64, 1)
	f := newFakeOrigin(t, func(k int, c *conn) {
		if k > 1 {
			c.idle()
			return
		}
		c.send(&wire.Welcome{Protocol: 1, Epoch: "e1", Location: "eu", Mode: wire.ModeSnapshot, Head: n})
		for part := range 6 {
			c.send(&wire.Snapshot{Revision: n, Records: records[part*n/6 : (part+1)*n/6]})
		}
		c.send(&wire.SnapshotEnd{Revision: n, Count: n})
		acks <- c.expectAck()
		c.idle()
	})
	st, err := badger.Open(badger.Options{Path: t.TempDir(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // runs after runLeaf's, which stops the leaf
	runLeaf(t, st, leaf.Options{OriginURL: f.srv.URL})
	if a := <-acks; a != n {
		t.Fatalf("ack %d after the snapshot, want %d", a, n)
	}
	ctx := context.Background()
	if cs, err := st.List(ctx, shared.KindTemplate); err != nil || len(cs) != n {
		t.Fatalf("the leaf holds %d templates, %v; want %d", len(cs), err, n)
	}
	if epoch, applied, err := st.Replica(ctx); err != nil || epoch != "e1" || applied != n {
		t.Fatalf("replica (%q, %d), %v; want (e1, %d)", epoch, applied, err, n)
	}
}
