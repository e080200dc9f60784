package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/runtime/runtimetest"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/testenv"
)

// sshClient runs Debian's OpenSSH clients with the configuration knot
// ssh-config update wrote into a temporary home.
type sshClient struct {
	t      testing.TB
	home   string
	key    string            // the private key file
	env    map[string]string // the knot client environment
	config string            // the ssh config file
	extra  []string          // more environment, KEY=VALUE
}

// run runs prog (ssh, scp or sftp) with the knot block's config, the
// user's key and batch mode, and returns its exit code and output.
func (c *sshClient) run(prog string, args ...string) (int, string, string) {
	c.t.Helper()
	return c.runInput("", prog, args...)
}

// runInput is run with input as the standard input.
func (c *sshClient) runInput(input, prog string, args ...string) (int, string, string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"-F", c.config, "-i", c.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"}
	cmd := exec.CommandContext(ctx, prog, append(base, args...)...)
	cmd.Dir = c.home
	cmd.Env = c.environ()
	cmd.Stdin = strings.NewReader(input)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("%s %v: %v", prog, args, err)
	}
	return code, out.String(), errb.String()
}

// start runs prog in the background until the test ends.
func (c *sshClient) start(prog string, args ...string) {
	c.t.Helper()
	base := []string{"-F", c.config, "-i", c.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"}
	cmd := exec.Command(prog, append(base, args...)...)
	cmd.Env = c.environ()
	c.startCmd(cmd)
}

// startCmd starts cmd and stops it when the test ends.
func (c *sshClient) startCmd(cmd *exec.Cmd) {
	c.t.Helper()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
}

// environ is the environment of the OpenSSH clients: this one's without
// KNOT_ variables or an agent, with the knot client's.
func (c *sshClient) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KNOT_") && !strings.HasPrefix(kv, "SSH_AUTH_SOCK=") {
			env = append(env, kv)
		}
	}
	for k, v := range c.env {
		env = append(env, k+"="+v)
	}
	return append(env, c.extra...)
}

// poll calls cond until it holds, for up to 60 s.
func poll(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 60s; last: %s", what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *sshClient) must(prog string, args ...string) string {
	c.t.Helper()
	code, out, errs := c.run(prog, args...)
	if code != 0 {
		c.t.Fatalf("%s %v: exit %d\nstdout %s\nstderr %s", prog, args, code, out, errs)
	}
	return out
}

func keygen(t testing.TB, file string) {
	t.Helper()
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", filepath.Base(file), "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
}

func sha256File(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// oneShotServer listens on loopback and answers each connection with msg,
// then closes it.
func oneShotServer(t *testing.T, msg string) string {
	return serveLoopback(t, func(c net.Conn) { io.WriteString(c, msg) })
}

// sshSpace is a busybox space on a private Docker daemon, with the
// admin's key in their profile and ssh-config's block written.
type sshSpace struct {
	e       *runtimetest.Engine
	s       *serverProc
	token   string
	env     map[string]string
	spaceID string
	c       *sshClient
	key     string
}

func startSSHSpace(t testing.TB) *sshSpace {
	t.Helper()
	for _, prog := range []string{"ssh", "scp", "sftp", "ssh-keygen", "ssh-agent", "ssh-add"} {
		if _, err := exec.LookPath(prog); err != nil {
			testenv.Missing(t, prog+" (openssh-client)", err)
		}
	}
	// With server.encrypt: the space's host key is stored sealed and
	// opened for its agent, which OpenSSH checks against known_hosts.
	e, s, token, env := dockerServer(t, "--encrypt", crypt.GenerateKey())
	mustSucceed(t, knot(t, env, "name: box\nkind: container\nspec: |\n  image: "+e.Image+"\n  network: host\n", "template", "import", "-"))
	mustSucceed(t, knot(t, env, "", "space", "create", "dev", "box"))
	mustSucceed(t, knot(t, env, "", "space", "start", "dev"))
	if body, ok := waitOnlySpace(s, token, func(state string, agent bool) bool { return agent }); !ok {
		t.Fatalf("the space's agent did not connect within 60s: %s\n%s", body, s.log)
	}
	spaceID := spacesAt(s, token, "")[0].ID

	home := env["HOME"]
	key := filepath.Join(home, ".ssh", "id_ed25519")
	if err := os.MkdirAll(filepath.Dir(key), 0o700); err != nil {
		t.Fatal(err)
	}
	keygen(t, key)
	mustSucceed(t, knot(t, env, "", "ssh-key", "add", key+".pub"))
	if r := knot(t, env, "", "ssh-key", "list"); !strings.Contains(r.stdout, "id_ed25519") {
		t.Fatalf("ssh-key list: %+v", r)
	}
	mustSucceed(t, knot(t, env, "", "ssh-config", "update"))
	c := &sshClient{t: t, home: home, key: key, env: env, config: filepath.Join(home, ".ssh", "config")}
	cfg, _ := os.ReadFile(c.config)
	known, _ := os.ReadFile(filepath.Join(home, ".ssh", "knot_known_hosts"))
	if !strings.Contains(string(cfg), "Host knot.dev\n") || !strings.Contains(string(known), "knot.dev ssh-ed25519 ") ||
		strings.Contains(strings.ToLower(string(cfg)), "stricthostkeychecking") {
		t.Fatalf("ssh config:\n%s\nknown hosts:\n%s", cfg, known)
	}

	return &sshSpace{e: e, s: s, token: token, env: env, spaceID: spaceID, c: c, key: key}
}

// TestSSHIntoAContainerSpace: on a private Docker daemon, a busybox space
// reached with OpenSSH's ssh, scp and sftp through the configuration knot
// ssh-config update wrote, host keys checked: commands and exit codes, a
// PTY, files both ways, -L, -R, -D as an IDE's remote mode uses it, -A,
// and refusals of a wrong key and of
// a user who does not own the space. Every connection is in the audit log.
func TestSSHIntoAContainerSpace(t *testing.T) {
	sp := startSSHSpace(t)
	s, token, env, spaceID, c, key := sp.s, sp.token, sp.env, sp.spaceID, sp.c, sp.key

	t.Run("exec", func(t *testing.T) {
		c.t = t
		if out := c.must("ssh", "knot.dev", "--", "echo", "hi"); out != "hi\n" {
			t.Fatalf("echo hi: %q", out)
		}
		if code, _, _ := c.run("ssh", "knot.dev", "exit 7"); code != 7 {
			t.Fatalf("exit 7: code %d", code)
		}
		out := c.must("ssh", "-tt", "knot.dev", "tty; echo in-pty-$((6*7))")
		if !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "in-pty-42") {
			t.Fatalf("pty: %q", out)
		}
		// An interactive login shell: what is typed runs, and its exit
		// status is ssh's.
		code, out, errs := c.runInput("echo typed-$((6*7)) $TERM\nexit 5\n", "ssh", "-tt", "knot.dev")
		if code != 5 || !strings.Contains(out, "typed-42 ") {
			t.Fatalf("interactive: exit %d, %q %s", code, out, errs)
		}
	})

	t.Run("scp and sftp", func(t *testing.T) {
		c.t = t
		local := filepath.Join(t.TempDir(), "big")
		data := make([]byte, 10<<20)
		rand.Read(data)
		if err := os.WriteFile(local, data, 0o600); err != nil {
			t.Fatal(err)
		}
		want := sha256File(t, local)
		c.must("scp", local, "knot.dev:/tmp/big")
		if out := c.must("ssh", "knot.dev", "sha256sum /tmp/big"); !strings.HasPrefix(out, want) {
			t.Fatalf("sha256sum in the space: %q, want %s", out, want)
		}
		back := filepath.Join(t.TempDir(), "back")
		c.must("scp", "knot.dev:/tmp/big", back)
		if got := sha256File(t, back); got != want {
			t.Fatalf("copied back: %s, want %s", got, want)
		}
		batch := filepath.Join(t.TempDir(), "batch")
		fetched := filepath.Join(t.TempDir(), "fetched")
		os.WriteFile(batch, []byte("mkdir /tmp/sftp-dir\nput "+local+" /tmp/sftp-dir/f\nls /tmp/sftp-dir\nget /tmp/sftp-dir/f "+fetched+"\nrm /tmp/sftp-dir/f\nrmdir /tmp/sftp-dir\n"), 0o600)
		if out := c.must("sftp", "-b", batch, "knot.dev"); !strings.Contains(out, "/tmp/sftp-dir/f") {
			t.Fatalf("sftp: %q", out)
		}
		if got := sha256File(t, fetched); got != want {
			t.Fatalf("sftp get: %s, want %s", got, want)
		}
	})

	t.Run("forwarding", func(t *testing.T) {
		c.t = t
		// -L to a listener inside the space: busybox's httpd on loopback.
		inPort, localPort := loopbackPort(t), loopbackPort(t)
		c.must("ssh", "knot.dev", "mkdir -p /tmp/www && echo served-in-space > /tmp/www/index.html && httpd -p 127.0.0.1:"+inPort+" -h /tmp/www </dev/null >/dev/null 2>&1")
		c.start("ssh", "-N", "-o", "ExitOnForwardFailure=yes", "-L", "127.0.0.1:"+localPort+":127.0.0.1:"+inPort, "knot.dev")
		poll(t, "a page through ssh -L", func() (bool, string) {
			res, err := http.Get("http://127.0.0.1:" + localPort + "/")
			if err != nil {
				return false, err.Error()
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			return strings.Contains(string(b), "served-in-space"), string(b)
		})

		// -R: a listener inside the space, on its loopback, reaching a
		// server on this side.
		here := oneShotServer(t, "answered-from-the-client\n")
		rPort := loopbackPort(t)
		c.start("ssh", "-N", "-o", "ExitOnForwardFailure=yes", "-R", "127.0.0.1:"+rPort+":"+here, "knot.dev")
		poll(t, "a connection through ssh -R", func() (bool, string) {
			_, out, errs := c.run("ssh", "knot.dev", "nc 127.0.0.1 "+rPort+" </dev/null")
			return strings.Contains(out, "answered-from-the-client"), out + errs
		})
	})

	t.Run("an IDE's remote mode", func(t *testing.T) {
		c.t = t
		// As an IDE's remote mode over SSH connects (VS Code's Remote-SSH
		// by default): ssh -T -D, a script on the shell's input that
		// starts the IDE's server in the space and stays, then the IDE's
		// own connections to that server through ssh's SOCKS proxy.
		socks, serverPort := loopbackPort(t), loopbackPort(t)
		cmd := exec.Command("ssh", "-F", c.config, "-i", c.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
			"-T", "-o", "ExitOnForwardFailure=yes", "-D", "127.0.0.1:"+socks, "knot.dev", "sh")
		cmd.Env = c.environ()
		cmd.Stdin = strings.NewReader("uname -m; mkdir -p /tmp/ide && echo ide-server-$((6*7)) > /tmp/ide/index.html\n" +
			"httpd -p 127.0.0.1:" + serverPort + " -h /tmp/ide </dev/null >/dev/null 2>&1\necho listeningOn=" + serverPort + "\nsleep 120\n")
		out := &testenv.Buffer{}
		cmd.Stdout = out
		c.startCmd(cmd)
		poll(t, "the IDE's script to start its server", func() (bool, string) {
			return strings.Contains(out.String(), "listeningOn="+serverPort), out.String()
		})
		poll(t, "the IDE's server through ssh -D", func() (bool, string) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			page, err := exec.CommandContext(ctx, "curl", "-sS", "--max-time", "5", "-x", "socks5h://127.0.0.1:"+socks,
				"http://127.0.0.1:"+serverPort+"/").CombinedOutput()
			return err == nil && string(page) == "ide-server-42\n", fmt.Sprintf("%v %s", err, page)
		})
	})

	t.Run("agent", func(t *testing.T) {
		c.t = t
		dir := t.TempDir()
		bin := filepath.Join(dir, "agentkeys")
		build := exec.Command("go", "build", "-o", bin, "./testdata/agentkeys")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build agentkeys: %v %s", err, out)
		}
		sock := filepath.Join(dir, "agent.sock")
		c.startCmd(exec.Command("ssh-agent", "-D", "-a", sock))
		poll(t, "ssh-agent's socket", func() (bool, string) { _, err := os.Stat(sock); return err == nil, fmt.Sprint(err) })
		add := exec.Command("ssh-add", key)
		add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
		if out, err := add.CombinedOutput(); err != nil {
			t.Fatalf("ssh-add: %v %s", err, out)
		}
		fp, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", key+".pub").Output()
		if err != nil {
			t.Fatal(err)
		}
		c.must("scp", bin, "knot.dev:/tmp/agentkeys")
		withAgent := *c
		withAgent.extra = []string{"SSH_AUTH_SOCK=" + sock}
		out := withAgent.must("ssh", "-A", "knot.dev", "chmod +x /tmp/agentkeys && /tmp/agentkeys")
		if f := strings.Fields(string(fp)); len(f) < 2 || !strings.Contains(out, f[1]) {
			t.Fatalf("keys seen through ssh -A: %q, want %s", out, fp)
		}
		if code, _, _ := c.run("ssh", "knot.dev", "/tmp/agentkeys"); code == 0 {
			t.Fatal("without -A the space reached an agent")
		}
	})

	t.Run("refusals", func(t *testing.T) {
		c.t = t
		other := filepath.Join(t.TempDir(), "other")
		keygen(t, other)
		wrong := *c
		wrong.key = other
		code, _, errs := wrong.run("ssh", "knot.dev", "true")
		if code != 255 || !strings.Contains(errs, "Permission denied") {
			t.Fatalf("a key not in the profile: exit %d, %s", code, errs)
		}
		// A known_hosts entry that does not match: ssh refuses the host.
		bad := filepath.Join(t.TempDir(), "known")
		hostOnly := filepath.Join(t.TempDir(), "hostkey")
		keygen(t, hostOnly)
		pub, _ := os.ReadFile(hostOnly + ".pub")
		os.WriteFile(bad, []byte("knot.dev "+string(pub)), 0o600)
		code, _, errs = c.run("ssh", "-o", "UserKnownHostsFile="+bad, "knot.dev", "true")
		if code != 255 || !strings.Contains(errs, "HOST IDENTIFICATION HAS CHANGED") {
			t.Fatalf("a wrong host key: exit %d, %s", code, errs)
		}

		s.fetch("POST", "/api/users", token, map[string]any{"username": "bob", "email": "bob@example.com", "password": "a-long-password"})
		code2, body := s.fetch("POST", "/api/auth", "", map[string]string{"email": "bob@example.com", "password": "a-long-password"})
		var bob struct{ Token string }
		if code2 != http.StatusOK || json.Unmarshal(body, &bob) != nil {
			t.Fatalf("bob's login: %d %s", code2, body)
		}
		if code, body := s.fetch("GET", "/api/spaces/"+spaceID+"/ssh", bob.Token, nil); code != http.StatusNotFound {
			t.Fatalf("bob asked for the space's SSH: %d %s", code, body)
		}
		req, _ := http.NewRequest("GET", s.base+"/api/spaces/"+spaceID+"/ssh", nil)
		for k, v := range map[string]string{"Authorization": "Bearer " + bob.Token, "Upgrade": "websocket", "Connection": "Upgrade",
			"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="} {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Fatalf("bob's SSH websocket: %d", res.StatusCode)
		}
		bobEnv := clientEnv(t, "KNOT_SERVER", env["KNOT_SERVER"], "KNOT_TOKEN", bob.Token)
		if r := knot(t, bobEnv, "", "forward", "ssh", "knot.dev"); r.code == 0 || !strings.Contains(r.stderr, "no space named") {
			t.Fatalf("bob's knot forward ssh: %+v", r)
		}
	})

	t.Run("host key after a restart", func(t *testing.T) {
		c.t = t
		mustSucceed(t, knot(t, env, "", "space", "stop", "dev"))
		mustSucceed(t, knot(t, env, "", "space", "start", "dev"))
		if body, ok := waitOnlySpace(s, token, func(state string, agent bool) bool { return state == "running" && agent }); !ok {
			t.Fatalf("the space's agent did not come back within 60s: %s", body)
		}
		// The same known_hosts file, written before the restart.
		if out := c.must("ssh", "knot.dev", "echo same-host"); out != "same-host\n" {
			t.Fatalf("after a restart: %q", out)
		}
	})

	t.Run("remove", func(t *testing.T) {
		c.t = t
		fp, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", key+".pub").Output()
		if err != nil {
			t.Fatal(err)
		}
		mustSucceed(t, knot(t, env, "", "ssh-key", "remove", strings.Fields(string(fp))[1]))
		if code, _, errs := c.run("ssh", "knot.dev", "true"); code != 255 || !strings.Contains(errs, "no SSH public key") {
			t.Fatalf("after the key was removed: exit %d, %s", code, errs)
		}
		mustSucceed(t, knot(t, env, "", "ssh-config", "remove"))
		cfg, _ := os.ReadFile(c.config)
		if strings.Contains(string(cfg), "KNOT-START") || strings.Contains(string(cfg), "knot.dev") {
			t.Fatalf("after ssh-config remove:\n%s", cfg)
		}
		if _, err := os.Stat(filepath.Join(env["HOME"], ".ssh", "knot_known_hosts")); !os.IsNotExist(err) {
			t.Fatalf("knot_known_hosts after ssh-config remove: %v", err)
		}
	})

	t.Run("audit", func(t *testing.T) {
		_, body := s.fetch("GET", "/api/audit-logs?max_items=1000", token, nil)
		var logs struct {
			Items []struct {
				Event      string            `json:"event"`
				Properties map[string]string `json:"properties"`
			} `json:"items"`
		}
		if err := json.Unmarshal(body, &logs); err != nil {
			t.Fatalf("audit: %v %s", err, body)
		}
		var most, mostOut int64
		opened, refused := 0, 0
		for _, ev := range logs.Items {
			switch ev.Event {
			case "ssh opened":
				opened++
			case "ssh refused":
				refused++
			case "ssh closed":
				in, _ := strconv.ParseInt(ev.Properties["bytes_in"], 10, 64)
				out, _ := strconv.ParseInt(ev.Properties["bytes_out"], 10, 64)
				most, mostOut = max(most, in), max(mostOut, out)
				if ev.Properties["duration"] == "" || ev.Properties["ip"] == "" {
					t.Errorf("an ssh closed event without duration or ip: %v", ev.Properties)
				}
			}
		}
		if opened == 0 || refused == 0 || most < 10<<20 || mostOut < 10<<20 {
			t.Fatalf("audit: %d opened, %d refused, the most bytes in and out of one connection %d, %d\n%s", opened, refused, most, mostOut, body)
		}
	})
}

// TestSSHAtALeafWhileItsOriginIsDown: the key added at the origin reaches
// the leaf with the user record, and ssh into the leaf's space works with
// the origin killed.
func TestSSHAtALeafWhileItsOriginIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a container engine")
	}
	if _, err := exec.LookPath("ssh"); err != nil {
		testenv.Missing(t, "ssh (openssh-client)", err)
	}
	e, err := runtimetest.StartDocker(context.Background())
	if err != nil {
		testenv.Missing(t, "docker", err)
	}
	t.Cleanup(func() { e.Close() })
	o := runKnotServer(t, t.TempDir(), "--listen", "127.0.0.1:"+loopbackPort(t), "--location", "hq", "--shared-token", fleetSharedToken)
	originUp := true
	t.Cleanup(func() {
		if originUp {
			o.stop()
		}
	})
	l := runKnotServerOf(t, e.Knot(t), t.TempDir(), nil, "--listen", "127.0.0.1:0", "--location", "branch", "--shared-token", fleetSharedToken,
		"--origin-server", o.base, "--listen-agent", "127.0.0.1:"+loopbackPort(t), "--docker-host", e.Host)
	t.Cleanup(l.stop)
	o.call("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"}, 201, nil)
	originEnv := clientEnv(t, "KNOT_SERVER", o.base, "KNOT_TOKEN", o.login())
	mustSucceed(t, knot(t, originEnv, "name: box\nkind: container\nspec: |\n  image: "+e.Image+"\n  network: host\n", "template", "import", "-"))
	key := filepath.Join(t.TempDir(), "id_ed25519")
	keygen(t, key)
	mustSucceed(t, knot(t, originEnv, "", "ssh-key", "add", key+".pub"))

	var leafToken string
	waitUntil(t, 60*time.Second, func() string {
		if leafToken = tryLogin(l); leafToken == "" {
			return "the admin cannot log in at the leaf yet"
		}
		if _, body := l.fetch("GET", "/api/users/whoami", leafToken, nil); !strings.Contains(string(body), `"admin"`) {
			return "whoami at the leaf: " + string(body)
		}
		var me struct {
			ID string `json:"user_id"`
		}
		_, body := l.fetch("GET", "/api/users/whoami", leafToken, nil)
		json.Unmarshal(body, &me)
		if _, body := l.fetch("GET", "/api/users/"+me.ID+"/ssh-keys", leafToken, nil); !strings.Contains(string(body), "SHA256:") {
			return "the leaf has no key of the admin yet: " + string(body)
		}
		return ""
	})
	env := clientEnv(t, "KNOT_SERVER", l.base, "KNOT_TOKEN", leafToken)
	waitUntil(t, 60*time.Second, func() string {
		if r := knot(t, env, "", "space", "create", "dev", "box"); r.code != 0 {
			return "space create at the leaf: " + r.stderr
		}
		return ""
	})
	mustSucceed(t, knot(t, env, "", "space", "start", "dev"))
	if body, ok := waitOnlySpace(l, leafToken, func(state string, agent bool) bool { return agent }); !ok {
		t.Fatalf("the space's agent did not connect within 60s: %s\n%s", body, l.log)
	}

	o.kill()
	originUp = false
	home := env["HOME"]
	mustSucceed(t, knot(t, env, "", "ssh-config", "update"))
	c := &sshClient{t: t, home: home, key: key, env: env, config: filepath.Join(home, ".ssh", "config")}
	if out := c.must("ssh", "knot.dev", "echo", "at-the-leaf"); out != "at-the-leaf\n" {
		t.Fatalf("ssh with the origin down: %q", out)
	}
}
