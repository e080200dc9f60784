// Package sshkey reads the SSH public keys of users' profiles and makes the
// host keys of spaces.
package sshkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/knot-dev/knot/shared"
)

// MaxKeys bounds the keys of one user; MaxLine bounds one key's line.
const (
	MaxKeys = 32
	MaxLine = 16 << 10
)

// NewHostKey makes a space's host key: an ed25519 private key as OpenSSH
// PEM, and its public key in authorized_keys form.
func NewHostKey() (private, public string, err error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return "", "", err
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(block)), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))), nil
}

// Key is one parsed public key.
type Key struct {
	// Line is the key in authorized_keys form without options or comment:
	// its type and base64.
	Line        string
	Fingerprint string // SHA256:…, as ssh-keygen -l prints it
	Comment     string
}

// Parse reads one public key in authorized_keys form (a line of a .pub
// file). Errors say what is wrong for the API's answer.
func Parse(line string) (Key, error) {
	line = strings.TrimSpace(line)
	switch {
	case line == "":
		return Key{}, errors.New("the key is empty: give a line of a .pub file, such as ssh-ed25519 AAAA… you@host")
	case len(line) > MaxLine:
		return Key{}, fmt.Errorf("the key is over %d bytes", MaxLine)
	case strings.Contains(line, "PRIVATE KEY"):
		return Key{}, errors.New("this is a private key: give the public key (the .pub file)")
	}
	pub, comment, _, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return Key{}, errors.New("not an SSH public key: give a line of a .pub file, such as ssh-ed25519 AAAA… you@host")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return Key{}, errors.New("one key at a time: the text holds more than one line")
	}
	return Key{Line: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))), Fingerprint: ssh.FingerprintSHA256(pub), Comment: comment}, nil
}

// Fingerprints returns the fingerprints of the keys u may authenticate
// with: those of its profile, and each key line of its older single
// ssh_public_key field. Lines that do not parse are left out.
func Fingerprints(u *shared.User) []string {
	var out []string
	seen := map[string]bool{}
	add := func(fp string) {
		if fp != "" && !seen[fp] && len(out) < MaxKeys*2 {
			seen[fp] = true
			out = append(out, fp)
		}
	}
	for _, k := range u.SSHKeys {
		add(k.Fingerprint)
	}
	for l := range strings.Lines(u.SSHPublicKey) {
		if k, err := Parse(l); err == nil {
			add(k.Fingerprint)
		}
	}
	return out
}

// Public returns the public key, in authorized_keys form, of a private key
// made by NewHostKey.
func Public(private string) (string, error) {
	s, err := ssh.ParsePrivateKey([]byte(private))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey()))), nil
}
