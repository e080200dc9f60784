package main_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/runtime/runtimetest"
	"github.com/knot-dev/knot/shared/testenv"
)

// TestContainerSpaceGetsAnAgentAndATerminal is the whole story on a
// private Docker daemon: a static knot server, a container template whose
// image knows nothing of knot (busybox, host network), knot space start,
// and then knot space exec and knot space shell reach the container
// through the agent the server started in it.
func TestContainerSpaceGetsAnAgentAndATerminal(t *testing.T) {
	e, s, token, env := dockerServer(t)
	mustSucceed(t, knot(t, env, "name: box\nkind: container\nspec: |\n  image: "+e.Image+"\n  network: host\n", "template", "import", "-"))
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
}

// dockerServer starts a private dockerd and a knot server of the static
// knot binary on it (the server's own binary is the agent, so it must be
// static), makes the admin, and returns the engine, the server, the
// admin's token and the environment of client commands. extra are more
// flags of knot server; a later flag wins.
func dockerServer(t *testing.T, extra ...string) (*runtimetest.Engine, *serverProc, string, map[string]string) {
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
