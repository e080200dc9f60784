// Package sshkey reads the SSH public keys of users' profiles and makes the
// host keys of spaces.
package sshkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
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
	Type        string // such as ssh-ed25519
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
	return Key{Line: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))), Type: pub.Type(), Fingerprint: ssh.FingerprintSHA256(pub), Comment: comment}, nil
}

// Line is one line of the older single ssh_public_key field of a profile:
// a key, or why it is not one.
type Line struct {
	N    int    // its number in the field, from 1
	Text string // as written, without the spaces around it
	Key  Key    // when Err is nil
	Err  error  // "not a valid public key: …"
}

// Lines reads the older single ssh_public_key field of a profile as sshd
// reads authorized_keys: a key a line, blank lines and # comments skipped.
// A line that is not a key says why.
func Lines(field string) []Line {
	var out []Line
	n := 0
	for l := range strings.Lines(field) {
		n++
		text := strings.TrimSpace(l)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		k, err := Parse(text)
		if err != nil {
			err = fmt.Errorf("not a valid public key: %s", whyNot(text))
		}
		out = append(out, Line{N: n, Text: text, Key: k, Err: err})
	}
	return out
}

// keyTypes are the types of public keys an authorized_keys line names.
var keyTypes = map[string]bool{
	ssh.KeyAlgoRSA: true, ssh.KeyAlgoDSA: true, ssh.KeyAlgoED25519: true, ssh.KeyAlgoSKED25519: true,
	ssh.KeyAlgoECDSA256: true, ssh.KeyAlgoECDSA384: true, ssh.KeyAlgoECDSA521: true, ssh.KeyAlgoSKECDSA256: true,
	ssh.CertAlgoRSAv01: true, ssh.CertAlgoDSAv01: true, ssh.CertAlgoED25519v01: true, ssh.CertAlgoSKED25519v01: true,
	ssh.CertAlgoECDSA256v01: true, ssh.CertAlgoECDSA384v01: true, ssh.CertAlgoECDSA521v01: true, ssh.CertAlgoSKECDSA256v01: true,
}

// whyNot says why line, which Parse refused, is not a public key.
func whyNot(line string) string {
	switch {
	case len(line) > MaxLine:
		return fmt.Sprintf("the line is over %d bytes", MaxLine)
	case strings.Contains(line, "PRIVATE KEY"):
		return "this is a private key: give the public key (the .pub file)"
	}
	f := strings.Fields(line)
	for i, t := range f {
		if !keyTypes[t] {
			continue
		}
		if i+1 == len(f) {
			return "nothing follows its key type " + t
		}
		b, err := base64.StdEncoding.DecodeString(f[i+1])
		if err != nil {
			return "the text after " + t + " is not base64"
		}
		if pub, err := ssh.ParsePublicKey(b); err != nil || pub.Type() != t {
			return "the base64 after " + t + " is not a valid " + t + " key"
		}
		return "what comes before its key type " + t + " is not a list of options"
	}
	return "it names no key type, such as ssh-ed25519 or ssh-rsa"
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
	for _, l := range Lines(u.SSHPublicKey) {
		if l.Err == nil {
			add(l.Key.Fingerprint)
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
