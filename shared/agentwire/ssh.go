package agentwire

import (
	"errors"
	"fmt"
)

// OpenSSH is the stream purpose of an SSH connection (leaf → agent, SSH
// in Open). The agent answers one Opened; after an Opened without Error
// the stream carries the SSH connection's bytes, unframed, both ways.
const OpenSSH = "ssh"

// OpenKeys is the stream purpose of the space owner's public keys
// (leaf → agent, Keys in Open), for an agent that keeps them in the
// authorized_keys of the image's own sshd (State.AuthorizedKeys). The
// leaf sends them when the agent links and whenever they change; the
// agent answers nothing.
const OpenKeys = "keys"

// Bounds of an SSH open.
const (
	MaxSSHKeys    = 64
	MaxSSHHostKey = 4 << 10
	// MaxAuthorizedKeys bounds the bytes of the public keys of an open.
	MaxAuthorizedKeys = 8 << 10
)

// Keys are the public keys of a space's owner, one authorized_keys line
// each (type, base64, comment).
type Keys struct {
	Keys []string `json:"keys"`
}

// Validate bounds k: at most MaxSSHKeys printable lines, of at most
// MaxAuthorizedKeys bytes together.
func (k *Keys) Validate() error {
	n := 0
	for _, l := range k.Keys {
		n += len(l)
		if l == "" || !printable(l) {
			return errors.New("keys: a key is one printable line")
		}
	}
	if len(k.Keys) > MaxSSHKeys || n > MaxAuthorizedKeys {
		return fmt.Errorf("keys: at most %d keys of %d bytes together", MaxSSHKeys, MaxAuthorizedKeys)
	}
	return nil
}

// SSH opens an SSH connection served by the agent.
type SSH struct {
	// HostKey is the space's persistent host key, an OpenSSH PEM private
	// key. A relayed open leaves it empty: the space's own leaf fills it
	// (and Keys) from its records.
	HostKey string `json:"host_key"`
	// Keys are the SHA-256 fingerprints (as ssh-keygen -l prints them) of
	// the public keys the client may authenticate with: those in the
	// profile of the knot user who opened the connection.
	Keys []string `json:"keys"`
	// User is that knot user's name and Remote the client's address, for
	// the agent's log.
	User   string `json:"user,omitempty"`
	Remote string `json:"remote,omitempty"`
	// Shell is the preferred shell; "" tries zsh, bash, sh.
	Shell string `json:"shell,omitempty"`
	// Owner holds the public keys of the space's owner, filled by the
	// space's own leaf, for an agent that keeps them in the authorized_keys
	// of the image's own sshd before it hands the connection to it.
	Owner *Keys `json:"owner,omitempty"`
}

// Validate checks s's fields.
func (s *SSH) Validate() error {
	switch {
	case len(s.HostKey) > MaxSSHHostKey:
		return fmt.Errorf("ssh: host_key must be at most %d bytes", MaxSSHHostKey)
	case len(s.Keys) > MaxSSHKeys:
		return fmt.Errorf("ssh: at most %d keys", MaxSSHKeys)
	case len(s.User) > 64 || !printable(s.User):
		return errors.New("ssh: user must be at most 64 printable characters")
	case len(s.Remote) > 128 || !printable(s.Remote):
		return errors.New("ssh: remote must be at most 128 printable characters")
	case len(s.Shell) > 256 || !printable(s.Shell):
		return errors.New("ssh: shell must be at most 256 printable characters")
	}
	for _, k := range s.Keys {
		if k == "" || len(k) > 128 || !printable(k) {
			return errors.New("ssh: a key fingerprint must be 1 to 128 printable characters")
		}
	}
	if s.Owner != nil {
		return s.Owner.Validate()
	}
	return nil
}
