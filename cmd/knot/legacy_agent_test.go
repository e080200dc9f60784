package main_test

import (
	"strings"
	"testing"
	"time"
)

// predecessorWarns returns the WARN lines of log that contain all of subs.
func predecessorWarns(log string, subs ...string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		ok := strings.Contains(line, "level=WARN")
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// knot agent started with the predecessor's variables and flags for
// features knot's agent lacks runs, and logs one WARN for each that names
// it and says what knot does instead.
func TestAgentWarnsOnceAboutThePredecessorsAgentNames(t *testing.T) {
	env := map[string]string{
		"HOME": t.TempDir(), "TMPDIR": t.TempDir(),
		// Nothing listens on port 1 of loopback: the agent dials again
		// and again.
		"KNOT_AGENT_ENDPOINT":    "127.0.0.1:1",
		"KNOT_SPACE_ID":          "0196a3c2-0000-7000-8000-000000000001",
		"KNOT_AGENT_TOKEN":       "token",
		"KNOT_AGENT_FINGERPRINT": strings.Repeat("ab", 32),
		"KNOT_CODE_SERVER_PORT":  "49374",
		"KNOT_HTTP_PORT":         "80=Site",
		"KNOT_USER":              "alice",
	}
	a := startKnot(t, env, "agent", "--vscode-tunnel", "vscodetunnel", "--syslog-port", "0", "--api-port", "0")
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(a.stderr.String(), "agent link down") {
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not try its endpoint within 20s:\n%s", a.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	log := a.stderr.String()
	for _, w := range []struct{ source, says string }{
		{`source="env KNOT_CODE_SERVER_PORT"`, "knot does not proxy code-server"},
		{`source="env KNOT_HTTP_PORT"`, "http_ports of its template"},
		{`source="env KNOT_USER"`, "knot runs the agent as whoever starts it"},
		{`source="flag --vscode-tunnel"`, "does not watch a VS Code tunnel"},
	} {
		if got := predecessorWarns(log, w.source); len(got) != 1 || !strings.Contains(got[0], "is the predecessor's and has no effect") ||
			!strings.Contains(got[0], w.says) {
			t.Errorf("WARN lines for %s: %q, want one saying %q", w.source, got, w.says)
		}
	}
	// --syslog-port is knot's name too; --api-port sets agent.api_port
	// under the predecessor's name.
	if got := predecessorWarns(log, `source="flag --api-port"`); len(got) != 1 || !strings.Contains(got[0], "use --logs-port (agent.api_port)") {
		t.Errorf("WARN lines for --api-port: %q, want one naming --logs-port", got)
	}
	if n := len(predecessorWarns(log, "the predecessor's")); n != 5 {
		t.Errorf("%d WARN lines about the predecessor's names, want 5:\n%s", n, log)
	}
}

// A server whose environment holds the agent's KNOT_AGENT_ENDPOINT, and
// not its own KNOT_SERVER_AGENT_ENDPOINT, says once that the variable is
// not its setting and names the one that is; the agent's variables of
// features knot lacks are no server's business and give no warning.
func TestServerWarnsOnceAboutTheAgentsEndpointVariable(t *testing.T) {
	env := map[string]string{"KNOT_AGENT_ENDPOINT": "127.0.0.1:3010", "KNOT_CODE_SERVER_PORT": "49374"}
	s := runKnotServerEnv(t, t.TempDir(), env, "--listen", "127.0.0.1:0")
	s.call("GET", "/health", "", nil, 200, nil)
	s.stop()
	log := s.log.String()
	got := predecessorWarns(log, "KNOT_AGENT_ENDPOINT")
	if len(got) != 1 || !strings.Contains(got[0], "not the server's") || !strings.Contains(got[0], "use KNOT_SERVER_AGENT_ENDPOINT (server.agent_endpoint)") {
		t.Errorf("WARN lines about KNOT_AGENT_ENDPOINT: %q", got)
	}
	if got := predecessorWarns(log, "KNOT_CODE_SERVER_PORT"); len(got) != 0 {
		t.Errorf("the server warns about the agent's KNOT_CODE_SERVER_PORT: %q", got)
	}

	// With its own variable set, the server has nothing to say.
	env["KNOT_SERVER_AGENT_ENDPOINT"] = "127.0.0.1:3010"
	s = runKnotServerEnv(t, t.TempDir(), env, "--listen", "127.0.0.1:0")
	s.call("GET", "/health", "", nil, 200, nil)
	s.stop()
	if got := predecessorWarns(s.log.String(), "KNOT_AGENT_ENDPOINT"); len(got) != 0 {
		t.Errorf("WARN lines with KNOT_SERVER_AGENT_ENDPOINT set: %q", got)
	}
}

// knot server --agent-endpoint, the predecessor's server's flag, starts the
// server with one WARN that names --server-agent-endpoint.
func TestServerWarnsOnceAboutTheAgentEndpointFlag(t *testing.T) {
	s := runKnotServer(t, t.TempDir(), "--listen", "127.0.0.1:0", "--agent-endpoint", "127.0.0.1:3010")
	s.call("GET", "/health", "", nil, 200, nil)
	s.stop()
	got := predecessorWarns(s.log.String(), "agent-endpoint")
	if len(got) != 1 || !strings.Contains(got[0], `source="flag --agent-endpoint"`) ||
		!strings.Contains(got[0], "use --server-agent-endpoint (server.agent_endpoint)") {
		t.Errorf("WARN lines about --agent-endpoint: %q\n%s", got, s.log)
	}
}

// knot agent started with the predecessor agent's flags for its own
// listener's TLS, and its KNOT_USE_TLS, runs and logs one WARN for each
// saying that knot's agent serves no listener and verifies its leaf by
// agent.fingerprint.
func TestAgentWarnsOnceAboutThePredecessorsAgentTLSNames(t *testing.T) {
	env := map[string]string{
		"HOME": t.TempDir(), "TMPDIR": t.TempDir(),
		"KNOT_AGENT_ENDPOINT":    "127.0.0.1:1",
		"KNOT_SPACE_ID":          "0196a3c2-0000-7000-8000-000000000001",
		"KNOT_AGENT_TOKEN":       "token",
		"KNOT_AGENT_FINGERPRINT": strings.Repeat("ab", 32),
		"KNOT_USE_TLS":           "true",
	}
	a := startKnot(t, env, "agent", "--use-tls", "--tls-skip-verify", "--cert-file", "/etc/agent/cert.pem", "--key-file", "/etc/agent/key.pem")
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(a.stderr.String(), "agent link down") {
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not try its endpoint within 20s:\n%s", a.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	log := a.stderr.String()
	for _, w := range []struct{ source, says string }{
		{`source="flag --use-tls"`, "knot's agent serves no listener"},
		{`source="flag --cert-file"`, "knot's agent serves no listener"},
		{`source="flag --key-file"`, "knot's agent serves no listener"},
		{`source="flag --tls-skip-verify"`, "verifies the leaf by agent.fingerprint and never skips verification"},
		{`source="env KNOT_USE_TLS"`, "knot's agent serves no listener"},
	} {
		if got := predecessorWarns(log, w.source); len(got) != 1 || !strings.Contains(got[0], "is the predecessor's and has no effect") ||
			!strings.Contains(got[0], w.says) {
			t.Errorf("WARN lines for %s: %q, want one saying %q", w.source, got, w.says)
		}
	}
	if n := len(predecessorWarns(log, "the predecessor's")); n != 5 {
		t.Errorf("%d WARN lines about the predecessor's names, want 5:\n%s", n, log)
	}
}
