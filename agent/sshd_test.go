package agent_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/knot-dev/knot/agent"
)

// The agent's block of authorized_keys: made with the file and its
// directory, replaced alone when the keys change (the other lines stay
// where they are), emptied when there are none; the file is mode 0600.
// A block without its end line is not touched.
func TestWriteAuthorizedKeysReplacesOnlyItsBlock(t *testing.T) {
	file := filepath.Join(t.TempDir(), ".ssh", "authorized_keys")
	read := func() string {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	block := func(keys ...string) string {
		return agent.KeysBegin + "\n" + strings.Join(append(keys, agent.KeysEnd), "\n") + "\n"
	}
	if err := agent.WriteAuthorizedKeys(file, []string{"ssh-ed25519 AAAA1 a"}); err != nil {
		t.Fatal(err)
	}
	if got, want := read(), block("ssh-ed25519 AAAA1 a"); got != want {
		t.Fatalf("new file:\n%s\nwant\n%s", got, want)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(filepath.Dir(file)); fi.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %v, want 0700", fi.Mode().Perm())
	}

	// Lines of the image's own, before and after the block.
	os.WriteFile(file, []byte("# mine\nssh-rsa AAAAmine me\n"+block("ssh-ed25519 AAAA1 a")+"ssh-ed25519 AAAAlast last"), 0o644)
	if err := agent.WriteAuthorizedKeys(file, []string{"ssh-ed25519 AAAA2 b", "ssh-ed25519 AAAA3 c\nssh-ed25519 AAAAsneak x", ""}); err != nil {
		t.Fatal(err)
	}
	want := "# mine\nssh-rsa AAAAmine me\n" + block("ssh-ed25519 AAAA2 b") + "ssh-ed25519 AAAAlast last\n"
	if got := read(); got != want {
		t.Fatalf("replaced block:\n%s\nwant\n%s", got, want)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v after a rewrite, want 0600", fi.Mode().Perm())
	}
	if err := agent.WriteAuthorizedKeys(file, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := read(), "# mine\nssh-rsa AAAAmine me\n"+block()+"ssh-ed25519 AAAAlast last\n"; got != want {
		t.Fatalf("no keys:\n%s\nwant\n%s", got, want)
	}

	broken := "ssh-rsa AAAAmine me\n" + agent.KeysBegin + "\nssh-ed25519 AAAA1 a\n"
	os.WriteFile(file, []byte(broken), 0o600)
	if err := agent.WriteAuthorizedKeys(file, []string{"ssh-ed25519 AAAA2 b"}); err == nil || read() != broken {
		t.Fatalf("a block without its end: %v, file %q", err, read())
	}
}

// SSHDHostKeys takes the host keys an SSH server presents, one per kind it
// has, without going past the handshake; nothing answering gives none.
func TestSSHDHostKeysAreThoseTheServerPresents(t *testing.T) {
	var want []string
	cfg := &ssh.ServerConfig{NoClientAuth: true}
	for _, make := range []func() (crypto.Signer, error){
		func() (crypto.Signer, error) { _, k, err := ed25519.GenerateKey(rand.Reader); return k, err },
		func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) },
	} {
		k, err := make()
		if err != nil {
			t.Fatal(err)
		}
		signer, err := ssh.NewSignerFromSigner(k)
		if err != nil {
			t.Fatal(err)
		}
		cfg.AddHostKey(signer)
		want = append(want, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var authed atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, _, _, err := ssh.NewServerConn(c, cfg); err == nil {
					authed.Add(1)
				}
			}()
		}
	}()
	if got := agent.SSHDHostKeys(ln.Addr().String(), 5*time.Second); !slices.Equal(got, want) {
		t.Fatalf("SSHDHostKeys = %q, want %q", got, want)
	}
	if authed.Load() != 0 {
		t.Fatal("a handshake went past the host key")
	}
	addr := ln.Addr().String()
	ln.Close()
	if got := agent.SSHDHostKeys(addr, time.Second); got != nil {
		t.Fatalf("with nothing listening SSHDHostKeys = %q, want none", got)
	}
}

// Something that is not an SSH server on the port (one that reads and
// never answers) gives no keys, after one handshake's timeout, not one per
// kind of key: the agent's heartbeat waits for it.
func TestSSHDHostKeysGiveUpOnWhatIsNotSSH(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				c.Read(make([]byte, 1024))
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				c.Read(make([]byte, 1024))
			}()
		}
	}()
	began := time.Now()
	if got := agent.SSHDHostKeys(ln.Addr().String(), 300*time.Millisecond); got != nil {
		t.Fatalf("SSHDHostKeys of a silent server = %q, want none", got)
	}
	if took, n := time.Since(began), conns.Load(); n != 1 || took > 3*time.Second {
		t.Fatalf("SSHDHostKeys tried %d connections in %s, want one handshake's timeout", n, took)
	}
}
