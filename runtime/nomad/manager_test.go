package nomad_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/runtime/runtimetest"
	"github.com/knot-dev/knot/shared"
)

// The Manager drives a space through its life on Nomad: the driver fits
// the lifecycle the Manager expects of every runtime.
func TestManagerRunsASpaceOnNomad(t *testing.T) {
	f := newFakeNomad(t, testToken)
	d := newDriver(t, f, "loc-a")
	recs := runtimetest.NewRecords()
	clock := &testClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	m, err := runtime.NewManager(runtime.Options{
		Records:      recs,
		Nomad:        d,
		Server:       runtime.ServerInfo{URL: "https://knot.test/", AgentEndpoint: "127.0.0.1:3010", Location: "loc-a", Timezone: "UTC"},
		CallTimeout:  10 * time.Second,
		StartTimeout: 20 * time.Second,
		StopGrace:    time.Second,
		SettleTime:   time.Second,
		Now:          clock.now,
		Logger:       quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	const specTemplate = `job "dev-${{ .space.id }}" {`
	user := recs.AddUser("alice")
	tmpl := recs.PutTemplate(&shared.Template{Name: "nomad-dev", Kind: shared.TemplateNomad,
		Spec:    specTemplate + "\n",
		Volumes: "volumes:\n  - id: home-${{ .space.id }}\n    plugin_id: cephrbd\n    capabilities: [{access_mode: single-node-writer, attachment_mode: file-system}]\n"})
	s := recs.AddSpace(user, tmpl, "dev")
	jobID := "dev-" + s.ID
	_, job := jobSpec(jobID, "")
	f.Parses(strings.ReplaceAll(specTemplate, "${{ .space.id }}", s.ID)+"\n", job)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if err := m.Start(ctx, s.ID); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if sp := recs.Space(s.ID); sp.State != shared.SpaceRunning || sp.ContainerID != jobID || sp.StartedAt == nil {
		t.Fatalf("space after Start = %s %q %v, want running job %s", sp.State, sp.ContainerID, sp.StartedAt, jobID)
	}
	if env := f.Job("default", jobID).TaskGroups[0].Tasks[0].Env; env[runtime.EnvSpaceID] != s.ID || env[runtime.EnvAgentToken] == "" {
		t.Errorf("task env = %v, want the space id and an agent token", env)
	}
	if got := f.Volumes(); len(got) != 1 || got[0] != "default/home-"+s.ID {
		t.Errorf("volumes = %v, want the space's home", got)
	}

	// The task dies outside knot: the reconciler marks the space failed
	// with Nomad's reason and removes the dead job.
	// The Manager waits SettleTime before it believes an exit.
	f.Do("default", jobID, stepExit(137))
	for range 2 {
		if err := m.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		clock.advance(2 * time.Second)
	}
	sp := recs.Space(s.ID)
	if sp.State != shared.SpaceFailed || !strings.Contains(sp.Reason, `task "dev": exited with code 137`) {
		t.Errorf("space after the task died = %s %q, want failed with the exit code", sp.State, sp.Reason)
	}
	if f.Job("default", jobID) != nil {
		t.Errorf("the dead job is still registered")
	}

	// It starts again, stops, and is deleted with its volume.
	if err := m.Start(ctx, s.ID); err != nil {
		t.Fatalf("second Start: %v", err)
	}
	if err := m.Stop(ctx, s.ID); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if sp := recs.Space(s.ID); sp.State != shared.SpaceStopped || f.Job("default", jobID) != nil || len(f.Volumes()) != 1 {
		t.Errorf("after Stop: space %s, job %v, volumes %v; want stopped, no job, the volume kept", sp.State, f.Job("default", jobID), f.Volumes())
	}
	if err := m.Delete(ctx, s.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if recs.Space(s.ID) != nil || len(f.Volumes()) != 0 {
		t.Errorf("after Delete: space %v, volumes %v; want both gone", recs.Space(s.ID), f.Volumes())
	}
}

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
