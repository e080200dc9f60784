package api

import (
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/sshkey"
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
	// LegacyKeys are the lines of the older single ssh_public_key field of
	// the user's profile, which SSH into their spaces accepts as well.
	LegacyKeys []SSHLegacyKey `json:"legacy_keys"`
}

// SSHLegacyKey is a line of the older single ssh_public_key field of a
// user's profile: a key, or, with Error, why it is not one. It has no
// key_id: it is removed by taking its line out of that field (PUT
// /api/users/{user_id}).
type SSHLegacyKey struct {
	Line        int    `json:"line"` // its number in the field, from 1
	Text        string `json:"text"` // the line as written
	Type        string `json:"type,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Comment     string `json:"comment,omitempty"`
	Error       string `json:"error,omitempty"` // not a valid public key: …
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

// NewSSHKeyList returns the keys of u: those of its key list, and the
// lines of its older ssh_public_key field as legacy.
func NewSSHKeyList(u *shared.User) SSHKeyList {
	legacy := sshkey.Lines(u.SSHPublicKey)
	out := SSHKeyList{Keys: make([]SSHKey, 0, len(u.SSHKeys)), LegacyKeys: make([]SSHLegacyKey, 0, len(legacy))}
	for i := range u.SSHKeys {
		out.Keys = append(out.Keys, NewSSHKey(&u.SSHKeys[i]))
	}
	for _, l := range legacy {
		k := SSHLegacyKey{Line: l.N, Text: l.Text, Type: l.Key.Type, Fingerprint: l.Key.Fingerprint, Comment: l.Key.Comment}
		if l.Err != nil {
			k.Error = l.Err.Error()
		}
		out.LegacyKeys = append(out.LegacyKeys, k)
	}
	return out
}
