package leaf_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/sshkey"
)

func TestAgentServesSSHThroughTheLeaf(t *testing.T) {
	noLeaks(t)
	b := newAgentBed(t)
	tok := b.space("s1")
	b.run("s1", tok)
	waitFor(t, "the agent", func() bool { return b.agents.Status("s1").Connected })

	hostPriv, hostPub, err := sshkey.NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	hk, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(hostPub))
	_, userKey, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(userKey)

	st, err := b.agents.OpenSSH(context.Background(), "s1", agentwire.SSH{HostKey: hostPriv, Keys: []string{ssh.FingerprintSHA256(signer.PublicKey())}, User: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	c, chans, reqs, err := ssh.NewClientConn(st.(net.Conn), "knot.s1", &ssh.ClientConfig{
		User: "ann", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.FixedHostKey(hk), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	cl := ssh.NewClient(c, chans, reqs)
	defer cl.Close()
	s, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Output("echo through-the-leaf; exit 4")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 4 || string(out) != "through-the-leaf\n" {
		t.Fatalf("exec: %q %v", out, err)
	}
	s.Close()

	// A host key the agent cannot read is refused with the agent's reason.
	_, err = b.agents.OpenSSH(context.Background(), "s1", agentwire.SSH{HostKey: "not a key"})
	if shared.ErrorCode(err) != shared.EINVALID || !strings.Contains(err.Error(), "host key") {
		t.Fatalf("a bad host key: %v", err)
	}
	// No agent: unavailable.
	if _, err := b.agents.OpenSSH(context.Background(), "s9", agentwire.SSH{HostKey: hostPriv}); shared.ErrorCode(err) != shared.EUNAVAILABLE {
		t.Fatalf("no agent: %v", err)
	}
}
