package main_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/knot-dev/knot/runtime/runtimetest"
	"github.com/knot-dev/knot/shared/testenv"
)

// TestContainerSpaceGetsAnAgentAndATerminal is the whole story on a
// private Docker daemon: a static knot server, a container template whose
// image knows nothing of knot (busybox, host network), knot space start,
// and then knot space exec and knot space shell reach the container
// through the agent the server started in it.
//
// The agent forwards lines posted to its HTTP intake, syslog(3) on the
// container's /dev/log, and its own log, into the space's log (GET /api/spaces/{id}/logs); and after docker
// restart of the space's container the server starts the agent in it
// again.
func TestContainerSpaceGetsAnAgentAndATerminal(t *testing.T) {
	e, s, token, env := dockerServer(t)
	intake := loopbackPort(t)
	mustSucceed(t, knot(t, env, "name: box\nkind: container\nspec: |\n  image: "+e.Image+"\n  network: host\n"+
		"  environment: [\"KNOT_LOGS_PORT="+intake+"\", \"KNOT_SYSLOG_PORT=0\"]\n", "template", "import", "-"))
	mustSucceed(t, knot(t, env, "", "space", "create", "dev", "box"))
	mustSucceed(t, knot(t, env, "", "space", "start", "dev"))

	if body, ok := waitOnlySpace(s, token, func(state string, agent bool) bool { return agent }); !ok {
		t.Fatalf("the space's agent did not connect within 60s: %s\n%s", body, s.log)
	}

	r := knot(t, env, "", "space", "exec", "dev", "--", "sh", "-c", "cat /proc/1/comm; echo in-container-$((40+2)); exit 3")
	if r.code != 3 || !strings.Contains(r.stdout, "in-container-42") {
		t.Fatalf("exec: exit %d, stdout %q, stderr %q; want 3 and in-container-42", r.code, r.stdout, r.stderr)
	}
	r = knot(t, env, "echo shell-$((2*21))\nexit 5\n", "space", "shell", "dev")
	if r.code != 5 || !strings.Contains(r.stdout, "shell-42") {
		t.Fatalf("shell: exit %d, stdout %q, stderr %q; want 5 and shell-42", r.code, r.stdout, r.stderr)
	}

	// A program in the space posts a line to the agent's intake.
	r = knot(t, env, "", "space", "exec", "dev", "--", "wget", "-q", "-O-", "--header", "Content-Type: application/json",
		"--post-data", `{"service":"app","level":"error","message":"hello from the space"}`, "http://127.0.0.1:"+intake+"/logs")
	if r.code != 0 {
		t.Fatalf("posting a log line: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	id := spacesAt(s, token, "")[0].ID
	waitLog := func(want ...string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, body := s.fetch("GET", "/api/spaces/"+id+"/logs", token, nil)
			var logs struct {
				Entries []struct{ Level, Text string }
			}
			json.Unmarshal(body, &logs)
			found := 0
			for _, w := range want {
				for _, e := range logs.Entries {
					if e.Level+" "+e.Text == w || strings.HasPrefix(e.Level+" "+e.Text, w) {
						found++
						break
					}
				}
			}
			if found == len(want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the space's log lacks %q within 30s: %s", want, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitLog("error app: hello from the space", "info agent: agent linked to its leaf")
	// busybox logger writes to /dev/log, where the agent listens in a
	// container.
	r = knot(t, env, "", "space", "exec", "dev", "--", "logger", "-t", "myapp", "hello from syslog")
	if r.code != 0 {
		t.Fatalf("logger: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	waitLog("info myapp: hello from syslog")

	// docker restart kills the agent with the container's processes; the
	// server starts it again.
	cli, err := e.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	list, err := cli.ContainerList(context.Background(), container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "knot.space_id="+id))})
	if err != nil || len(list) != 1 {
		t.Fatalf("the space's container: %v, %v", list, err)
	}
	timeout := 1
	if err := cli.ContainerRestart(context.Background(), list[0].ID, container.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	if body, ok := waitOnlySpace(s, token, func(_ string, agent bool) bool { return !agent }); !ok {
		t.Fatalf("the agent did not go away with docker restart: %s", body)
	}
	if body, ok := waitOnlySpace(s, token, func(_ string, agent bool) bool { return agent }); !ok {
		t.Fatalf("the agent did not come back after docker restart within 60s: %s\n%s", body, s.log)
	}
	r = knot(t, env, "", "space", "exec", "dev", "--", "echo", "after-restart")
	if r.code != 0 || !strings.Contains(r.stdout, "after-restart") {
		t.Fatalf("exec after docker restart: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// dockerServer starts a private dockerd and a knot server of the static
// knot binary on it (the server's own binary is the agent, so it must be
// static), makes the admin, and returns the engine, the server, the
// admin's token and the environment of client commands. extra are more
// flags of knot server; a later flag wins.
func dockerServer(t testing.TB, extra ...string) (*runtimetest.Engine, *serverProc, string, map[string]string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a container engine")
	}
	e, err := runtimetest.StartDocker(context.Background())
	if err != nil {
		testenv.Missing(t, "docker", err)
	}
	t.Cleanup(func() { e.Close() })
	args := []string{"--listen", "127.0.0.1:0", "--listen-agent", "127.0.0.1:" + loopbackPort(t),
		"--memorydb-enabled", "--location", "here", "--docker-host", e.Host}
	s := runKnotServerOf(t, e.Knot(t), t.TempDir(), nil, append(args, extra...)...)
	t.Cleanup(s.stop)
	s.fetch("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"})
	token := tryLogin(s)
	if token == "" {
		t.Fatalf("no login:\n%s", s.log)
	}
	return e, s, token, clientEnv(t, "KNOT_SERVER", s.base, "KNOT_TOKEN", token)
}

// waitOnlySpace polls the server's one space for up to 60 s until done
// holds for its state and whether its agent is connected; it returns the
// space's last record and whether done held.
func waitOnlySpace(s *serverProc, token string, done func(state string, agent bool) bool) (string, bool) {
	var id string
	for _, sp := range spacesAt(s, token, "") {
		id = sp.ID
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, body := s.fetch("GET", "/api/spaces/"+id, token, nil)
		var sp struct {
			State string
			Agent *struct{ Connected bool }
		}
		json.Unmarshal(body, &sp)
		if done(sp.State, sp.Agent != nil && sp.Agent.Connected) {
			return string(body), true
		}
		if time.Now().After(deadline) {
			return string(body), false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
