package origin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
)

// seededStore returns a memory store holding the test credentials: the
// owner's API token (ownerSecret) and a leaf token of location us.
func seededStore(t *testing.T) storage.Store {
	st := memory.New()
	(&workload{t: t, ctx: context.Background()}).seedCredentials(st)
	return st
}

func TestHelloOverItsBoundsIsRefusedWithTheReason(t *testing.T) {
	o := startOrigin(t, seededStore(t), origin.Options{EnableLeafAPITokens: true})
	runtimes := make([]string, 100000)
	for i := range runtimes {
		runtimes[i] = fmt.Sprintf("runtime-%d", i)
	}
	rt, _ := json.Marshal(runtimes)
	base := `{"type":"hello","node_id":"n","location":"user:owner","version":"1","protocol_min":1,"protocol_max":4`
	for _, tt := range []struct{ name, hello, want string }{
		{"MegabytesOfRuntimes", base + `,"runtimes":` + string(rt) + `}`, "hello: runtimes has 100000 entries, more than 8"},
		{"LongVersion", strings.Replace(base, `"version":"1"`, `"version":"`+strings.Repeat("v", 1<<20)+`"`, 1) + `}`, "hello: version is 1048576 bytes, longer than 64"},
		{"LongNodeID", strings.Replace(base, `"node_id":"n"`, `"node_id":"`+strings.Repeat("n", 100000)+`"`, 1) + `}`, "hello: node_id is longer than 256 bytes"},
		{"LongEpoch", base + `,"epoch":"` + strings.Repeat("e", 5000) + `"}`, "hello: epoch is 5000 bytes, longer than 128"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := mustDialRaw(t, o, ownerSecret)
			r.sendRaw([]byte(tt.hello))
			r.expectClose(wire.CloseMalformed, tt.want)
			if n := len(o.hub().Leaves()); n != 0 {
				t.Errorf("the fleet lists %d leaves after a refused hello", n)
			}
		})
	}
}

// disconnected waits until the fleet lists node as disconnected.
func disconnected(t *testing.T, h *origin.Hub, node string) {
	t.Helper()
	eventually(t, 5*time.Second, func() string {
		for _, in := range h.Leaves() {
			if in.NodeID == node && !in.Connected {
				return ""
			}
		}
		return "node " + node + " is not listed as disconnected"
	})
}

func TestReconnectsUnderFreshNodeIDsDoNotGrowTheFleet(t *testing.T) {
	o := startOrigin(t, seededStore(t), origin.Options{EnableLeafAPITokens: true})
	for i := range 25 {
		node := fmt.Sprintf("fresh-node-%d", i)
		r := mustDialRaw(t, o, ownerSecret)
		h := hello(node, "user:owner", "", 0)
		h.Runtimes = []string{"docker", "podman"}
		r.welcome(h)
		r.c.CloseNow()
		disconnected(t, o.hub(), node)
	}
	leaves := o.hub().Leaves()
	if len(leaves) > 5 {
		t.Fatalf("the fleet lists %d nodes of location owner after 25 reconnects under fresh node ids, want at most 5", len(leaves))
	}
	if leaves[len(leaves)-1].NodeID != "fresh-node-24" && leaves[0].NodeID != "fresh-node-24" {
		var ids []string
		for _, in := range leaves {
			ids = append(ids, in.NodeID)
		}
		t.Errorf("the latest node is not listed: %v", ids)
	}
}

func TestDisconnectedLeavesAreForgottenAfterForgetAfter(t *testing.T) {
	clk := newClock()
	o := startOrigin(t, seededStore(t), origin.Options{Now: clk.Now, ForgetAfter: time.Hour})
	r := mustDialRaw(t, o, sharedToken)
	r.welcome(hello("node-eu", "eu", "", 0))
	r.c.CloseNow()
	disconnected(t, o.hub(), "node-eu")
	live := mustDialRaw(t, o, sharedToken)
	live.welcome(hello("node-us", "us", "", 0))

	clk.Add(59 * time.Minute)
	if n := len(o.hub().Leaves()); n != 2 {
		t.Fatalf("after 59 minutes the fleet lists %d nodes, want both", n)
	}
	clk.Add(2 * time.Minute)
	leaves := o.hub().Leaves()
	if len(leaves) != 1 || leaves[0].NodeID != "node-us" {
		t.Fatalf("after 61 minutes the fleet lists %+v, want only the connected node-us", leaves)
	}
}

// auditCountingStore counts the reads of the audit log.
type auditCountingStore struct {
	storage.Store
	lists atomic.Int64
}

func (s *auditCountingStore) ListAudit(ctx context.Context, offset, limit int) ([]shared.AuditEvent, int, error) {
	s.lists.Add(1)
	return s.Store.ListAudit(ctx, offset, limit)
}

// auditAck sends r and returns the ack.
func (r *rawLeaf) auditAck(rep *wire.AuditReport) *wire.AuditAck {
	r.t.Helper()
	r.send(rep)
	for {
		switch f := r.nextSkipping().(type) {
		case *wire.AuditAck:
			return f
		case *wire.Snapshot, *wire.SnapshotEnd, *wire.Changes:
		default:
			r.t.Fatalf("want an audit ack, got %#v", f)
		}
	}
}

func TestAuditReportsUnderFreshStoresAreBounded(t *testing.T) {
	st := &auditCountingStore{Store: seededStore(t)}
	for i := range 3 {
		if err := st.AppendAudit(context.Background(), &shared.AuditEvent{At: time.Now(), Event: fmt.Sprint("origin event ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	o := startOrigin(t, st, origin.Options{EnableLeafAPITokens: true})
	at := time.Now().UTC()
	for link := range 3 {
		node := fmt.Sprint("node-", link)
		r := mustDialRaw(t, o, ownerSecret)
		r.welcome(hello(node, "user:owner", "", 0))
		for s := range 4 {
			store := fmt.Sprintf("store-%d-%d", link, s)
			if ack := r.auditAck(&wire.AuditReport{Store: store}); ack.Upto != 0 || ack.Code != "" {
				t.Fatalf("ack of the probe of %s: %+v", store, ack)
			}
			ack := r.auditAck(&wire.AuditReport{Store: store, Events: []wire.AuditEvent{{ID: 1, At: at, Actor: "owner", ActorType: "user", Event: "Space Start"}}})
			if ack.Upto != 1 || ack.Code != "" {
				t.Fatalf("ack of an event of %s: %+v", store, ack)
			}
		}
		if n := st.lists.Load(); n > 1 {
			t.Fatalf("the origin read its audit log %d times for the audit reports of %d leaf stores, want once", n, 4*(link+1))
		}
		r.send(&wire.AuditReport{Store: fmt.Sprintf("store-%d-fifth", link)})
		r.expectClose(wire.CloseRateLimited, "audit events of more than 4 leaf stores on one link")
		disconnected(t, o.hub(), node)
	}
	// The position of a store reported on an earlier link is kept.
	r := mustDialRaw(t, o, ownerSecret)
	r.welcome(hello("node-again", "user:owner", "", 0))
	if ack := r.auditAck(&wire.AuditReport{Store: "store-2-3"}); ack.Upto != 1 {
		t.Errorf("the probe of a store the origin holds an event of: %+v, want upto 1", ack)
	}
}

func TestAuditPositionsSurviveARestartOfTheOrigin(t *testing.T) {
	st := seededStore(t)
	o := startOrigin(t, st, origin.Options{EnableLeafAPITokens: true})
	r := mustDialRaw(t, o, ownerSecret)
	r.welcome(hello("node-owner", "user:owner", "", 0))
	evs := []wire.AuditEvent{{ID: 4, At: time.Now().UTC(), Event: "Login"}, {ID: 9, At: time.Now().UTC(), Event: "Logout"}}
	if ack := r.auditAck(&wire.AuditReport{Store: "leaf-store", Events: evs}); ack.Upto != 9 {
		t.Fatalf("ack %+v", ack)
	}
	r.c.CloseNow()
	o.restart(st)
	r = mustDialRaw(t, o, ownerSecret)
	r.welcome(hello("node-owner", "user:owner", "", 0))
	if ack := r.auditAck(&wire.AuditReport{Store: "leaf-store"}); ack.Upto != 9 {
		t.Fatalf("after a restart the origin answers %+v, want upto 9", ack)
	}
}

func TestALinkIsClosedWhenItSendsMoreFramesThanItsBucketHolds(t *testing.T) {
	clk := newClock() // stands still: the bucket does not fill again
	o := startOrigin(t, seededStore(t), origin.Options{Now: clk.Now})
	r := mustDialRaw(t, o, sharedToken)
	r.welcome(hello("node-eu", "eu", "", 0))
	closed := make(chan error, 1)
	go func() { // read what the origin sends, so that its writes never wait
		for {
			if _, err := r.next(); err != nil {
				closed <- err
				return
			}
		}
	}()
	ack, _ := wire.Encode(&wire.Ack{Applied: 0})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sent := 0
	for ; sent < 3000; sent++ {
		if err := r.c.Write(ctx, websocket.MessageText, ack); err != nil {
			break
		}
	}
	err := <-closed
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != wire.CloseRateLimited || !strings.Contains(ce.Reason, "more than 2000 frames at once") {
		t.Fatalf("after %d acks the link ended with %v, want close code %d and a reason", sent, err, wire.CloseRateLimited)
	}
	if sent < 2000 {
		t.Errorf("the link closed after %d acks, before the burst of 2000 was used", sent)
	}
	disconnected(t, o.hub(), "node-eu")
}

func TestAuditEventsOverTheRateAreRefusedInTheAck(t *testing.T) {
	clk := newClock()
	o := startOrigin(t, seededStore(t), origin.Options{Now: clk.Now, EnableLeafAPITokens: true})
	r := mustDialRaw(t, o, ownerSecret)
	r.welcome(hello("node-owner", "user:owner", "", 0))
	id := int64(0)
	report := func() *wire.AuditReport {
		evs := make([]wire.AuditEvent, wire.MaxAuditEvents)
		for i := range evs {
			id++
			evs[i] = wire.AuditEvent{ID: id, At: clk.Now(), Event: "Space Start"}
		}
		return &wire.AuditReport{Store: "s", Events: evs}
	}
	for i := range 20 {
		if ack := r.auditAck(report()); ack.Code != "" || ack.Upto != id {
			t.Fatalf("report %d: %+v, want all taken", i, ack)
		}
	}
	held := id
	ack := r.auditAck(report())
	if ack.Code != shared.EUNAVAILABLE || ack.Upto != held || !strings.Contains(ack.Message, "audit events") {
		t.Fatalf("the report over the burst: %+v, want refused at %d", ack, held)
	}
	clk.Add(time.Second) // a second's worth of events
	id = held
	if ack := r.auditAck(report()); ack.Code != "" || ack.Upto != id {
		t.Fatalf("a second later: %+v, want the report taken", ack)
	}
}

func TestALinkIsClosedWhenItSendsMoreBytesThanItsBucketHolds(t *testing.T) {
	clk := newClock()
	o := startOrigin(t, seededStore(t), origin.Options{Now: clk.Now})
	r := mustDialRaw(t, o, sharedToken)
	r.welcome(hello("node-eu", "eu", "", 0))
	closed := make(chan error, 1)
	go func() {
		for {
			if _, err := r.next(); err != nil {
				closed <- err
				return
			}
		}
	}()
	// Acks padded with a field the origin ignores, 7 MiB each.
	big := []byte(`{"type":"ack","applied":0,"pad":"` + strings.Repeat("x", 7<<20) + `"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sent := 0
	for ; sent < 10; sent++ {
		if err := r.c.Write(ctx, websocket.MessageText, big); err != nil {
			break
		}
	}
	err := <-closed
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != wire.CloseRateLimited || !strings.Contains(ce.Reason, "MiB at once") {
		t.Fatalf("after %d frames of 7 MiB the link ended with %v, want close code %d and a reason", sent, err, wire.CloseRateLimited)
	}
	if sent < 2 {
		t.Errorf("the link closed after %d frames of 7 MiB, before the burst was used", sent)
	}
}
