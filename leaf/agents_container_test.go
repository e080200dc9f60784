package leaf_test

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/runtime/docker"
	"github.com/knot-dev/knot/runtime/runtimetest"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/testenv"
)

func TestAgentInARealDockerContainer(t *testing.T) {
	testAgentInARealContainer(t, "docker", runtimetest.StartDocker)
}

func TestAgentInARealPodmanContainer(t *testing.T) {
	testAgentInARealContainer(t, "podman", runtimetest.StartPodman)
}

// agentSRV is the SRV name the agents in the containers are given.
const agentSRV = "_knot-agent._tcp.knot.test"

// agentRecords are the DNS records that send agentSRV to the leaf at
// 127.0.0.1:port, with a TTL of 1 s so that a change is seen at once.
func agentRecords(addr string) []string {
	_, port, _ := net.SplitHostPort(addr)
	return []string{"--local-ttl=1",
		"--srv-host=" + agentSRV + ",leaf.knot.test," + port + ",10,5",
		"--host-record=leaf.knot.test,127.0.0.1"}
}

// testAgentInARealContainer runs knot's static binary as the agent of a
// plain busybox container on a private engine, with host networking,
// started by the driver as for any image, finding its leaf by srv+ through
// Debian's dnsmasq on loopback. A terminal works; the leaf restarts on
// another port and the SRV record follows it, and the agent links again
// within seconds with its terminal session kept; agents run in the
// container with a wrong or a revoked token are refused; an agent behind a
// CONNECT proxy links through it; and an image whose command is the agent
// works too.
func testAgentInARealContainer(t *testing.T, name string, start func(context.Context) (*runtimetest.Engine, error)) {
	if testing.Short() {
		t.Skip("starts a container engine")
	}
	ctx := context.Background()
	b := newAgentBed(t)
	dns := testenv.NewDnsmasq(t, agentRecords(b.addr)...)
	e, err := start(ctx)
	if err != nil {
		testenv.Missing(t, name, err)
	}
	t.Cleanup(func() { e.Close() })
	d, err := docker.New(docker.Options{Host: e.Host, Name: name, Location: "here", AgentBinary: e.Knot(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	env := func(id, tok string) map[string]string {
		return map[string]string{
			runtime.EnvAgentEndpoint: "srv+" + agentSRV,
			runtime.EnvSpaceID:       id,
			runtime.EnvAgentToken:    tok,
			"KNOT_AGENT_FINGERPRINT": b.fp,
			"KNOT_AGENT_NAMESERVERS": dns.Addr,
			// Host networking: keep off the host's loopback ports.
			"KNOT_SYSLOG_PORT": "0",
			"KNOT_LOGS_PORT":   "0",
		}
	}

	// 1. The driver starts the agent in a plain container; it links by
	// srv+ and a terminal works.
	startContainer(t, d, "s-dev", "image: "+e.Image+"\nnetwork: host\n", env("s-dev", b.space("s-dev")))
	if err := d.StartAgent(ctx, "s-dev"); err != nil {
		t.Fatal(err)
	}
	waitLinked(t, d, b, "s-dev", "the agent the driver started to link by srv+")
	tm := openTerm(t, b, "s-dev", agentwire.Terminal{Cols: 90, Rows: 20})
	tm.send("echo before-$((40+2)); stty size\n")
	tm.waitOutput("before-42")
	tm.waitOutput("20 90")

	// 2. The viewer leaves; the session stays with the agent.
	session := tm.ts.ID
	tm.ts.Close()
	<-tm.done

	// 3. The leaf restarts on another port and the SRV record follows it:
	// the agent finds it within seconds, and the session is reattached
	// with what it printed before, and still answers.
	old := b.addr
	since := b.agents.Status("s-dev").Since
	b.restart()
	dns.Restart(t, agentRecords(b.addr)...)
	restarted := time.Now()
	if b.addr == old {
		t.Fatalf("the leaf came back on the same address %s", old)
	}
	waitFor(t, "the agent to link to the restarted leaf", func() bool { return b.agents.Status("s-dev").Connected })
	t.Logf("%s: the agent followed the SRV record to the restarted leaf in %v", name, time.Since(restarted).Round(time.Millisecond))
	if st := b.agents.Status("s-dev"); !st.Since.After(since) {
		t.Fatalf("the link to the restarted leaf began %v, before the restart (%v)", st.Since, since)
	}
	sessions, err := b.agents.Sessions(ctx, "s-dev")
	if err != nil || len(sessions) != 1 || sessions[0].ID != session || sessions[0].Viewers != 0 {
		t.Fatalf("sessions %+v, %v; want the detached session %s", sessions, err, session)
	}
	tm = openTerm(t, b, "s-dev", agentwire.Terminal{Attach: session})
	tm.waitOutput("before-42") // the replay
	tm.send("echo after-$((40+2))\n")
	tm.waitOutput("after-42")
	tm.send("exit 7\n")
	if c := tm.waitExit(); c.Code != 7 {
		t.Fatalf("exit %d, want 7", c.Code)
	}

	// 4. Agents run in the container: one with a wrong token is refused,
	// and one whose token was valid and is revoked is cut and refused; the
	// leaf logs both. A second agent of the linked space steps aside.
	b.space("s-wrong")
	wrong := execAgent(t, d, "s-dev", "wrong", "KNOT_SPACE_ID=s-wrong", "KNOT_AGENT_TOKEN=not-the-token")
	waitLogged(t, b, "agent refused", "space_id=s-wrong", "the token is not valid for this space")
	if out := wrong.stop(); !strings.Contains(out, "the leaf refused the agent: the token is not valid for this space") {
		t.Errorf("the agent with a wrong token says %q; want the leaf's refusal", out)
	}
	if b.agents.Status("s-wrong").Connected {
		t.Error("an agent with a wrong token linked")
	}
	revoked := execAgent(t, d, "s-dev", "revoked", "KNOT_SPACE_ID=s-revoked", "KNOT_AGENT_TOKEN="+b.space("s-revoked"))
	waitFor(t, "the agent with a valid token to link", func() bool { return b.agents.Status("s-revoked").Connected })
	b.revoke("s-revoked")
	waitLogged(t, b, "agent refused", "space_id=s-revoked", "its token was revoked")
	waitLogged(t, b, "agent refused", "space_id=s-revoked", "the token is not valid for this space")
	out := revoked.stop()
	if !strings.Contains(out, "agent linked to its leaf") || !strings.Contains(out, "the leaf refused the agent: the token is not valid for this space") {
		t.Errorf("the agent whose token was revoked says %q; want a link, then the leaf's refusal", out)
	}
	if b.agents.Status("s-revoked").Connected {
		t.Error("an agent with a revoked token linked")
	}
	since = b.agents.Status("s-dev").Since
	xctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if out, code, err := d.Exec(xctx, "s-dev", []string{docker.AgentPath, "agent"}); err != nil || code != 0 || !strings.Contains(out, "another agent of this space runs here") {
		t.Fatalf("a second agent: exit %d, %v, output %q; want it to step aside", code, err, out)
	}
	if st := b.agents.Status("s-dev"); !st.Connected || st.Since != since {
		t.Fatalf("the first agent's link changed: %+v\n%s", st, b.logged())
	}

	// 5. An agent given HTTPS_PROXY tunnels to its leaf through the proxy,
	// which resolves the leaf's name; with NO_PROXY naming the leaf it
	// dials directly.
	p := testenv.NewConnectProxy(t, 0)
	_, port, _ := net.SplitHostPort(b.addr)
	endpoint := "leaf.knot.test:" + port
	tok := b.space("s-proxy")
	proxied := execAgent(t, d, "s-dev", "proxied", "KNOT_SPACE_ID=s-proxy", "KNOT_AGENT_TOKEN="+tok,
		"KNOT_AGENT_ENDPOINT="+endpoint, "HTTPS_PROXY="+p.URL)
	waitFor(t, "the agent behind the proxy to link", func() bool { return b.agents.Status("s-proxy").Connected })
	proxied.stop()
	waitFor(t, "the agent behind the proxy to be gone", func() bool { return !b.agents.Status("s-proxy").Connected })
	if targets, _ := p.Seen(); !slices.Contains(targets, endpoint) {
		t.Fatalf("the proxy saw CONNECT to %q, want %s", targets, endpoint)
	}
	// The direct dial resolves the name from the container's /etc/hosts,
	// never from a DNS server.
	if out, code, err := d.Exec(xctx, "s-dev", []string{"sh", "-c", "echo '127.0.0.1 leaf.knot.test' >> /etc/hosts && grep -q leaf.knot.test /etc/hosts"}); err != nil || code != 0 {
		t.Fatalf("adding leaf.knot.test to the container's /etc/hosts: exit %d, %v, %s", code, err, out)
	}
	seen, _ := p.Seen()
	direct := execAgent(t, d, "s-dev", "direct", "KNOT_SPACE_ID=s-proxy", "KNOT_AGENT_TOKEN="+tok,
		"KNOT_AGENT_ENDPOINT="+endpoint, "HTTPS_PROXY="+p.URL, "NO_PROXY=.knot.test")
	waitFor(t, "the agent with NO_PROXY to link", func() bool { return b.agents.Status("s-proxy").Connected })
	direct.stop()
	if targets, _ := p.Seen(); len(targets) != len(seen) {
		t.Fatalf("with NO_PROXY the proxy saw %q, want nothing more than %q", targets, seen)
	}

	// 6. An image whose command is the agent: the agent is the container's
	// first process, and serves a terminal.
	startContainer(t, d, "s-cmd", "image: "+e.Image+"\nnetwork: host\ncommand: [\""+docker.AgentPath+"\", \"agent\"]\n",
		env("s-cmd", b.space("s-cmd")))
	waitLinked(t, d, b, "s-cmd", "the agent that is the container's command to link")
	tm = openTerm(t, b, "s-cmd", agentwire.Terminal{Cols: 100, Rows: 30})
	tm.send("cat /proc/1/cmdline | tr '\\0' ' '; echo; stty size\n")
	tm.waitOutput(docker.AgentPath + " agent")
	tm.waitOutput("30 100")
}

// startContainer starts a space's container with the driver, and removes
// it and its volumes when the test ends.
func startContainer(t *testing.T, d *docker.Driver, id, spec string, env map[string]string) {
	t.Helper()
	ctx := context.Background()
	w := &runtime.Workload{SpaceID: id, SpaceName: id, UserName: "ann", Hash: "h", Spec: spec, Env: env}
	if err := d.EnsureVolumes(ctx, w); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Stop(context.Background(), id, time.Second)
		d.Remove(context.Background(), id)
		d.RemoveVolumes(context.Background(), id)
	})
	if _, err := d.Start(ctx, w); err != nil {
		t.Fatal(err)
	}
}

// waitLinked waits for the agent of a container's space to link; the
// first link waits for the agent binary's first start in the container.
func waitLinked(t *testing.T, d *docker.Driver, b *agentBed, id, what string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !b.agents.Status(id).Connected {
		if time.Now().After(deadline) {
			st, _ := d.Inspect(context.Background(), id)
			t.Fatalf("timed out waiting for %s; container %+v; leaf log:\n%s", what, st, b.logged())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitLogged waits for a line of the leaf's log that holds all of parts.
func waitLogged(t *testing.T, b *agentBed, parts ...string) {
	t.Helper()
	waitFor(t, "the leaf to log "+strings.Join(parts, " … "), func() bool {
		for line := range strings.Lines(b.logged()) {
			if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) }) {
				return true
			}
		}
		return false
	})
}

// containerAgent is a knot agent run in a container by exec, beside the
// one the driver started.
type containerAgent struct {
	t       *testing.T
	d       *docker.Driver
	spaceID string
	pidFile string
	out     chan string
}

// execAgent runs knot agent in the container of spaceID with the
// container's environment and env (NAME=value each) on top.
func execAgent(t *testing.T, d *docker.Driver, spaceID, name string, env ...string) *containerAgent {
	t.Helper()
	a := &containerAgent{t: t, d: d, spaceID: spaceID, pidFile: "/tmp/agent-" + name + ".pid", out: make(chan string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		out, _, err := d.Exec(ctx, spaceID, []string{"sh", "-c",
			"echo $$ > " + a.pidFile + "; exec env " + strings.Join(env, " ") + " " + docker.AgentPath + " agent 2>&1"})
		if err != nil {
			out += "\nexec: " + err.Error()
		}
		a.out <- out
	}()
	t.Cleanup(func() {
		cancel()
		<-a.out
	})
	return a
}

// stop sends the agent SIGTERM and returns what it printed.
func (a *containerAgent) stop() string {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, code, err := a.d.Exec(ctx, a.spaceID, []string{"sh", "-c", "kill $(cat " + a.pidFile + ")"}); err != nil || code != 0 {
		select {
		case printed := <-a.out: // it ended by itself
			a.out <- printed
			a.t.Fatalf("stopping the agent: exit %d, %v, %s; the agent had ended, saying %q", code, err, out, printed)
		default:
			a.t.Fatalf("stopping the agent: exit %d, %v, %s", code, err, out)
		}
	}
	select {
	case out := <-a.out:
		a.out <- out // for the cleanup
		return out
	case <-ctx.Done():
		a.t.Fatal("the agent did not stop on SIGTERM")
		return ""
	}
}
