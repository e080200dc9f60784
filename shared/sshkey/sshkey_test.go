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

// TestLinesOfTheOlderField: each line of the older ssh_public_key field is
// a key or says why it is not one; blank lines and comments are skipped,
// as sshd skips them in authorized_keys.
func TestLinesOfTheOlderField(t *testing.T) {
	_, pub, _ := sshkey.NewHostKey()
	k, _ := sshkey.Parse(pub)
	blob := strings.Fields(pub)[1]
	field := strings.Join([]string{
		"# my keys",
		"  " + pub + " me@laptop  ",
		"",
		`from="127.0.0.1" ` + pub,
		"hello",
		"ssh-ed25519",
		"ssh-ed25519 not*base64",
		"ssh-rsa " + blob,
		`from="x ` + pub,
		"-----BEGIN OPENSSH PRIVATE KEY-----",
	}, "\n")
	got := sshkey.Lines(field)
	want := []struct {
		n             int
		comment, fail string
	}{
		{2, "me@laptop", ""},
		{4, "", ""},
		{5, "", "not a valid public key: it names no key type, such as ssh-ed25519 or ssh-rsa"},
		{6, "", "not a valid public key: nothing follows its key type ssh-ed25519"},
		{7, "", "not a valid public key: the text after ssh-ed25519 is not base64"},
		{8, "", "not a valid public key: the base64 after ssh-rsa is not a valid ssh-rsa key"},
		{9, "", "not a valid public key: what comes before its key type ssh-ed25519 is not a list of options"},
		{10, "", "not a valid public key: this is a private key: give the public key (the .pub file)"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.N != w.n || g.Text != strings.TrimSpace(strings.Split(field, "\n")[w.n-1]) {
			t.Errorf("line %d: number %d text %q", w.n, g.N, g.Text)
		}
		switch {
		case w.fail == "" && (g.Err != nil || g.Key.Fingerprint != k.Fingerprint || g.Key.Type != "ssh-ed25519" || g.Key.Comment != w.comment):
			t.Errorf("line %d: %+v, want the key %s with comment %q", w.n, g, k.Fingerprint, w.comment)
		case w.fail != "" && (g.Err == nil || g.Err.Error() != w.fail):
			t.Errorf("line %d: error %v, want %q", w.n, g.Err, w.fail)
		}
	}
}

// FuzzLines: any text of the field reads as lines, each a key or an error
// saying it is not one, in the order of the field; never a panic.
func FuzzLines(f *testing.F) {
	_, pub, _ := sshkey.NewHostKey()
	f.Add(pub + " comment\n# note\n\nssh-rsa AAAA\n")
	f.Add("ssh-ed25519\r\n-----BEGIN OPENSSH PRIVATE KEY-----")
	f.Add(`command="x y" ` + pub)
	f.Fuzz(func(t *testing.T, field string) {
		last := 0
		for _, l := range sshkey.Lines(field) {
			if l.N <= last || l.Text == "" || l.Text != strings.TrimSpace(l.Text) {
				t.Fatalf("line %d after %d: %q", l.N, last, l.Text)
			}
			last = l.N
			if (l.Err == nil) == (l.Key.Fingerprint == "") || l.Err != nil && !strings.HasPrefix(l.Err.Error(), "not a valid public key: ") {
				t.Fatalf("line %d: %+v", l.N, l)
			}
		}
	})
}
