package main_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/agent"
	"github.com/knot-dev/knot/shared/testenv"
)

// startSSHD runs Debian's sshd on a loopback port with its own host key,
// taking the keys of authorizedKeys; it returns the port, the host key's
// public line, sshd's log and a function that stops it (it stops anyway
// when the test ends).
func startSSHD(t *testing.T, authorizedKeys string) (port, hostKey string, log *testenv.Buffer, stop func()) {
	t.Helper()
	dir := t.TempDir()
	keygen(t, filepath.Join(dir, "host_ed25519"))
	pub, err := os.ReadFile(filepath.Join(dir, "host_ed25519.pub"))
	if err != nil {
		t.Fatal(err)
	}
	port = loopbackPort(t)
	cfg := filepath.Join(dir, "sshd_config")
	conf := fmt.Sprintf(`Port %s
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
LogLevel VERBOSE
`, port, filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "sshd.pid"), authorizedKeys)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil && os.Geteuid() == 0 {
		t.Fatal(err)
	}
	log = &testenv.Buffer{}
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", cfg)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	t.Cleanup(stop)
	waitUntil(t, 10*time.Second, func() string {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if err != nil {
			return "sshd does not answer: " + log.String()
		}
		c.Close()
		return ""
	})
	return port, strings.TrimSpace(string(pub)), log, stop
}

// The image's own sshd (agent.port.ssh): knot's SSH connections reach it,
// authenticated with the owner's keys, which the agent keeps in a marked
// block of authorized_keys beside the lines that were there, and updates
// when the owner adds or removes a key. The agent learns the sshd's host
// key, which the server then serves as the space's, beside the space's
// own, and knot ssh-config update writes both: ssh checks the host key
// (StrictHostKeyChecking=yes) and gets in. With that sshd gone, the agent
// serves SSH itself again, with the space's own key. The client is
// Debian's ssh with the config knot ssh-config update wrote (knot forward
// ssh as its ProxyCommand).
func TestSSHReachesTheImagesOwnSSHD(t *testing.T) {
	for _, prog := range []string{"ssh", "ssh-keygen", "/usr/sbin/sshd"} {
		if _, err := exec.LookPath(prog); err != nil {
			testenv.Missing(t, prog+" (openssh-client, openssh-server)", err)
		}
	}
	s, token, tmplID := manualServer(t, "--listen", "127.0.0.1:0")

	// The space's home, whose authorized_keys holds a line of its own.
	spaceHome := t.TempDir()
	authorized := filepath.Join(spaceHome, ".ssh", "authorized_keys")
	other := filepath.Join(t.TempDir(), "other")
	keygen(t, other)
	otherPub, _ := os.ReadFile(other + ".pub")
	mine := "# the image's own line\n" + string(otherPub)
	os.MkdirAll(filepath.Dir(authorized), 0o700)
	if err := os.WriteFile(authorized, []byte(mine), 0o644); err != nil {
		t.Fatal(err)
	}
	port, hostKey, sshdLog, stopSSHD := startSSHD(t, authorized)
	spaceID := startManualSpaceEnv(t, s, token, tmplID, "dev", map[string]string{"HOME": spaceHome, "KNOT_SSH_PORT": port})

	// The agent learns the sshd's host key and the server serves it as
	// the space's, beside the space's own.
	sshdKey := strings.Join(strings.Fields(hostKey)[:2], " ")
	var info struct {
		HostKey  string   `json:"host_key"`
		HostKeys []string `json:"host_keys"`
	}
	waitUntil(t, 30*time.Second, func() string {
		s.call("GET", "/api/spaces/"+spaceID+"/ssh", token, nil, 200, &info)
		if info.HostKey != sshdKey || len(info.HostKeys) != 2 || info.HostKeys[0] != sshdKey {
			return fmt.Sprintf("the space's host keys are %q (now %q), want the sshd's %q first", info.HostKeys, info.HostKey, sshdKey)
		}
		return ""
	})

	env := clientEnv(t, "KNOT_SERVER", s.base, "KNOT_TOKEN", token)
	home := env["HOME"]
	key := filepath.Join(home, ".ssh", "id_ed25519")
	os.MkdirAll(filepath.Dir(key), 0o700)
	keygen(t, key)
	mustSucceed(t, knot(t, env, "", "ssh-key", "add", key+".pub"))
	mustSucceed(t, knot(t, env, "", "ssh-config", "update"))
	known, err := os.ReadFile(filepath.Join(home, ".ssh", "knot_known_hosts"))
	if err != nil || string(known) != "knot.dev "+info.HostKeys[0]+"\nknot.dev "+info.HostKeys[1]+"\n" {
		t.Fatalf("knot_known_hosts: %q, %v; want the sshd's key and the space's own", known, err)
	}
	c := &sshClient{t: t, home: home, key: key, env: env, config: filepath.Join(home, ".ssh", "config")}
	keyLine := func(file string) string {
		b, err := os.ReadFile(file + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(b))
		return f[0] + " " + f[1]
	}

	// The owner's key reaches the block; the file's own lines stay.
	block := func() (string, string) {
		b, _ := os.ReadFile(authorized)
		s := string(b)
		i, j := strings.Index(s, agent.KeysBegin+"\n"), strings.Index(s, agent.KeysEnd+"\n")
		if i < 0 || j < i {
			return "", s
		}
		return s[i+len(agent.KeysBegin)+1 : j], s[:i] + s[j+len(agent.KeysEnd)+1:]
	}
	waitUntil(t, 30*time.Second, func() string {
		if in, _ := block(); !strings.Contains(in, keyLine(key)) {
			b, _ := os.ReadFile(authorized)
			return "the owner's key is not in authorized_keys:\n" + string(b)
		}
		return ""
	})
	if _, rest := block(); rest != mine {
		t.Fatalf("the lines around the block are %q, want %q", rest, mine)
	}
	if fi, err := os.Stat(authorized); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("authorized_keys: %v, %v; want mode 0600", fi.Mode(), err)
	}

	// ssh reaches the image's sshd, whose host key is the one knot
	// ssh-config wrote: host key checking is on.
	viaSSHD := []string{"-o", "StrictHostKeyChecking=yes"}
	code, out, errs := c.run("ssh", append(viaSSHD, "knot.dev", "--", "echo", "sshd-$((6*7))")...)
	if code != 0 || out != "sshd-42\n" {
		t.Fatalf("ssh through the image's sshd: %d %q %s\nsshd: %s", code, out, errs, sshdLog)
	}
	if !strings.Contains(sshdLog.String(), "Accepted publickey for") {
		t.Fatalf("sshd did not take the connection:\n%s", sshdLog)
	}

	// A key added to the profile reaches the block, and one removed leaves
	// it: sshd refuses it then.
	key2 := filepath.Join(home, ".ssh", "id_second")
	keygen(t, key2)
	mustSucceed(t, knot(t, env, "", "ssh-key", "add", key2+".pub"))
	waitUntil(t, 30*time.Second, func() string {
		if in, _ := block(); !strings.Contains(in, keyLine(key2)) {
			return "the added key is not in authorized_keys: " + in
		}
		return ""
	})
	removeKey(t, env, key)
	waitUntil(t, 30*time.Second, func() string {
		if in, _ := block(); strings.Contains(in, keyLine(key)) || !strings.Contains(in, keyLine(key2)) {
			return "the removed key is still in authorized_keys: " + in
		}
		return ""
	})
	if code, out, errs := c.run("ssh", append(viaSSHD, "knot.dev", "--", "echo", "in")...); code == 0 {
		t.Fatalf("a removed key got in through the image's sshd: %q %s", out, errs)
	}
	c2 := &sshClient{t: t, home: home, key: key2, env: env, config: c.config}
	if code, out, errs := c2.run("ssh", append(viaSSHD, "knot.dev", "--", "echo", "second")...); code != 0 || out != "second\n" {
		t.Fatalf("ssh with the added key: %d %q %s", code, out, errs)
	}
	if _, rest := block(); rest != mine {
		t.Fatalf("after the updates the lines around the block are %q, want %q", rest, mine)
	}

	// With the sshd gone, the agent serves SSH itself, with the space's
	// own host key, which knot ssh-config update wrote too.
	stopSSHD()
	if code, out, errs := c2.run("ssh", append(viaSSHD, "knot.dev", "--", "echo", "agent-$((6*7))")...); code != 0 || out != "agent-42\n" {
		t.Fatalf("ssh with the image's sshd gone: %d %q %s", code, out, errs)
	}
}

// removeKey removes the key of the private key file from the profile of
// the user env acts as.
func removeKey(t *testing.T, env map[string]string, file string) {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", file+".pub").Output()
	if err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, knot(t, env, "", "ssh-key", "remove", strings.Fields(string(out))[1]))
}
