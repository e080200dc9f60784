package leaf_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/runtime/docker"
	"github.com/knot-dev/knot/runtime/runtimetest"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/testenv"
)

// When the engine restarts a space's container (docker restart here; the
// restart policy after a crash or a daemon restart alike), the agent the
// driver started in it dies with it, and the driver's agent watch starts
// it again: it links within seconds and serves a terminal. On Docker and
// on Podman (its Docker API's events).
func TestAgentComesBackAfterTheContainerRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a container engine")
	}
	for name, start := range map[string]func(context.Context) (*runtimetest.Engine, error){
		"docker": runtimetest.StartDocker, "podman": runtimetest.StartPodman,
	} {
		t.Run(name, func(t *testing.T) {
			e, err := start(context.Background())
			if err != nil {
				testenv.Missing(t, name, err)
			}
			t.Cleanup(func() { e.Close() })
			agentComesBackAfterRestart(t, e)
		})
	}
}

func agentComesBackAfterRestart(t *testing.T, e *runtimetest.Engine) {
	ctx := context.Background()
	d, err := docker.New(docker.Options{Host: e.Host, Name: e.Name, Location: "here", AgentBinary: e.Knot(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	b := newAgentBed(t)
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan error, 1)
	go func() { watched <- d.WatchAgents(wctx) }()
	t.Cleanup(func() {
		stopWatch()
		if err := <-watched; err != nil {
			t.Errorf("WatchAgents: %v", err)
		}
	})

	tok := b.space("s-restart")
	w := &runtime.Workload{
		SpaceID: "s-restart", SpaceName: "restart", UserName: "ann", Hash: "h",
		Spec: "image: " + e.Image + "\nnetwork: host\n",
		Env: map[string]string{
			runtime.EnvAgentEndpoint: b.addr,
			runtime.EnvSpaceID:       "s-restart",
			runtime.EnvAgentToken:    tok,
			"KNOT_AGENT_FINGERPRINT": b.fp,
			"KNOT_SYSLOG_PORT":       "0",
			"KNOT_LOGS_PORT":         "0",
		},
	}
	if err := d.EnsureVolumes(ctx, w); err != nil {
		t.Fatal(err)
	}
	st, err := d.Start(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Stop(context.Background(), "s-restart", time.Second)
		d.Remove(context.Background(), "s-restart")
		d.RemoveVolumes(context.Background(), "s-restart")
	})
	// Nobody but the watch starts the agent here.
	waitLinked := func(what string, after time.Time) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			s := b.agents.Status("s-restart")
			if s.Connected && s.Since.After(after) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the agent did not link within 30s: %+v\n%s", what, s, b.logged())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitLinked("first start", time.Time{})
	first := b.agents.Status("s-restart").Since

	cli, err := e.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	timeout := 1
	restarted := time.Now()
	if err := cli.ContainerRestart(ctx, st.ID, container.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	waitLinked("after the restart", first)
	t.Logf("the agent linked again %v after the restart began", time.Since(restarted).Round(time.Millisecond))
	tm := openTerm(t, b, "s-restart", agentwire.Terminal{Cols: 80, Rows: 24})
	tm.send("echo back-$((6*7)); exit 4\n")
	tm.waitOutput("back-42")
	if c := tm.waitExit(); c.Code != 4 {
		t.Fatalf("exit %d, want 4", c.Code)
	}
}
