package leaf_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/agentwire"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/sshkey"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
)

// With server.encrypt a space's SSH host key is stored sealed, and its
// agent is handed the opened key (the client sees the space's public
// key); without, it is stored in clear as before. A sealed key that does
// not open with this server's key is a clear error naming the space.
func TestSSHHostKeyIsSealedAtRestAndOpenedForTheAgent(t *testing.T) {
	noLeaks(t)
	b := newAgentBed(t)
	tok := b.space("s1")
	b.run("s1", tok)
	waitFor(t, "the link", func() bool { return b.agents.Status("s1").Connected })
	_, userKey, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(userKey)
	ann := &shared.User{Meta: shared.Meta{ID: "ann"}, Username: "ann", Email: "ann@example.com", Active: true, Roles: []string{shared.UserRoleID},
		SSHKeys: []shared.SSHKey{{Fingerprint: ssh.FingerprintSHA256(signer.PublicKey())}}}
	ctx := shared.NewContextWithActor(context.Background(), shared.NewActor(ann, shared.PermissionsOf([]shared.Permission{shared.PermUseSpaces})))
	mine, _ := crypt.NewSealer(crypt.GenerateKey())
	other, _ := crypt.NewSealer(crypt.GenerateKey())

	newStore := func() storage.Store {
		st := memory.New()
		for _, r := range []shared.Record{
			&shared.Template{Meta: shared.Meta{ID: "t1"}, Name: "web", Kind: shared.TemplateManual},
			&shared.Space{Meta: shared.Meta{ID: "s1"}, Name: "dev", UserID: "ann", Location: "here", TemplateID: "t1"},
			func() *shared.User { u := *ann; return &u }(),
		} {
			if err := st.Put(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		}
		return st
	}
	access := func(st storage.Store, sealer *crypt.Sealer) (*leaf.Access, *leaf.AgentStreams) {
		streams := leaf.NewAgentStreams(leaf.StreamsOptions{Location: "here", Store: st, Agents: b.agents, Audit: &auditLog{}, Sealer: sealer})
		return leaf.NewAccess(leaf.AccessOptions{Location: "here", Store: st, Agents: b.agents, Streams: streams, Audit: &auditLog{}}), streams
	}
	// sshInto opens SSH to the space through a and runs a command, the
	// client checking the host key against the record's public half.
	sshInto := func(a *leaf.Access) (*shared.Space, error) {
		sp, err := a.SSH(ctx, caller, "s1")
		if err != nil {
			t.Fatal(err)
		}
		conn, v, err := a.OpenSSH(ctx, caller, sp)
		if err != nil {
			return sp, err
		}
		defer v.End("")
		hk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(sp.SSHHostPublic))
		if err != nil {
			t.Fatal(err)
		}
		c, chans, reqs, err := ssh.NewClientConn(conn, "knot.dev", &ssh.ClientConfig{
			User: "ann", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.FixedHostKey(hk), Timeout: 10 * time.Second,
		})
		if err != nil {
			t.Fatalf("the agent's host key: %v", err)
		}
		cl := ssh.NewClient(c, chans, reqs)
		defer cl.Close()
		s, err := cl.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if out, err := s.Output("echo in"); err != nil || string(out) != "in\n" {
			t.Fatalf("exec: %q %v", out, err)
		}
		return sp, nil
	}
	stored := func(st storage.Store) string {
		sp, err := storage.Get[shared.Space](context.Background(), st, "s1")
		if err != nil {
			t.Fatal(err)
		}
		return sp.SSHHostKey
	}
	const pem = "BEGIN OPENSSH PRIVATE KEY"

	// Without a sealer: in clear, as before.
	st := newStore()
	a, _ := access(st, nil)
	if _, err := sshInto(a); err != nil {
		t.Fatal(err)
	}
	if k := stored(st); !strings.Contains(k, pem) {
		t.Fatalf("without server.encrypt the host key is stored as %q", k)
	}
	// A key in clear still works with a sealer.
	a, _ = access(st, mine)
	if _, err := sshInto(a); err != nil {
		t.Fatalf("a key in clear with a sealer: %v", err)
	}

	// With a sealer: sealed at rest, opened for the agent.
	st = newStore()
	a, streams := access(st, mine)
	if _, err := sshInto(a); err != nil {
		t.Fatal(err)
	}
	if k := stored(st); strings.Contains(k, pem) || !crypt.IsSealed(k) {
		t.Fatalf("with server.encrypt the host key is stored as %q", k)
	}
	// The leaf's own key serves a relayed SSH connection too.
	relayedSSH := func(s *leaf.AgentStreams) error {
		conn, err := relayed(t, s, &wire.RelayOpen{SpaceID: "s1", UserID: "ann", From: "192.0.2.7", Via: "origin hq",
			Open: agentwire.Open{Type: agentwire.OpenSSH, SSH: &agentwire.SSH{}}})
		if err == nil {
			var o agentwire.Opened
			if err := agentwire.ReadJSON(conn, &o); err != nil || o.Error != "" {
				t.Fatalf("the agent's answer: %+v, %v", o, err)
			}
			conn.Close()
		}
		return err
	}
	if err := relayedSSH(streams); err != nil {
		t.Fatalf("relayed SSH with a sealed key: %v", err)
	}

	// Another server.encrypt, or none: a clear error naming the space.
	for name, sealer := range map[string]*crypt.Sealer{"another key": other, "no key": nil} {
		a, streams := access(st, sealer)
		_, err := sshInto(a)
		if shared.ErrorCode(err) != shared.EUNAVAILABLE || !strings.Contains(err.Error(), `"dev"`) || !strings.Contains(err.Error(), "server.encrypt") {
			t.Fatalf("%s: %v", name, err)
		}
		if err := relayedSSH(streams); shared.ErrorCode(err) != shared.EUNAVAILABLE || !strings.Contains(err.Error(), `"dev"`) {
			t.Fatalf("%s, relayed: %v", name, err)
		}
	}
}

// A space made with server.encrypt holds its host key sealed, one made
// without holds it in clear; the public half is the same either way.
func TestNewSpacesHostKeyIsSealedWithASealer(t *testing.T) {
	sealer, _ := crypt.NewSealer(crypt.GenerateKey())
	for _, s := range []*crypt.Sealer{nil, sealer} {
		b := newSpaceBed(t, leaf.SpaceOptions{Sealer: s})
		_, ann := b.user("ann")
		sp := b.stored(b.space(ann, "dev", b.template("box", shared.TemplateManual, 0)).ID)
		clear := sp.SSHHostKey
		if s != nil {
			if strings.Contains(clear, "BEGIN OPENSSH PRIVATE KEY") || !crypt.IsSealed(clear) {
				t.Fatalf("with a sealer the host key is stored as %q", clear)
			}
			var err error
			if clear, err = s.Open(clear); err != nil {
				t.Fatal(err)
			}
		}
		if pub, err := sshkey.Public(clear); err != nil || pub != sp.SSHHostPublic {
			t.Fatalf("sealer %v: the host key's public half %q, %v; the record's %q", s != nil, pub, err, sp.SSHHostPublic)
		}
	}
}
