package shared

import (
	"context"
	"strings"
	"time"
)

// User is a person who logs in to knot. PasswordHash is a bcrypt hash and is
// never sent to API clients; it is replicated only to trusted leaves.
type User struct {
	Meta
	Username     string `json:"username"`
	Email        string `json:"email"`
	PasswordHash string `json:"password_hash,omitempty"`
	TOTPSecret   string `json:"totp_secret,omitempty"`
	// TOTPLastStep is the time step of the last code of TOTPSecret that
	// the origin accepted (RFC 6238 §5.2): that code and every older one
	// are refused, there and at the leaves this record reaches. Every
	// write of TOTPSecret sets it too; 0 when no code was used.
	TOTPLastStep    int64    `json:"totp_last_step,omitempty"`
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
	// SSHKeys are the public keys the user signs in to spaces' SSH with.
	SSHKeys []SSHKey `json:"ssh_keys,omitempty"`
}

// SSHKey is one public key of a user's profile.
type SSHKey struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Key         string    `json:"key"`         // authorized_keys form: type and base64
	Fingerprint string    `json:"fingerprint"` // SHA256:…
	AddedAt     time.Time `json:"added_at"`
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

// UserService manages users. Every method but NeedsSetup and Setup acts for the actor in
// ctx (ActorFrom) and fails with EUNAUTHORIZED when there is none. Who may
// grant what, and change whose account, is decided by one set of rules (an
// origin's grant rules): nobody grants a role whose permissions they lack,
// nor changes the account of someone holding more than they do. An origin
// implements it over its store; a leaf reads its replica and leaves writes
// to the origin.
type UserService interface {
	// List returns the users in state o.State ("", "all", "active" or
	// "inactive"), ordered by id, each with the number of their spaces; o
	// selects among them (SelectUsers). EFORBIDDEN without Manage Users
	// or Manage Spaces; EINVALID for another state or
	// options out of range.
	List(ctx context.Context, o ListOptions) (Page[UserListing], error)

	// Get returns the user with id. EFORBIDDEN unless it is the actor or
	// the actor holds Manage Users; ENOTFOUND if there is none.
	Get(ctx context.Context, id string) (*User, error)

	// NeedsSetup reports whether no user exists yet, so that Setup may
	// create the first; it needs no actor.
	NeedsSetup(ctx context.Context) (bool, error)

	// Setup creates the first user, an active Admin, while no user exists;
	// it needs no actor. EUNAUTHORIZED once a user exists; ECONFLICT when
	// another setup, of this server or of one sharing its database, wrote
	// its user first; EINVALID as Create; EUNAVAILABLE when the write
	// cannot reach the origin.
	Setup(ctx context.Context, nu NewUser) (*User, error)

	// Create creates the user nu describes and returns them as stored.
	// EFORBIDDEN without Manage Users or when it grants a role the actor
	// may not grant; EINVALID when a field is missing or invalid, or a role
	// or group does not exist; ECONFLICT when another user has the email or
	// username (case-insensitive); EUNAVAILABLE when the write cannot reach
	// the origin.
	Create(ctx context.Context, nu NewUser) (*User, error)

	// Update changes the fields of the user with id that upd sets and
	// returns the user as stored, in one transaction with the deletion of
	// their other sessions (on a new password or deactivation) and of their
	// API tokens (on a new password, unless KeepTokens). Anyone may change
	// their own email, password, service password, SSH key, shell and time
	// zone; roles, groups, the active flag and quotas need Manage Users.
	// EFORBIDDEN and ENOTFOUND as Get, and EFORBIDDEN without Manage Users
	// for those fields, or by the grant rules; EINVALID when a field is
	// invalid, the username differs or the actor deactivates themself;
	// a change of one's own password or email needs upd.CurrentPassword:
	// EINVALID without it, EFORBIDDEN when it is wrong, ERATELIMIT beyond
	// the login limits; ECONFLICT as Create; EUNAVAILABLE when the write
	// cannot reach the origin.
	Update(ctx context.Context, id string, upd UserUpdate) (*User, error)

	// Delete deletes the user with id: their spaces first (each through the
	// space service of its location, which frees what it holds), then the
	// user with their API tokens and sessions in one transaction. It returns
	// the user as they were and the spaces deleted. EFORBIDDEN for the
	// actor's own account, without Manage Users or by the grant rules;
	// ENOTFOUND if there is none; ECONFLICT when the user got a space
	// while being deleted (nothing of the user is deleted then, but the
	// spaces deleted already); EUNAVAILABLE when the write cannot reach the
	// origin, or a space's leaf is not connected.
	Delete(ctx context.Context, id string) (*User, []*Space, error)

	// Quota returns the limits of the user with id and what their spaces
	// use; a leaf counts the spaces of other locations as the origin
	// reports them when it can ask. EFORBIDDEN and ENOTFOUND as Get.
	Quota(ctx context.Context, id string) (Quota, error)

	// AddSSHKey adds the public key line (of a .pub file) named name ("":
	// its comment, else its fingerprint) to the profile of the user with
	// id, and returns the user as stored with the key added. The user
	// themself, or an actor who may change their account (the grant
	// rules), may. EFORBIDDEN and ENOTFOUND as Get; EINVALID for a key that
	// does not parse, a name that is not free text, or a user holding the
	// most keys there may be; ECONFLICT when the user has that key already;
	// EUNAVAILABLE when the write cannot reach the origin.
	AddSSHKey(ctx context.Context, id, name, key string) (*User, *SSHKey, error)

	// RemoveSSHKey removes the key with keyID, or with that fingerprint,
	// from the profile of the user with id, and returns the user as stored
	// and the key removed. EFORBIDDEN as AddSSHKey; ENOTFOUND when there is
	// no such user or key; EUNAVAILABLE when the write cannot reach the
	// origin.
	RemoveSSHKey(ctx context.Context, id, keyID string) (*User, *SSHKey, error)
}

// UserListing is a user as UserService.List returns them, with the number
// of their spaces and of those deployed.
type UserListing struct {
	User                 *User
	NumberSpaces         int
	NumberSpacesDeployed int
}

// NewUser describes a user to create. Nil Roles means the built-in user
// role, nil Active means active; an empty ServicePassword is generated.
type NewUser struct {
	Username, Email, Password, ServicePassword string

	Roles  *[]string
	Groups []string
	Active *bool

	MaxSpaces, ComputeUnits, StorageUnits, MaxTunnels int

	SSHPublicKey, PreferredShell, Timezone string
}

// UserUpdate holds the fields of a user an update sets; nil leaves a field
// as it is.
type UserUpdate struct {
	Username, Email, Password, ServicePassword *string

	Roles, Groups *[]string
	Active        *bool

	MaxSpaces, ComputeUnits, StorageUnits, MaxTunnels *int

	SSHPublicKey, PreferredShell, Timezone *string

	// KeepTokens keeps the user's API tokens on a password change.
	KeepTokens bool
	// KeepSession is the session the change is made with, which a new
	// password or a deactivation of the actor's own account leaves open.
	KeepSession string
	// CurrentPassword is the actor's current password, which a change of
	// their own password or email needs: the origin's user service checks
	// it, and a leaf's passes it on to the origin with the change.
	CurrentPassword string
}

// UserAccess returns the actor in ctx if they may see and change the user
// with id: themself, or anyone holding Manage Users (EFORBIDDEN otherwise).
func UserAccess(ctx context.Context, id string) (*Actor, error) {
	a, err := ActorRequired(ctx)
	if err != nil {
		return nil, err
	}
	if id != a.User.ID {
		if err := a.Needs(PermManageUsers); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// UserListers holds the permissions of which one lets an actor list users.
var UserListers = []Permission{PermManageUsers, PermManageSpaces}

// UserListAccess fails unless the actor in ctx holds one of UserListers.
func UserListAccess(ctx context.Context) error {
	a, err := ActorRequired(ctx)
	if err != nil {
		return err
	}
	return a.NeedsAny(UserListers...)
}

// NeedsAny returns the EFORBIDDEN error of an actor holding none of perms,
// or nil when a holds one.
func (a *Actor) NeedsAny(perms ...Permission) error {
	names := make([]string, len(perms))
	for i, p := range perms {
		if a.Can(p) {
			return nil
		}
		names[i] = p.String()
	}
	return Errorf(EFORBIDDEN, "this needs the %s permission", strings.Join(names, " or "))
}

// CheckUserState checks the state a user listing filters by: "", "all",
// "active" or "inactive".
func CheckUserState(state string) error {
	switch state {
	case "", "all", "active", "inactive":
		return nil
	}
	return Errorf(EINVALID, "query parameter state must be all, active or inactive, not %s", Quote(state))
}

// InState reports whether u is listed under state (see CheckUserState).
func (u *User) InState(state string) bool {
	return !(state == "active" && !u.Active) && !(state == "inactive" && u.Active)
}
