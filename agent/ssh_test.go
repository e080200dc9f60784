package agent_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	sshagent "golang.org/x/crypto/ssh/agent"

	"github.com/knot-dev/knot/agent"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/testenv"
)

// newKey returns a new ed25519 signer and its private key as OpenSSH PEM.
func newKey(t *testing.T) (ssh.Signer, string, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, string(pem.EncodeToMemory(block)), priv
}

// sshLink is an agent linked to a fake leaf, with a host key and a user
// key, ready for SSH connections.
type sshLink struct {
	mux     *yamux.Session
	host    ssh.Signer
	hostPEM string
	user    ssh.Signer
	userKey ed25519.PrivateKey
	shell   string // the space's shell, as the leaf sends it; "" none
}

func startSSHLink(t *testing.T) *sshLink {
	t.Helper()
	l := startFakeLeaf(t)
	runAgent(t, agent.Options{Endpoint: l.addr, SpaceID: "s", Token: "t", Fingerprint: l.fp})
	waitFor(t, "the link", func() bool { return l.linked() != nil })
	host, hostPEM, _ := newKey(t)
	user, _, userKey := newKey(t)
	return &sshLink{mux: l.linked(), host: host, hostPEM: hostPEM, user: user, userKey: userKey}
}

// dial opens an SSH connection through the link, authenticating with
// key, the profile holding the fingerprints of keys.
func (sl *sshLink) dial(t *testing.T, key ssh.Signer, keys ...ssh.Signer) (*ssh.Client, error) {
	t.Helper()
	st, err := sl.mux.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	o := agentwire.SSH{HostKey: sl.hostPEM, User: "alice", Remote: "127.0.0.1:1", Shell: sl.shell}
	for _, k := range keys {
		o.Keys = append(o.Keys, ssh.FingerprintSHA256(k.PublicKey()))
	}
	if err := agentwire.WriteJSON(st, agentwire.Open{Type: agentwire.OpenSSH, SSH: &o}); err != nil {
		t.Fatal(err)
	}
	var op agentwire.Opened
	if err := agentwire.ReadJSON(st, &op); err != nil || op.Error != "" {
		t.Fatalf("open: %v %+v", err, op)
	}
	cfg := &ssh.ClientConfig{
		User:            "alice",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: ssh.FixedHostKey(sl.host.PublicKey()),
		Timeout:         10 * time.Second,
	}
	c, chans, reqs, err := ssh.NewClientConn(st, "knot.space", cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	cl := ssh.NewClient(c, chans, reqs)
	t.Cleanup(func() { cl.Close() })
	return cl, nil
}

func (sl *sshLink) client(t *testing.T) *ssh.Client {
	t.Helper()
	cl, err := sl.dial(t, sl.user, sl.user)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func run(t *testing.T, cl *ssh.Client, cmd string, setup func(*ssh.Session)) (string, int) {
	t.Helper()
	s, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if setup != nil {
		setup(s)
	}
	out, err := s.CombinedOutput(cmd)
	var ee *ssh.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitStatus()
	}
	t.Fatalf("%s: %v", cmd, err)
	return "", 0
}

func TestSSHExecEnvAndPTY(t *testing.T) {
	noLeaks(t)
	sl := startSSHLink(t)
	cl := sl.client(t)

	if out, code := run(t, cl, "echo hi; exit 3", nil); out != "hi\n" || code != 3 {
		t.Fatalf("exec: %q code %d", out, code)
	}
	out, _ := run(t, cl, `echo "$GREETING"`, func(s *ssh.Session) {
		if err := s.Setenv("GREETING", "hello there"); err != nil {
			t.Fatal(err)
		}
	})
	if out != "hello there\n" {
		t.Fatalf("env: %q", out)
	}
	if out, _ := run(t, cl, `echo "[$KNOT_AGENT_TOKEN]"`, nil); out != "[]\n" {
		t.Fatalf("the agent's token reached a command: %q", out)
	}
	out, code := run(t, cl, "tty; stty size", func(s *ssh.Session) {
		if err := s.RequestPty("xterm", 33, 101, ssh.TerminalModes{}); err != nil {
			t.Fatal(err)
		}
	})
	if !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "33 101") || code != 0 {
		t.Fatalf("pty: %q code %d", out, code)
	}
}

func TestSSHRefusesAKeyNotInTheProfile(t *testing.T) {
	noLeaks(t)
	sl := startSSHLink(t)
	other, _, _ := newKey(t)
	if _, err := sl.dial(t, other, sl.user); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("a key not in the profile: %v", err)
	}
	if _, err := sl.dial(t, sl.user); err == nil {
		t.Fatal("a user with no keys got in")
	}
}

func TestSSHSFTP(t *testing.T) {
	noLeaks(t)
	t.Setenv("HOME", t.TempDir())
	sl := startSSHLink(t)
	sc, err := sftp.NewClient(sl.client(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	data := bytes.Repeat([]byte("knot "), 300_000)
	f, err := sc.Create("file.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	f.Close()
	f, err = sc.Open("file.txt")
	if err != nil {
		t.Fatal(err)
	}
	back, err := io.ReadAll(f)
	f.Close()
	if err != nil || !bytes.Equal(back, data) {
		t.Fatalf("read back %d bytes of %d: %v", len(back), len(data), err)
	}
	wd, _ := sc.Getwd()
	if home, _ := sc.RealPath("."); wd == "" || home == "" {
		t.Fatalf("working directory %q", wd)
	}
}

// echoServer listens on loopback and echoes every connection.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo: %q %v", buf, err)
	}
}

func TestSSHForwardsLocalAndRemote(t *testing.T) {
	noLeaks(t)
	sl := startSSHLink(t)
	cl := sl.client(t)

	// -L: dialled inside the space.
	c, err := cl.Dial("tcp", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "through -L")
	c.Close()
	if _, err := cl.Dial("tcp", "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "cannot connect") {
		t.Fatalf("-L to a closed port: %v", err)
	}

	// -R: a listener inside the space, on loopback only.
	ln, err := cl.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	c, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "through -R")
	c.Close()
	ln.Close()
	if _, err := cl.Listen("tcp", "0.0.0.0:0"); err == nil {
		t.Fatal("a remote forward on every interface was accepted")
	}
}

func TestSSHForwardsTheAgent(t *testing.T) {
	noLeaks(t)
	sl := startSSHLink(t)
	cl := sl.client(t)
	keyring := sshagent.NewKeyring()
	if err := keyring.Add(sshagent.AddedKey{PrivateKey: sl.userKey, Comment: "forwarded"}); err != nil {
		t.Fatal(err)
	}
	if err := sshagent.ForwardToAgent(cl, keyring); err != nil {
		t.Fatal(err)
	}
	s, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := sshagent.RequestAgentForwarding(s); err != nil {
		t.Fatal(err)
	}
	// The command asks the forwarded agent through its socket: the test
	// runs in the same machine, so it connects to that socket too.
	stdout, _ := s.StdoutPipe()
	if err := s.Start(`echo "$SSH_AUTH_SOCK"; read line`); err != nil {
		t.Fatal(err)
	}
	var sock string
	if _, err := fmt.Fscanln(stdout, &sock); err != nil || sock == "" {
		t.Fatalf("SSH_AUTH_SOCK: %q %v", sock, err)
	}
	uc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	keys, err := sshagent.NewClient(uc).List()
	if err != nil || len(keys) != 1 || keys[0].Comment != "forwarded" {
		t.Fatalf("keys through the forwarded agent: %v %v", keys, err)
	}
}

func TestSSHBoundsChannels(t *testing.T) {
	noLeaks(t)
	sl := startSSHLink(t)
	cl := sl.client(t)
	for range agent.SSHMaxChannels {
		if _, _, err := cl.OpenChannel("session", nil); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := cl.OpenChannel("session", nil)
	var oce *ssh.OpenChannelError
	if !errors.As(err, &oce) || oce.Reason != ssh.ResourceShortage || !strings.Contains(oce.Message, "at most") {
		t.Fatalf("a channel over the bound: %v", err)
	}
	_, _, err = cl.OpenChannel("x11", nil)
	if err == nil {
		t.Fatal("an unknown channel type was accepted")
	}
}

// listenSSH serves the link's SSH on a loopback port, as knot's relay
// does, for OpenSSH's clients; the profile holds keys.
func (sl *sshLink) listenSSH(t *testing.T, keys ...ssh.PublicKey) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	o := agentwire.SSH{HostKey: sl.hostPEM, User: "alice"}
	for _, k := range keys {
		o.Keys = append(o.Keys, ssh.FingerprintSHA256(k))
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			st, err := sl.mux.OpenStream()
			if err != nil {
				c.Close()
				return
			}
			agentwire.WriteJSON(st, agentwire.Open{Type: agentwire.OpenSSH, SSH: &o})
			var op agentwire.Opened
			if agentwire.ReadJSON(st, &op) != nil {
				c.Close()
				st.Close()
				continue
			}
			go func() { io.Copy(st, c); st.Close() }()
			go func() { io.Copy(c, st); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// TestSSHServesOpenSSHScp copies a file both ways with OpenSSH's scp
// (which speaks SFTP): scp fails when the sftp session ends without an
// exit status.
func TestSSHServesOpenSSHScp(t *testing.T) {
	if _, err := exec.LookPath("scp"); err != nil {
		testenv.Missing(t, "scp (openssh-client)", err)
	}
	noLeaks(t)
	t.Setenv("HOME", t.TempDir())
	sl := startSSHLink(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pubb, _ := os.ReadFile(key + ".pub")
	pub, _, _, _, err := ssh.ParseAuthorizedKey(pubb)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(sl.listenSSH(t, pub))
	kh := filepath.Join(dir, "known_hosts")
	os.WriteFile(kh, append([]byte("[127.0.0.1]:"+port+" "), ssh.MarshalAuthorizedKey(sl.host.PublicKey())...), 0o600)
	data := make([]byte, 3<<20)
	rand.Read(data)
	src, there, back := filepath.Join(dir, "src"), filepath.Join(dir, "there"), filepath.Join(dir, "back")
	os.WriteFile(src, data, 0o600)
	scp := func(from, to string) {
		t.Helper()
		out, err := exec.Command("scp", "-F", "/dev/null", "-i", key, "-o", "UserKnownHostsFile="+kh, "-o", "BatchMode=yes",
			"-P", port, from, to).CombinedOutput()
		if err != nil {
			t.Fatalf("scp %s %s: %v %s", from, to, err, out)
		}
	}
	scp(src, host+":"+there)
	scp(host+":"+there, back)
	if got, _ := os.ReadFile(back); !bytes.Equal(got, data) {
		t.Fatalf("copied back %d bytes that differ from the %d sent", len(got), len(data))
	}
}

// TestSSHRefusesABadClient: bytes that are not SSH end the connection,
// and the agent goes on serving. (Lines before a version line are
// allowed by the protocol: such a client is cut by the handshake's
// deadline.)
func TestSSHRefusesABadClient(t *testing.T) {
	noLeaks(t)
	sl := startSSHLink(t)
	for _, junk := range []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat("x", 300), "SSH-2.0-x\r\n" + strings.Repeat("\xff", 70000), strings.Repeat("A", 100000)} {
		st, err := sl.mux.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		agentwire.WriteJSON(st, agentwire.Open{Type: agentwire.OpenSSH, SSH: &agentwire.SSH{HostKey: sl.hostPEM}})
		var op agentwire.Opened
		if err := agentwire.ReadJSON(st, &op); err != nil || op.Error != "" {
			t.Fatalf("open: %v %+v", err, op)
		}
		go st.Write([]byte(junk))
		st.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadAll(st); err != nil {
			t.Fatalf("the agent did not close a connection of junk: %v", err)
		}
		st.Close()
	}
	if out, _ := run(t, sl.client(t), "echo still", nil); out != "still\n" {
		t.Fatalf("after junk: %q", out)
	}
}

// TestSSHExitSignal: a program ended by a signal is reported as
// exit-signal with the signal's name, as sshd reports it (OpenSSH's ssh
// then exits 255); a status stays a status.
func TestSSHExitSignal(t *testing.T) {
	noLeaks(t)
	sl := startSSHLink(t)
	cl := sl.client(t)
	for _, tt := range []struct {
		name, cmd, signal string
		status            int
	}{
		{"Signal", "kill -TERM $$", "TERM", 143}, // x/crypto's status of a signal: 128+N
		{"Status", "exit 143", "", 143},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := cl.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = s.Run(tt.cmd)
			var ee *ssh.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("%s: %v, want an exit error", tt.cmd, err)
			}
			if ee.Signal() != tt.signal || ee.ExitStatus() != tt.status {
				t.Errorf("%s: signal %q status %d, want signal %q status %d", tt.cmd, ee.Signal(), ee.ExitStatus(), tt.signal, tt.status)
			}
		})
	}
}
