package api

import (
	"time"

	"github.com/knot-dev/knot/shared"
)

// Role is a role as the API shows it.
type Role struct {
	ID          string              `json:"role_id"`
	Name        string              `json:"name"`
	Permissions []shared.Permission `json:"permissions"`
	Builtin     bool                `json:"builtin"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
}

// RoleList is the answer of GET /api/roles.
type RoleList struct {
	Count int `json:"count"`
	// Total is the number of records the query selected before paging.
	Total int    `json:"total"`
	Roles []Role `json:"roles"`
}

// RoleRequest is the body of POST /api/roles and PUT /api/roles/{role_id}.
type RoleRequest struct {
	Name        *string              `json:"name"`
	Permissions *[]shared.Permission `json:"permissions"`
}

// RoleCreated is the answer of POST /api/roles.
type RoleCreated struct {
	RoleID string `json:"role_id"`
	Status bool   `json:"status"`
}

// Permission is one permission as GET /api/permissions lists it.
type Permission struct {
	ID   shared.Permission `json:"id"`
	Name string            `json:"name"`
}

// PermissionList is the answer of GET /api/permissions.
type PermissionList struct {
	Count       int          `json:"count"`
	Permissions []Permission `json:"permissions"`
}
