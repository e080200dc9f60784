package runtime_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/runtime/runtimetest"
	"github.com/knot-dev/knot/shared"
)

func TestManualSpaceRunsOnceItsAgentLinks(t *testing.T) {
	var linked atomic.Bool
	recs := runtimetest.NewRecords()
	m := newManager(t, runtime.Options{Records: recs, AgentConnected: func(string) bool { return linked.Load() }})
	tmpl := recs.PutTemplate(&shared.Template{Name: "byo", Kind: shared.TemplateManual})
	s := recs.AddSpace(recs.AddUser("ann"), tmpl, "laptop")
	ctx := context.Background()

	if err := m.Start(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if got := recs.Space(s.ID); got.State != shared.SpaceStarting || got.Reason != "waiting for its agent" || got.StartedAt == nil {
		t.Fatalf("after Start: %q %q; want starting, waiting for its agent", got.State, got.Reason)
	}
	// Neither a reconciliation nor news of no agent runs it.
	m.Reconcile(ctx)
	if err := m.AgentChanged(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if got := recs.Space(s.ID); got.State != shared.SpaceStarting {
		t.Fatalf("without its agent: %q; want starting", got.State)
	}

	linked.Store(true)
	if err := m.AgentChanged(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if got := recs.Space(s.ID); got.State != shared.SpaceRunning || got.Reason != "" {
		t.Fatalf("after its agent linked: %q %q; want running", got.State, got.Reason)
	}

	// The agent going away leaves the space running.
	linked.Store(false)
	m.AgentChanged(ctx, s.ID)
	m.Reconcile(ctx)
	if err := m.Start(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if got := recs.Space(s.ID); got.State != shared.SpaceRunning {
		t.Fatalf("after its agent left: %q; want running", got.State)
	}

	// Stopped and started again with its agent already linked: running
	// at once; a missed AgentChanged is caught by the reconciler.
	m.Stop(ctx, s.ID)
	linked.Store(true)
	if err := m.Start(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if got := recs.Space(s.ID); got.State != shared.SpaceRunning {
		t.Fatalf("started with its agent linked: %q; want running", got.State)
	}
	m.Stop(ctx, s.ID)
	linked.Store(false)
	m.Start(ctx, s.ID)
	linked.Store(true)
	m.Reconcile(ctx)
	if got := recs.Space(s.ID); got.State != shared.SpaceRunning {
		t.Fatalf("after a reconciliation with its agent linked: %q; want running", got.State)
	}
}
