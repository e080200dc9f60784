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

// NewRole returns r as the API shows it.
func NewRole(r *shared.Role) Role {
	return Role{ID: r.ID, Name: r.Name, Permissions: shared.BuiltPermissions(r.Permissions), Builtin: shared.IsBuiltinRole(r.ID),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// NewRoleList returns the answer of GET /api/roles for the page p.
func NewRoleList(p shared.Page[*shared.Role]) RoleList {
	return RoleList{Count: len(p.Items), Total: p.Total, Roles: mapped(p.Items, NewRole)}
}

// NewPermissionList returns the answer of GET /api/permissions.
func NewPermissionList(all []shared.Permission) PermissionList {
	return PermissionList{Count: len(all), Permissions: mapped(all, func(p shared.Permission) Permission {
		return Permission{ID: p, Name: p.String()}
	})}
}

// Role returns the role r creates.
func (r *RoleRequest) Role() *shared.Role {
	return &shared.Role{Name: shared.Deref(r.Name), Permissions: shared.Deref(r.Permissions)}
}

// Update returns the change r asks for.
func (r *RoleRequest) Update() shared.RoleUpdate {
	return shared.RoleUpdate{Name: r.Name, Permissions: r.Permissions}
}
