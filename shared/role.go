package shared

import "strings"

// Permission is one thing a role allows. The numbering is the predecessor's.
type Permission uint16

const (
	PermManageUsers Permission = iota
	PermManageTemplates
	PermManageSpaces
	PermManageVolumes
	PermManageGroups
	PermManageRoles
	PermManageVariables
	PermUseSpaces
	PermUseTunnels
	PermViewAuditLogs
	PermTransferSpaces
	PermShareSpaces
	numPermissions
)

var permissionNames = [...]string{
	"Manage Users", "Manage Templates", "Manage Spaces", "Manage Volumes", "Manage Groups",
	"Manage Roles", "Manage Variables", "Use Spaces", "Use Tunnels", "View Audit Logs",
	"Transfer Spaces", "Share Spaces",
}

// AllPermissions lists every permission in order.
func AllPermissions() []Permission {
	ps := make([]Permission, numPermissions)
	for i := range ps {
		ps[i] = Permission(i)
	}
	return ps
}

// Valid reports whether p is a known permission.
func (p Permission) Valid() bool { return p < numPermissions }

func (p Permission) String() string {
	if !p.Valid() {
		return "unknown"
	}
	return permissionNames[p]
}

// AdminRoleID is the built-in role that holds every permission. It always
// exists and cannot be changed or deleted.
const AdminRoleID = "00000000-0000-0000-0000-000000000000"

// UserRoleID is the built-in role given to new users: it may use spaces.
const UserRoleID = "00000000-0000-0000-0000-000000000001"

// Role is a named set of permissions.
type Role struct {
	Meta
	Name        string       `json:"name"`
	Permissions []Permission `json:"permissions"`
}

func (*Role) RecordKind() Kind { return KindRole }

func (r *Role) UniqueKeys() []string { return []string{"name:" + strings.ToLower(r.Name)} }

// BuiltinRoles returns the roles that exist on every server without being
// stored: the admin role with every permission and the user role.
func BuiltinRoles() []*Role {
	return []*Role{
		{Meta: Meta{ID: AdminRoleID}, Name: "Admin", Permissions: AllPermissions()},
		{Meta: Meta{ID: UserRoleID}, Name: "User", Permissions: []Permission{PermUseSpaces, PermUseTunnels}},
	}
}

// IsBuiltinRole reports whether id names a built-in role.
func IsBuiltinRole(id string) bool { return id == AdminRoleID || id == UserRoleID }
