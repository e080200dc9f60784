package shared

import (
	"strings"
	"time"
)

// User is a person who logs in to knot. PasswordHash is a bcrypt hash and is
// never sent to API clients; it is replicated only to trusted leaves.
type User struct {
	Meta
	Username        string   `json:"username"`
	Email           string   `json:"email"`
	PasswordHash    string   `json:"password_hash,omitempty"`
	TOTPSecret      string   `json:"totp_secret,omitempty"`
	ServicePassword string   `json:"service_password,omitempty"`
	SSHPublicKey    string   `json:"ssh_public_key"`
	Roles           []string `json:"roles"`
	Groups          []string `json:"groups"`
	Active          bool     `json:"active"`
	MaxSpaces       int      `json:"max_spaces"`
	ComputeUnits    int      `json:"compute_units"`
	StorageUnits    int      `json:"storage_units"`
	MaxTunnels      int      `json:"max_tunnels"`
	PreferredShell  string   `json:"preferred_shell"`
	Timezone        string   `json:"timezone"`
}

func (*User) RecordKind() Kind { return KindUser }

func (u *User) UniqueKeys() []string {
	return []string{"email:" + strings.ToLower(u.Email), "username:" + strings.ToLower(u.Username)}
}

// Group collects users; its quotas add to each member's own.
type Group struct {
	Meta
	Name         string `json:"name"`
	MaxSpaces    int    `json:"max_spaces"`
	ComputeUnits int    `json:"compute_units"`
	StorageUnits int    `json:"storage_units"`
	MaxTunnels   int    `json:"max_tunnels"`
}

func (*Group) RecordKind() Kind { return KindGroup }

func (g *Group) UniqueKeys() []string { return []string{"name:" + strings.ToLower(g.Name)} }

// Token is an API token. ID is the hex SHA-256 of the secret, which is shown
// once at creation and never stored.
type Token struct {
	Meta
	UserID    string    `json:"user_id"`
	Name      string    `json:"name"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (*Token) RecordKind() Kind     { return KindToken }
func (*Token) UniqueKeys() []string { return nil }

// Session is a login session (web cookie or the token from POST /api/auth).
// ID is the hex SHA-256 of the session secret.
type Session struct {
	Meta
	UserID    string    `json:"user_id"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (*Session) RecordKind() Kind     { return KindSession }
func (*Session) UniqueKeys() []string { return nil }

// Quota is what a user may use, their own limits plus their groups' (0 is
// unlimited), and what their spaces use.
type Quota struct {
	MaxSpaces, ComputeUnits, StorageUnits, MaxTunnels int

	NumberSpaces, NumberSpacesDeployed int
	UsedComputeUnits, UsedStorageUnits int
}
