package web_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/web"
)

// TestAuditLogRetention runs a server with a 90-day retention and a fast
// prune, and moves its clock: events older than 90 days go, newer stay.
func TestAuditLogRetention(t *testing.T) {
	e := newEnv(t, func(o *web.TestOptions) { o.AuditRetention = 90 * 24 * time.Hour })
	web.SetAuditPruneEvery(e.srv, 5*time.Millisecond)
	ctx := context.Background()
	now := e.clock.Now()
	for _, age := range []time.Duration{200, 100, 91, 89, 10} {
		ev := &shared.AuditEvent{At: now.Add(-age * 24 * time.Hour), Event: "old", Details: (age * 24 * time.Hour).String()}
		if err := e.store.AppendAudit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.srv.Run(rctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	waitForEvents := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, total, err := e.store.ListAudit(ctx, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if total == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the audit log holds %d events after 10 s, want %d", total, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitForEvents(2)
	evs := e.auditEvents()
	if evs[0].Details != (10*24*time.Hour).String() || evs[1].Details != (89*24*time.Hour).String() {
		t.Fatalf("kept events %+v, want those 10 and 89 days old", evs)
	}
	// Two days later the 89-day-old event is past the retention too.
	e.clock.Advance(2 * 24 * time.Hour)
	waitForEvents(1)
}
