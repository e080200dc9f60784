package agentwire

import (
	"errors"
	"fmt"
)

// OpenSSH is the stream purpose of an SSH connection (leaf → agent, SSH
// in Open). The agent answers one Opened; after an Opened without Error
// the stream carries the SSH connection's bytes, unframed, both ways.
const OpenSSH = "ssh"

// Bounds of an SSH open.
const (
	MaxSSHKeys    = 64
	MaxSSHHostKey = 4 << 10
)

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
	return nil
}
