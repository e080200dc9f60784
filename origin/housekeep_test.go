package origin_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/memory"
)

// TestAuditLogRetention keeps house with a 90-day retention and a fast
// prune, and moves its clock: events older than 90 days go, newer stay.
func TestAuditLogRetention(t *testing.T) {
	st, clk := memory.New(), newClock()
	audit := origin.NewAuditService(st, "home", origin.ServiceOptions{Now: clk.Now})
	auth := origin.NewAuthService(st, origin.AuthOptions{Now: clk.Now})
	ctx := context.Background()
	now := clk.Now()
	for _, age := range []time.Duration{200, 100, 91, 89, 10} {
		ev := &shared.AuditEvent{At: now.Add(-age * 24 * time.Hour), Event: "old", Details: (age * 24 * time.Hour).String()}
		if err := st.AppendAudit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- origin.Housekeep(rctx, origin.HousekeepingOptions{Auth: auth, Audit: audit, AuditRetention: 90 * 24 * time.Hour,
			AuditPruneEvery: 5 * time.Millisecond, Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Housekeep: %v", err)
		}
	})

	waitForEvents := func(want int) []shared.AuditEvent {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			evs, total, err := st.ListAudit(ctx, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if total == want {
				return evs
			}
			if time.Now().After(deadline) {
				t.Fatalf("the audit log holds %d events after 10 s, want %d", total, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	evs := waitForEvents(2)
	if evs[0].Details != (10*24*time.Hour).String() || evs[1].Details != (89*24*time.Hour).String() {
		t.Fatalf("kept events %+v, want those 10 and 89 days old", evs)
	}
	// Two days later the 89-day-old event is past the retention too.
	clk.Add(2 * 24 * time.Hour)
	waitForEvents(1)
}
