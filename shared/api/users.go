package api

import (
	"time"

	"github.com/knot-dev/knot/shared"
)

// User is a user as GET /api/users/{user_id} and GET /api/users/whoami
// show it; Permissions is only in the answer of whoami.
type User struct {
	ID              string              `json:"user_id"`
	Username        string              `json:"username"`
	Email           string              `json:"email"`
	ServicePassword string              `json:"service_password,omitempty"`
	SSHPublicKey    string              `json:"ssh_public_key"`
	PreferredShell  string              `json:"preferred_shell"`
	Timezone        string              `json:"timezone"`
	Roles           []string            `json:"roles"`
	Groups          []string            `json:"groups"`
	Active          bool                `json:"active"`
	MaxSpaces       int                 `json:"max_spaces"`
	ComputeUnits    int                 `json:"compute_units"`
	StorageUnits    int                 `json:"storage_units"`
	MaxTunnels      int                 `json:"max_tunnels"`
	Current         bool                `json:"current"`
	Permissions     []shared.Permission `json:"permissions,omitempty"`
	CreatedAt       time.Time           `json:"created_at"`
	UpdatedAt       time.Time           `json:"updated_at"`
}

// UserListItem is a user as GET /api/users lists it, with the counts of
// its spaces and whether it logs in with a two-factor code.
type UserListItem struct {
	User
	NumberSpaces         int `json:"number_spaces"`
	NumberSpacesDeployed int `json:"number_spaces_deployed"`
	// TwoFactor is whether the user has set up two-factor login, so that
	// there is something to reset.
	TwoFactor bool `json:"two_factor"`
}

// UserList is the answer of GET /api/users.
type UserList struct {
	Count int `json:"count"`
	// Total is the number of records the query selected before paging.
	Total int            `json:"total"`
	Users []UserListItem `json:"users"`
}

// UserCreateRequest is the body of POST /api/users.
type UserCreateRequest struct {
	Username        string    `json:"username"`
	Email           string    `json:"email"`
	Password        string    `json:"password"`
	ServicePassword string    `json:"service_password"`
	Roles           *[]string `json:"roles"`  // nil: the built-in user role
	Groups          []string  `json:"groups"` // nil: none
	Active          *bool     `json:"active"` // nil: true
	MaxSpaces       int       `json:"max_spaces"`
	ComputeUnits    int       `json:"compute_units"`
	StorageUnits    int       `json:"storage_units"`
	MaxTunnels      int       `json:"max_tunnels"`
	SSHPublicKey    string    `json:"ssh_public_key"`
	PreferredShell  string    `json:"preferred_shell"`
	Timezone        string    `json:"timezone"`
}

// UserCreated is the answer of POST /api/users.
type UserCreated struct {
	Status bool   `json:"status"`
	UserID string `json:"user_id"`
}

// UserUpdateRequest is the body of PUT /api/users/{user_id}: nil fields
// stay as they are.
type UserUpdateRequest struct {
	Username        *string   `json:"username"` // must equal the current username
	Email           *string   `json:"email"`
	Password        *string   `json:"password"`
	ServicePassword *string   `json:"service_password"`
	Roles           *[]string `json:"roles"`
	Groups          *[]string `json:"groups"`
	Active          *bool     `json:"active"`
	MaxSpaces       *int      `json:"max_spaces"`
	ComputeUnits    *int      `json:"compute_units"`
	StorageUnits    *int      `json:"storage_units"`
	MaxTunnels      *int      `json:"max_tunnels"`
	SSHPublicKey    *string   `json:"ssh_public_key"`
	PreferredShell  *string   `json:"preferred_shell"`
	Timezone        *string   `json:"timezone"`
	// CurrentPassword is required to change one's own password or email.
	CurrentPassword *string `json:"current_password"`
	// KeepTokens keeps the user's API tokens on a password change, which
	// otherwise deletes them.
	KeepTokens *bool `json:"keep_tokens"`
}

// Quota is the answer of GET /api/users/{user_id}/quota: the user's limits
// (0: unlimited) and what the user's spaces use.
type Quota struct {
	MaxSpaces            int `json:"max_spaces"`
	ComputeUnits         int `json:"compute_units"`
	StorageUnits         int `json:"storage_units"`
	MaxTunnels           int `json:"max_tunnels"`
	NumberSpaces         int `json:"number_spaces"`
	NumberSpacesDeployed int `json:"number_spaces_deployed"`
	UsedComputeUnits     int `json:"used_compute_units"`
	UsedStorageUnits     int `json:"used_storage_units"`
}

// NewUser returns u as the API shows it to the user with id actorID: the
// service password only to u themself.
func NewUser(u *shared.User, actorID string) User {
	r := User{
		ID: u.ID, Username: u.Username, Email: u.Email, SSHPublicKey: u.SSHPublicKey,
		PreferredShell: u.PreferredShell, Timezone: u.Timezone,
		Roles: nonNil(u.Roles), Groups: nonNil(u.Groups), Active: u.Active,
		MaxSpaces: u.MaxSpaces, ComputeUnits: u.ComputeUnits, StorageUnits: u.StorageUnits, MaxTunnels: u.MaxTunnels,
		Current: u.ID == actorID, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
	if r.Current {
		r.ServicePassword = u.ServicePassword
	}
	return r
}

// NewUserList returns the answer of GET /api/users for the page p, as
// the user with id actorID sees it.
func NewUserList(p shared.Page[shared.UserListing], actorID string) UserList {
	out := UserList{Count: len(p.Items), Total: p.Total, Users: make([]UserListItem, 0, len(p.Items))}
	for _, l := range p.Items {
		out.Users = append(out.Users, UserListItem{User: NewUser(l.User, actorID),
			NumberSpaces: l.NumberSpaces, NumberSpacesDeployed: l.NumberSpacesDeployed, TwoFactor: l.User.TOTPSecret != ""})
	}
	return out
}

// NewUser returns the user r describes.
func (r *UserCreateRequest) NewUser() shared.NewUser {
	return shared.NewUser{Username: r.Username, Email: r.Email, Password: r.Password,
		ServicePassword: r.ServicePassword, Roles: r.Roles, Groups: r.Groups, Active: r.Active,
		MaxSpaces: r.MaxSpaces, ComputeUnits: r.ComputeUnits, StorageUnits: r.StorageUnits, MaxTunnels: r.MaxTunnels,
		SSHPublicKey: r.SSHPublicKey, PreferredShell: r.PreferredShell, Timezone: r.Timezone}
}

// Update returns the change r asks for, made with the session keep.
func (r *UserUpdateRequest) Update(keep string) shared.UserUpdate {
	return shared.UserUpdate{Username: r.Username, Email: r.Email, Password: r.Password,
		ServicePassword: r.ServicePassword, Roles: r.Roles, Groups: r.Groups, Active: r.Active,
		MaxSpaces: r.MaxSpaces, ComputeUnits: r.ComputeUnits, StorageUnits: r.StorageUnits, MaxTunnels: r.MaxTunnels,
		SSHPublicKey: r.SSHPublicKey, PreferredShell: r.PreferredShell, Timezone: r.Timezone,
		KeepTokens: shared.Deref(r.KeepTokens), KeepSession: keep, CurrentPassword: shared.Deref(r.CurrentPassword)}
}

// NewQuota returns q as the API shows it.
func NewQuota(q shared.Quota) Quota {
	return Quota{MaxSpaces: q.MaxSpaces, ComputeUnits: q.ComputeUnits, StorageUnits: q.StorageUnits, MaxTunnels: q.MaxTunnels,
		NumberSpaces: q.NumberSpaces, NumberSpacesDeployed: q.NumberSpacesDeployed,
		UsedComputeUnits: q.UsedComputeUnits, UsedStorageUnits: q.UsedStorageUnits}
}

// nonNil returns s, or an empty slice for nil: the API shows [] rather
// than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
