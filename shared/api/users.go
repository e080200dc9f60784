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
// its spaces.
type UserListItem struct {
	User
	NumberSpaces         int `json:"number_spaces"`
	NumberSpacesDeployed int `json:"number_spaces_deployed"`
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
