package main_test

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared/testenv"
)

// curlAgentEnv fetches GET /api/spaces/{id}/agent-env with curl, as the
// docs show, and returns the HTTP status, the Content-Type and the body.
func curlAgentEnv(t *testing.T, base, id string, auth ...string) (int, string, string) {
	t.Helper()
	args := append([]string{"-sS", "-o", "-", "-w", "\n%{http_code} %{content_type}"}, auth...)
	out, err := exec.Command("curl", append(args, base+"/api/spaces/"+id+"/agent-env")...).Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	body, trailer, _ := cutLast(string(out), "\n")
	code, ctype, _ := strings.Cut(trailer, " ")
	status := 0
	for _, c := range code {
		status = status*10 + int(c-'0')
	}
	return status, ctype, body
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func TestAgentEnvGivesTheOwnerAWorkingEnvironment(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		testenv.Missing(t, "curl", err)
	}
	b := startTerminalBed(t)
	bob := b.addUser(t, "bob")
	mustSucceed(t, knot(t, b.as(t, bob), "", "space", "create", "bobs", "byo"))
	bobs := b.spaces(t, bob)[0]
	mustSucceed(t, knot(t, b.as(t, bob), "", "space", "start", "bobs"))

	// Not even an admin gets another user's agent secret.
	if code, _, body := curlAgentEnv(t, b.URL, bobs.ID, "-H", "Authorization: Bearer "+b.adminToken); code != http.StatusNotFound {
		t.Fatalf("admin asking for bob's agent env: HTTP %d %s, want 404", code, body)
	}

	code, ctype, body := curlAgentEnv(t, b.URL, bobs.ID, "-H", "Authorization: Bearer "+bob)
	if code != http.StatusOK || !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("owner: HTTP %d %s %q", code, ctype, body)
	}
	// env $(curl ...) knot agent: the lines are the agent's environment.
	env := map[string]string{"HOME": t.TempDir(), "TMPDIR": t.TempDir()}
	for _, line := range strings.Fields(body) {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("line %q is not KEY=value", line)
		}
		env[k] = v
	}
	if env["KNOT_SPACE_ID"] != bobs.ID || env["KNOT_AGENT_TOKEN"] == "" || env["KNOT_AGENT_ENDPOINT"] == "" || env["KNOT_AGENT_FINGERPRINT"] == "" {
		t.Fatalf("agent env %q", body)
	}
	startKnot(t, env, "agent")
	deadline := time.Now().Add(20 * time.Second)
	for !b.agents.Status(bobs.ID).Connected {
		if time.Now().After(deadline) {
			t.Fatal("the agent given the env of GET agent-env did not link within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Each call makes a new token.
	if _, _, again := curlAgentEnv(t, b.URL, bobs.ID, "-H", "Authorization: Bearer "+bob); !strings.Contains(again, "KNOT_AGENT_TOKEN=") || strings.Contains(again, "KNOT_AGENT_TOKEN="+env["KNOT_AGENT_TOKEN"]+"\n") {
		t.Fatalf("second call gave %q, want a new token", again)
	}

	// A browser session is refused: a GET that makes a token must not be
	// reachable by a cross-site request.
	jar := filepath.Join(t.TempDir(), "cookies")
	login := exec.Command("curl", "-sS", "-f", "-c", jar, "-H", "Content-Type: application/json",
		"-d", `{"email":"bob@example.com","password":"bob-password"}`, b.URL+"/api/auth/web")
	if out, err := login.CombinedOutput(); err != nil {
		t.Fatalf("web login: %v %s", err, out)
	}
	if code, _, body := curlAgentEnv(t, b.URL, bobs.ID, "-b", jar); code != http.StatusForbidden || !strings.Contains(body, "bearer") {
		t.Fatalf("cookie session: HTTP %d %s, want 403", code, body)
	}

	// A container space's agent gets its token from knot at every start.
	admin := b.as(t, b.adminToken)
	mustSucceed(t, knot(t, admin, "name: box\nkind: container\nspec: |\n  image: busybox\n", "template", "import", "-"))
	mustSucceed(t, knot(t, admin, "", "space", "create", "boxed", "box"))
	var boxID string
	for _, sp := range b.spaces(t, b.adminToken) {
		if sp.Name == "boxed" {
			boxID = sp.ID
		}
	}
	if code, _, body := curlAgentEnv(t, b.URL, boxID, "-H", "Authorization: Bearer "+b.adminToken); code != http.StatusBadRequest || !strings.Contains(body, "every start") {
		t.Fatalf("container space: HTTP %d %s, want 400", code, body)
	}
}
