package origin

import (
	"fmt"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
)

func TestFleetTableKeepsItsBounds(t *testing.T) {
	ft := newFleetTable()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 1000 {
		node := fmt.Sprint("n", i)
		ft.connect(shared.LeafNode{NodeID: node, Location: "owner", Connected: true})
		ft.disconnect(node, "owner", now)
	}
	if len(ft.nodes) != maxGonePerLocation || ft.get("n999") == nil || ft.get("n995") != nil {
		t.Fatalf("one location: %d nodes kept (n999 %t, n995 %t), want the newest %d", len(ft.nodes), ft.get("n999") != nil, ft.get("n995") != nil, maxGonePerLocation)
	}
	for i := range maxGoneNodes + 100 {
		node, loc := fmt.Sprint("m", i), fmt.Sprint("loc", i)
		ft.connect(shared.LeafNode{NodeID: node, Location: loc, Connected: true})
		ft.disconnect(node, loc, now.Add(time.Duration(i)))
	}
	if len(ft.nodes) != maxGoneNodes || ft.gone.Len() != maxGoneNodes || len(ft.byLoc) != maxGoneNodes {
		t.Fatalf("many locations: %d nodes, %d gone, %d locations; want %d", len(ft.nodes), ft.gone.Len(), len(ft.byLoc), maxGoneNodes)
	}
	ft.expire(now.Add(time.Hour))
	if len(ft.nodes) != 0 || ft.gone.Len() != 0 || len(ft.byLoc) != 0 {
		t.Fatalf("after expiry: %d nodes, %d gone, %d locations", len(ft.nodes), ft.gone.Len(), len(ft.byLoc))
	}
}

func TestFleetTableReconnectKeepsTheNode(t *testing.T) {
	ft := newFleetTable()
	now := time.Now()
	ft.connect(shared.LeafNode{NodeID: "a", Location: "eu", Connected: true})
	ft.disconnect("a", "eu", now)
	ft.connect(shared.LeafNode{NodeID: "a", Location: "eu", Connected: true})
	ft.expire(now.Add(time.Hour))
	if in := ft.get("a"); in == nil || !in.Connected || ft.gone.Len() != 0 {
		t.Fatalf("a reconnected node: %+v, %d gone", in, ft.gone.Len())
	}
}

func TestAuditIndexKeepsItsBounds(t *testing.T) {
	var x auditIndex
	for i := range 1000 {
		x.set(auditKey{"owner", fmt.Sprint("s", i)}, int64(i))
	}
	if x.len() != maxAuditStoresPerLocation || x.get(auditKey{"owner", "s999"}) != 999 || x.get(auditKey{"owner", "s0"}) != 0 {
		t.Fatalf("one location: %d stores", x.len())
	}
	for i := range maxAuditStores + 50 {
		x.set(auditKey{fmt.Sprint("loc", i), "s"}, 1)
	}
	if x.len() != maxAuditStores || len(x.byLoc) != maxAuditStores {
		t.Fatalf("many locations: %d stores, %d locations; want %d", x.len(), len(x.byLoc), maxAuditStores)
	}
}

func TestBucket(t *testing.T) {
	var b bucket
	now := time.Now()
	if !b.take(now, 10, 1, 10) || b.take(now, 1, 1, 10) {
		t.Fatal("a full bucket of 10 gives 10 and then none")
	}
	if !b.take(now.Add(2*time.Second), 2, 1, 10) || b.take(now.Add(2*time.Second), 1, 1, 10) {
		t.Fatal("two seconds at one a second give two")
	}
	if b.take(now.Add(time.Hour), 11, 1, 10) || !b.take(now.Add(time.Hour), 10, 1, 10) {
		t.Fatal("the bucket holds at most its burst, and a take of more than it holds takes nothing")
	}
}
