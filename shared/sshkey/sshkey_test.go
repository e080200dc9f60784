package sshkey_test

import (
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/sshkey"
)

func TestHostKeyAndFingerprints(t *testing.T) {
	priv, pub, err := sshkey.NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := sshkey.Public(priv); err != nil || got != pub || !strings.HasPrefix(pub, "ssh-ed25519 ") {
		t.Fatalf("public key of the host key: %q %v, want %q", got, err, pub)
	}
	k, err := sshkey.Parse(pub + " me@host")
	if err != nil || k.Comment != "me@host" || k.Line != pub || !strings.HasPrefix(k.Fingerprint, "SHA256:") {
		t.Fatalf("parse: %+v %v", k, err)
	}
	_, other, _ := sshkey.NewHostKey()
	o, _ := sshkey.Parse(other)
	u := &shared.User{SSHKeys: []shared.SSHKey{{Fingerprint: k.Fingerprint}}, SSHPublicKey: other + "\nnot a key\n" + pub + "\n"}
	if fps := sshkey.Fingerprints(u); len(fps) != 2 || fps[0] != k.Fingerprint || fps[1] != o.Fingerprint {
		t.Fatalf("fingerprints %v", fps)
	}
}

// FuzzParse: any text is a key or an error, never a panic; a key read back
// from its line is the same key.
func FuzzParse(f *testing.F) {
	_, pub, _ := sshkey.NewHostKey()
	f.Add(pub + " comment")
	f.Add("ssh-rsa AAAA")
	f.Add("-----BEGIN OPENSSH PRIVATE KEY-----")
	f.Add(`command="x" ` + pub)
	f.Fuzz(func(t *testing.T, line string) {
		k, err := sshkey.Parse(line)
		if err != nil {
			return
		}
		again, err := sshkey.Parse(k.Line)
		if err != nil || again.Fingerprint != k.Fingerprint || again.Line != k.Line {
			t.Fatalf("%q read back as %+v, %v", k.Line, again, err)
		}
	})
}
