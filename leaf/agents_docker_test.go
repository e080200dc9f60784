package leaf_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/runtime/docker"
	"github.com/knot-dev/knot/runtime/runtimetest"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/testenv"
)

// TestAgentInARealContainer runs knot's static binary as the agent of a
// busybox container on a private Docker (else Podman) daemon, with host
// networking, against the agent endpoint on 127.0.0.1, and opens a
// terminal in it.
func TestAgentInARealContainer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a container engine")
	}
	ctx := context.Background()
	e, err := runtimetest.StartDocker(ctx)
	if err != nil {
		var perr error
		if e, perr = runtimetest.StartPodman(ctx); perr != nil {
			testenv.Missing(t, "docker or podman", err.Error()+"; "+perr.Error())
		}
	}
	t.Cleanup(func() { e.Close() })
	t.Logf("container engine: %s", e.Name)
	d, err := docker.New(docker.Options{Host: e.Host, Name: e.Name, Location: "here", AgentBinary: e.Knot(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })

	b := newAgentBed(t)
	tok := b.space("s-container")
	w := &runtime.Workload{
		SpaceID: "s-container", SpaceName: "dev", UserName: "ann", Hash: "h",
		Spec: "image: " + e.Image + "\nnetwork: host\ncommand: [\"" + docker.AgentPath + "\", \"agent\"]\n",
		Env: map[string]string{
			runtime.EnvAgentEndpoint: b.addr,
			runtime.EnvSpaceID:       "s-container",
			runtime.EnvAgentToken:    tok,
			"KNOT_AGENT_FINGERPRINT": b.fp,
		},
	}
	if err := d.EnsureVolumes(ctx, w); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Start(ctx, w); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Stop(context.Background(), "s-container", time.Second)
		d.Remove(context.Background(), "s-container")
		d.RemoveVolumes(context.Background(), "s-container")
	})
	deadline := time.Now().Add(60 * time.Second)
	for !b.agents.Status("s-container").Connected {
		if time.Now().After(deadline) {
			st, _ := d.Inspect(ctx, "s-container")
			t.Fatalf("the agent in the container did not link within 60s; container %+v; leaf log:\n%s", st, b.logged())
		}
		time.Sleep(50 * time.Millisecond)
	}
	tm := openTerm(t, b, "s-container", agentwire.Terminal{Cols: 100, Rows: 30})
	tm.send("echo in-$((40+2)); stty size; cat /proc/1/cmdline | tr '\\0' ' '; echo\n")
	tm.waitOutput("in-42")
	tm.waitOutput("30 100")
	tm.waitOutput(docker.AgentPath + " agent")
	tm.send("exit 6\n")
	if c := tm.waitExit(); c.Code != 6 {
		t.Fatalf("exit %d, want 6", c.Code)
	}

	// A template that knows nothing of knot: the driver starts the agent
	// in the container; started twice, the second steps aside.
	tok2 := b.space("s-plain")
	w2 := &runtime.Workload{
		SpaceID: "s-plain", SpaceName: "plain", UserName: "ann", Hash: "h",
		Spec: "image: " + e.Image + "\nnetwork: host\n",
		Env: map[string]string{
			runtime.EnvAgentEndpoint: b.addr,
			runtime.EnvSpaceID:       "s-plain",
			runtime.EnvAgentToken:    tok2,
			"KNOT_AGENT_FINGERPRINT": b.fp,
		},
	}
	if err := d.EnsureVolumes(ctx, w2); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Start(ctx, w2); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Stop(context.Background(), "s-plain", time.Second)
		d.Remove(context.Background(), "s-plain")
		d.RemoveVolumes(context.Background(), "s-plain")
	})
	if err := d.StartAgent(ctx, "s-plain"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the started agent to link", func() bool { return b.agents.Status("s-plain").Connected })
	since := b.agents.Status("s-plain").Since
	// A second agent in the same container exits at once, saying why.
	xctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, code, err := d.Exec(xctx, "s-plain", []string{docker.AgentPath, "agent"})
	if err != nil || code != 0 || !strings.Contains(out, "another agent of this space runs here") {
		t.Fatalf("a second agent: exit %d, %v, output %q; want it to step aside", code, err, out)
	}
	if st := b.agents.Status("s-plain"); !st.Connected || st.Since != since {
		t.Fatalf("the first agent's link changed: %+v\n%s", st, b.logged())
	}
}
