package main_test

import (
	"strings"
	"testing"
)

// A command of knot's predecessor that knot does not have says what to
// use instead; one that knot has under another name runs.
func TestPredecessorCommands(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"proxy", "lookup", "x"}, "knot forward port SPACE PORT"},
		{[]string{"direct", "ssh", "x"}, "knot makes no DNS SRV lookups"},
		{[]string{"tunnel", "http", "8080", "web"}, "knot has no tunnel server"},
		{[]string{"legal"}, "go version -m"},
		{[]string{"agent", "set-description", "my space"}, "knot agent set-description was a command of knot's predecessor: knot's agent changes nothing"},
		{[]string{"space", "create", "dev", "byo", "--server", "london"}, "knot's predecessor named the space's server with it: use --location london"},
		{[]string{"connect", "-u", "alice", "https://knot.example.com"}, "knot connect logs in with your email: use --email (-e)"},
		{[]string{"connect", "--username", "alice", "https://knot.example.com"}, "knot connect logs in with your email: use --email (-e)"},
		{[]string{"admin", "rename-location", "a", "b"}, "knot admin rename-location was a command of knot's predecessor"},
	} {
		r := knot(t, nil, "", tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, r.code, r.stderr)
		}
	}
	// Other unknown commands stay unknown.
	r := knot(t, nil, "", "frobnicate")
	if r.code != 2 || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("frobnicate: exit %d, stderr %q", r.code, r.stderr)
	}
	// The predecessor's plural names run knot's commands.
	ts := startServer(t)
	env := ts.as(t, ts.adminToken)
	mustSucceed(t, knot(t, env, "name: byo\nkind: manual\n", "templates", "import", "-"))
	mustSucceed(t, knot(t, env, "", "spaces", "create", "dev", "byo"))
	r = knot(t, env, "", "spaces", "list")
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "dev") {
		t.Errorf("spaces list: %q", r.stdout)
	}
	// The predecessor's global --config (-c) goes to the command.
	file := writeFile(t, t.TempDir()+"/knot.yaml", "client:\n  server: "+ts.URL+"\n  token: "+ts.adminToken+"\n")
	for _, args := range [][]string{{"-c", file, "spaces", "list"}, {"--config=" + file, "--log-level", "warn", "space", "ls"}} {
		r = knot(t, clientEnv(t), "", args...)
		mustSucceed(t, r)
		if !strings.Contains(r.stdout, "dev") {
			t.Errorf("%v: %q", args, r.stdout)
		}
	}
}
