package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSSHKeyListShowsTheOlderField: knot ssh-key list prints the keys of
// the list by id, then each line of the older ssh_public_key field as
// ssh_public_key:LINE with the fingerprint ssh-keygen prints, or why it is
// not a key; knot ssh-key remove of such a key says where it is.
func TestSSHKeyListShowsTheOlderField(t *testing.T) {
	ts := startServer(t)
	env := ts.as(t, ts.adminToken)
	dir := t.TempDir()
	fingerprint := func(file string) string {
		t.Helper()
		out, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", file+".pub").Output()
		if err != nil {
			t.Fatalf("ssh-keygen -l: %v", err)
		}
		return strings.Fields(string(out))[1]
	}
	if r := knot(t, env, "", "ssh-key", "list"); r.code != 0 || r.stdout != "No SSH public keys; knot ssh-key add FILE.pub adds one.\n" {
		t.Fatalf("with no keys, knot ssh-key list: exit %d, %q", r.code, r.stdout)
	}
	listed, old := filepath.Join(dir, "id_listed"), filepath.Join(dir, "id_old")
	keygen(t, listed)
	keygen(t, old)
	mustSucceed(t, knot(t, env, "", "ssh-key", "add", listed+".pub"))
	oldLine, err := os.ReadFile(old + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	var me struct {
		ID string `json:"user_id"`
	}
	ts.mustCall(t, "GET", "/api/users/whoami", ts.adminToken, nil, &me)
	ts.mustCall(t, "PUT", "/api/users/"+me.ID, ts.adminToken, map[string]any{"ssh_public_key": "# mine\n" + string(oldLine) + "hello\n"}, nil)

	r := knot(t, env, "", "ssh-key", "list")
	mustSucceed(t, r)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	want := []string{
		"  " + fingerprint(listed) + "  id_listed",
		"ssh_public_key:2  " + fingerprint(old) + "  id_old",
		"ssh_public_key:3  not a valid public key: it names no key type, such as ssh-ed25519 or ssh-rsa",
	}
	if len(lines) != 3 || !strings.HasSuffix(lines[0], want[0]) || strings.HasPrefix(lines[0], " ") || lines[1] != want[1] || lines[2] != want[2] {
		t.Fatalf("knot ssh-key list printed\n%s\nwant\nID%s\n%s\n%s", r.stdout, want[0], want[1], want[2])
	}

	r = knot(t, env, "", "ssh-key", "remove", fingerprint(old))
	if r.code != 1 || !strings.Contains(r.stderr, "in the older ssh_public_key field") || !strings.Contains(r.stderr, "line 2") {
		t.Fatalf("removing the older field's key: %+v", r)
	}
}

// TestSSHKeyRemoveSaysSo: knot ssh-key remove says which key it removed,
// as add says which it added, and the key is gone from the list.
func TestSSHKeyRemoveSaysSo(t *testing.T) {
	ts := startServer(t)
	env := ts.as(t, ts.adminToken)
	key := filepath.Join(t.TempDir(), "id_gone")
	keygen(t, key)
	r := knot(t, env, "", "ssh-key", "add", key+".pub")
	mustSucceed(t, r)
	fields := strings.Fields(r.stdout) // added ID  FINGERPRINT  NAME
	if len(fields) != 4 {
		t.Fatalf("knot ssh-key add printed %q", r.stdout)
	}
	r = knot(t, env, "", "ssh-key", "remove", fields[2])
	mustSucceed(t, r)
	if want := "removed " + fields[2] + "\n"; r.stdout != want {
		t.Errorf("knot ssh-key remove printed %q, want %q", r.stdout, want)
	}
	if r := knot(t, env, "", "ssh-key", "list"); strings.Contains(r.stdout, fields[2]) {
		t.Errorf("the removed key is still listed:\n%s", r.stdout)
	}
}

// TestSSHConfigSaysWhenProxyCommandNeedsTheEnvironment: with the server
// and token given by KNOT_SERVER and KNOT_TOKEN alone, the ProxyCommand
// knot ssh-config update writes names no configuration file, so ssh works
// only where those are set: knot says so. With a file, it says nothing.
func TestSSHConfigSaysWhenProxyCommandNeedsTheEnvironment(t *testing.T) {
	ts := startServer(t)
	mustSucceed(t, knot(t, ts.as(t, ts.adminToken), "name: byo\nkind: manual\n", "template", "import", "-"))
	env := ts.as(t, ts.adminToken)
	mustSucceed(t, knot(t, env, "", "space", "create", "dev", "byo"))

	r := knot(t, env, "", "ssh-config", "update")
	mustSucceed(t, r)
	if !strings.Contains(r.stderr, "keep KNOT_SERVER and KNOT_TOKEN set where you run ssh, or run knot connect once") {
		t.Errorf("from the environment alone, knot ssh-config update said %q", r.stderr)
	}

	file := writeFile(t, filepath.Join(t.TempDir(), "knot.yaml"), "client:\n  server: "+ts.URL+"\n  token: "+ts.adminToken+"\n")
	withFile := clientEnv(t, "KNOT_CONFIG", file)
	r = knot(t, withFile, "", "ssh-config", "update")
	mustSucceed(t, r)
	if r.stderr != "" {
		t.Errorf("with a configuration file, knot ssh-config update said %q", r.stderr)
	}
	cfg, err := os.ReadFile(filepath.Join(withFile["HOME"], ".ssh", "config"))
	if err != nil || !strings.Contains(string(cfg), " forward ssh --config "+file+" %n") {
		t.Errorf("the ProxyCommand does not name %s: %v\n%s", file, err, cfg)
	}
}

// TestSSHConfigLeavesOutSpacesWithoutSSH: a space whose template turns
// SSH off gets no Host in the block, which would only lead to a refusal,
// and knot says why it is missing.
func TestSSHConfigLeavesOutSpacesWithoutSSH(t *testing.T) {
	ts := startServer(t)
	env := ts.as(t, ts.adminToken)
	mustSucceed(t, knot(t, env, "name: byo\nkind: manual\n", "template", "import", "-"))
	mustSucceed(t, knot(t, env, "name: nossh\nkind: manual\nwith_ssh: false\n", "template", "import", "-"))
	mustSucceed(t, knot(t, env, "", "space", "create", "dev", "byo"))
	mustSucceed(t, knot(t, env, "", "space", "create", "closed", "nossh"))

	r := knot(t, env, "", "ssh-config", "update")
	mustSucceed(t, r)
	cfg, err := os.ReadFile(filepath.Join(env["HOME"], ".ssh", "config"))
	if err != nil || !strings.Contains(string(cfg), "Host knot.dev\n") || strings.Contains(string(cfg), "knot.closed") {
		t.Fatalf("the block holds knot.dev alone? %v\n%s", err, cfg)
	}
	if !strings.Contains(r.stderr, "space closed is left out: its template nossh allows no SSH") {
		t.Errorf("knot ssh-config update said %q", r.stderr)
	}
}
