package api

import (
	"time"

	"github.com/knot-dev/knot/shared"
)

// SSHKey is one public key of a user's profile, in GET and POST
// /api/users/{user_id}/ssh-keys.
type SSHKey struct {
	ID          string    `json:"key_id"`
	Name        string    `json:"name"`
	Key         string    `json:"key"`
	Fingerprint string    `json:"fingerprint"`
	AddedAt     time.Time `json:"added_at"`
}

// SSHKeyList is the answer of GET /api/users/{user_id}/ssh-keys.
type SSHKeyList struct {
	Keys []SSHKey `json:"keys"`
}

// SSHKeyAddRequest is the body of POST /api/users/{user_id}/ssh-keys: a
// line of a .pub file, and a name (the key's comment when left out).
type SSHKeyAddRequest struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// SpaceSSH is the answer of a plain GET /api/spaces/{space_id}/ssh: how
// to reach the space with OpenSSH.
type SpaceSSH struct {
	SpaceID string `json:"space_id"`
	// Host is the name ssh-config gives the space: knot.NAME.
	Host string `json:"host"`
	// HostKey is the host key the space presents now, in authorized_keys
	// form: that of the image's own sshd when the space's agent reported
	// one (agent.port.ssh), else the space's own.
	HostKey string `json:"host_key"`
	// HostKeys are every host key the space may present, HostKey first:
	// the sshd's, then the space's own, which its agent presents when no
	// sshd answers.
	HostKeys []string `json:"host_keys,omitempty"`
}

// NewSSHKey returns k as the API shows it.
func NewSSHKey(k *shared.SSHKey) SSHKey {
	return SSHKey{ID: k.ID, Name: k.Name, Key: k.Key, Fingerprint: k.Fingerprint, AddedAt: k.AddedAt}
}

// NewSSHKeyList returns the keys of u.
func NewSSHKeyList(u *shared.User) SSHKeyList {
	out := SSHKeyList{Keys: make([]SSHKey, 0, len(u.SSHKeys))}
	for i := range u.SSHKeys {
		out.Keys = append(out.Keys, NewSSHKey(&u.SSHKeys[i]))
	}
	return out
}
