package leaf_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/sshkey"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage/memory"
)

// A relayed SSH connection or port is checked and audited at the space's
// leaf as a terminal is; SSH gets the host key and the user's keys of the
// leaf's own records, whatever the header says.
func TestRelayedSSHAndPortsAreCheckedAndAuditedAtTheSpacesLeaf(t *testing.T) {
	noLeaks(t)
	b := newAgentBed(t)
	tok := b.space("sp1")
	b.run("sp1", tok)
	waitFor(t, "the agent links", func() bool { return b.agents.Status("sp1").Connected })

	hostPriv, hostPub, err := sshkey.NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	hk, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(hostPub))
	_, userKey, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(userKey)
	ctx := context.Background()
	st := memory.New()
	for _, r := range []shared.Record{
		&shared.Space{Meta: shared.Meta{ID: "sp1"}, Name: "dev", UserID: "ann", Location: "here", Shell: "sh", SSHHostKey: hostPriv, SSHHostPublic: hostPub},
		&shared.User{Meta: shared.Meta{ID: "ann"}, Username: "ann", Email: "ann@example.com", Active: true, Roles: []string{shared.UserRoleID}, PreferredShell: "bash",
			SSHKeys: []shared.SSHKey{{Fingerprint: ssh.FingerprintSHA256(signer.PublicKey())}}},
		&shared.User{Meta: shared.Meta{ID: "bob"}, Username: "bob", Email: "bob@example.com", Active: true, Roles: []string{shared.UserRoleID}},
	} {
		if err := st.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	audit := &auditLog{}
	s := leaf.NewAgentStreams(leaf.StreamsOptions{Location: "here", Store: st, Agents: b.agents, Audit: audit})
	port, stop := echoServer(t)
	defer stop()
	portOpen := func(user string) *wire.RelayOpen {
		return &wire.RelayOpen{SpaceID: "sp1", UserID: user, From: "192.0.2.7", Via: "origin hq", Open: agentwire.Open{Type: agentwire.OpenPort, Port: port}}
	}
	sshOpen := func(user string) *wire.RelayOpen {
		return &wire.RelayOpen{SpaceID: "sp1", UserID: user, From: "192.0.2.7", Via: "origin hq",
			Open: agentwire.Open{Type: agentwire.OpenSSH, SSH: &agentwire.SSH{Keys: []string{"SHA256:not-ann"}}}}
	}

	// Bob does not own the space: refused, and audited with the way.
	for kind, h := range map[string]*wire.RelayOpen{"port forward": portOpen("bob"), "ssh": sshOpen("bob")} {
		if _, err := relayed(t, s, h); shared.ErrorCode(err) != shared.ENOTFOUND {
			t.Fatalf("bob's %s: %v, want not found", kind, err)
		}
		if ev := audit.find(kind+" refused", "bob"); ev == nil || ev.Properties["via"] != "origin hq" {
			t.Fatalf("bob's %s refusal is audited as %+v", kind, ev)
		}
	}

	// Ann's port: the agent's answer, the bytes, and the record.
	conn, err := relayed(t, s, portOpen("ann"))
	if err != nil {
		t.Fatal(err)
	}
	var o agentwire.Opened
	if err := agentwire.ReadJSON(conn, &o); err != nil || o.Error != "" {
		t.Fatalf("the agent's answer: %+v, %v", o, err)
	}
	io.WriteString(conn, "abcd")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "abcd" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
	conn.Close()
	waitFor(t, "the port's close is audited", func() bool {
		ev := audit.find("port forward closed", "ann")
		return ev != nil && ev.Properties["via"] == "origin hq" && ev.Properties["port"] == strconv.Itoa(port) &&
			ev.Properties["bytes_to_space"] == "4" && ev.Properties["bytes_from_space"] == "4"
	})

	// Ann's SSH, with no host key and a wrong key in the header: the
	// leaf's own serve it.
	conn, err = relayed(t, s, sshOpen("ann"))
	if err != nil {
		t.Fatal(err)
	}
	if err := agentwire.ReadJSON(conn, &o); err != nil || o.Error != "" {
		t.Fatalf("the agent's answer: %+v, %v", o, err)
	}
	conn.SetDeadline(time.Time{})
	c, chans, reqs, err := ssh.NewClientConn(conn, "knot.dev", &ssh.ClientConfig{
		User: "ann", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.FixedHostKey(hk), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	cl := ssh.NewClient(c, chans, reqs)
	sess, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	// The space's shell runs, as in its terminals, not the owner's
	// preferred one.
	if out, err := sess.Output(`echo relayed-ssh "${SHELL##*/}"`); err != nil || string(out) != "relayed-ssh sh\n" {
		t.Fatalf("exec: %q %v; want the space's shell, sh", out, err)
	}
	sess.Close()
	cl.Close()
	if ev := audit.find("ssh opened", "ann"); ev == nil || ev.Properties["via"] != "origin hq" {
		t.Fatalf("the SSH open is audited as %+v", ev)
	}
	waitFor(t, "the SSH close is audited", func() bool {
		ev := audit.find("ssh closed", "ann")
		return ev != nil && ev.Properties["bytes_in"] != "" && ev.Properties["bytes_in"] != "0"
	})
}
