package leaf_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/runtime/docker"
	"github.com/knot-dev/knot/runtime/runtimetest"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/testenv"
)

// TestAgentInARealPodmanContainerBySRV runs knot's static binary as the
// agent of a plain busybox container on a private Podman, started by the
// driver, finding its leaf by srv+ through Debian's dnsmasq on loopback:
// a terminal works in it, and an agent with a wrong token is refused.
func TestAgentInARealPodmanContainerBySRV(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a container engine")
	}
	ctx := context.Background()
	b := newAgentBed(t)
	_, port, _ := net.SplitHostPort(b.addr)
	dns := testenv.StartDnsmasq(t,
		"--srv-host=_knot-agent._tcp.knot.test,leaf.knot.test,"+port+",10,5",
		"--host-record=leaf.knot.test,127.0.0.1")
	e, err := runtimetest.StartPodman(ctx)
	if err != nil {
		testenv.Missing(t, "podman", err)
	}
	t.Cleanup(func() { e.Close() })
	d, err := docker.New(docker.Options{Host: e.Host, Name: "podman", Location: "here", AgentBinary: e.Knot(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })

	tok := b.space("s-podman")
	b.space("s-other")
	w := &runtime.Workload{
		SpaceID: "s-podman", SpaceName: "pod", UserName: "ann", Hash: "h",
		Spec: "image: " + e.Image + "\nnetwork: host\n",
		Env: map[string]string{
			runtime.EnvAgentEndpoint: "srv+_knot-agent._tcp.knot.test",
			runtime.EnvSpaceID:       "s-podman",
			runtime.EnvAgentToken:    tok,
			"KNOT_AGENT_FINGERPRINT": b.fp,
			"KNOT_AGENT_NAMESERVERS": dns,
			// Host networking: keep off the host's loopback ports.
			"KNOT_SYSLOG_PORT": "0",
			"KNOT_LOGS_PORT":   "0",
		},
	}
	if err := d.EnsureVolumes(ctx, w); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Start(ctx, w); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Stop(context.Background(), "s-podman", time.Second)
		d.Remove(context.Background(), "s-podman")
		d.RemoveVolumes(context.Background(), "s-podman")
	})
	if err := d.StartAgent(ctx, "s-podman"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !b.agents.Status("s-podman").Connected {
		if time.Now().After(deadline) {
			st, _ := d.Inspect(ctx, "s-podman")
			t.Fatalf("the agent in the Podman container did not link by srv+ within 60s; container %+v; leaf log:\n%s", st, b.logged())
		}
		time.Sleep(50 * time.Millisecond)
	}
	tm := openTerm(t, b, "s-podman", agentwire.Terminal{Cols: 90, Rows: 20})
	tm.send("echo pod-$((40+2)); stty size\n")
	tm.waitOutput("pod-42")
	tm.waitOutput("20 90")
	tm.send("exit 7\n")
	if c := tm.waitExit(); c.Code != 7 {
		t.Fatalf("exit %d, want 7", c.Code)
	}

	// An agent of another space with a wrong token, from the same
	// container, is refused, and the leaf logs who was refused.
	xctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	out, _, err := d.Exec(xctx, "s-podman", []string{"sh", "-c",
		"KNOT_SPACE_ID=s-other KNOT_AGENT_TOKEN=not-the-token timeout 5 " + docker.AgentPath + " agent 2>&1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "the leaf refused the agent: the token is not valid for this space") {
		t.Errorf("the agent with a wrong token says %q; want the leaf's refusal", out)
	}
	if log := b.logged(); !strings.Contains(log, "agent refused") || !strings.Contains(log, "space_id=s-other") {
		t.Errorf("the leaf did not log the refusal:\n%s", log)
	}
	if b.agents.Status("s-other").Connected {
		t.Error("an agent with a wrong token linked")
	}
}
