package main_test

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared/config"
)

// knot connect --use-web-auth --paste-token points at the web UI's token
// page, reads the pasted token, checks it and saves it.
func TestConnectUseWebAuthPaste(t *testing.T) {
	ts := startServer(t)
	env := clientEnv(t)
	file := filepath.Join(env["XDG_CONFIG_HOME"], "knot", "knot.yaml")

	// The page it names is the web UI's API tokens page.
	resp, err := http.Get(ts.URL + "/tokens")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /tokens: %d", resp.StatusCode)
	}

	tok := ts.newToken(t, adminEmail, adminPassword) // as the page makes it
	r := knot(t, env, "  "+tok+"\n", "connect", "--use-web-auth", "--paste-token", ts.URL)
	mustSucceed(t, r)
	if !strings.Contains(r.stderr, "Open "+ts.URL+"/tokens in a browser") {
		t.Errorf("stderr: %q", r.stderr)
	}
	if !strings.Contains(r.stdout, "Connected to "+ts.URL+" as admin; the API token is saved in "+file) {
		t.Errorf("stdout: %q", r.stdout)
	}
	cfg, err := config.Load(config.Options{File: file, Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Client.Server != ts.URL || cfg.Client.Token != tok {
		t.Errorf("saved server %q, token %q", cfg.Client.Server, cfg.Client.Token)
	}
	mustSucceed(t, knot(t, env, "", "space", "list"))

	// A token the server refuses is not saved.
	env2 := clientEnv(t)
	r = knot(t, env2, "not-a-token\n", "connect", "--use-web-auth", "--paste-token", ts.URL)
	if r.code != 1 || !strings.Contains(r.stderr, "check the API token") {
		t.Errorf("bad token: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(env2["XDG_CONFIG_HOME"], "knot", "knot.yaml")); err == nil {
		t.Error("a refused token was saved")
	}
	for _, tc := range []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"", []string{"connect", "--use-web-auth", "--paste-token", ts.URL}, 1, "no API token on standard input"},
		{"\n", []string{"connect", "--use-web-auth", "--paste-token", ts.URL}, 1, "no API token given"},
		{"a b\n", []string{"connect", "--use-web-auth", "--paste-token", ts.URL}, 1, "contains spaces"},
		{tok + "\n", []string{"connect", "--use-web-auth", "--paste-token", "--email", adminEmail, ts.URL}, 2, "--email is for a password login"},
		{tok + "\n", []string{"connect", "--use-web-auth", "--paste-token", "--token-lifetime", "1h", ts.URL}, 2, "--token-lifetime is for a password login"},
		{tok + "\n", []string{"connect", "--paste-token", ts.URL}, 2, "--paste-token goes with --use-web-auth"},
	} {
		r := knot(t, clientEnv(t), tc.stdin, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q %v: exit %d, stderr %q", tc.stdin, tc.args, r.code, r.stderr)
		}
	}
}

// Ctrl-C while knot connect --use-web-auth waits for the browser ends it
// at once with a reason and a failing status, and saves nothing.
func TestConnectUseWebAuthInterrupted(t *testing.T) {
	cli, env, page := webAuthCLI(t, "http://127.0.0.1:1") // knot asks the server nothing before the browser is back
	if err := cli.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if c := cli.exitCode(t); c != 1 || !strings.Contains(cli.stderr.String(), "knot: interrupted while waiting for the approval in the browser; nothing was saved") {
		t.Fatalf("exit %d, stderr:\n%s", c, cli.stderr.String())
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+page.Query().Get("port"), 5*time.Second); err == nil {
		c.Close()
		t.Errorf("port %s still listens", page.Query().Get("port"))
	}
	if cfg := savedClientConfig(t, env); cfg != nil {
		t.Errorf("a configuration was saved: %+v", cfg.Client)
	}
}
