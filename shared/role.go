package shared

import (
	"context"
	"strings"
)

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

// unbuilt are the predecessor's permissions for features knot does not
// have: volumes as records of their own, tunnels, and transferring and
// sharing spaces. Their numbers stay taken; no role may be given one, the
// API lists none, and nothing checks them.
var unbuilt = [numPermissions]bool{PermManageVolumes: true, PermUseTunnels: true, PermTransferSpaces: true, PermShareSpaces: true}

// AllPermissions lists every permission knot has (Built), in order.
func AllPermissions() []Permission {
	ps := make([]Permission, 0, numPermissions)
	for i := range numPermissions {
		if p := Permission(i); p.Built() {
			ps = append(ps, p)
		}
	}
	return ps
}

// Valid reports whether p is a known permission number, built or not.
func (p Permission) Valid() bool { return p < numPermissions }

// Built reports whether p is a permission of a feature knot has: one a
// role may be given.
func (p Permission) Built() bool { return p.Valid() && !unbuilt[p] }

// BuiltPermissions returns the permissions of ps that are Built, in order.
func BuiltPermissions(ps []Permission) []Permission {
	out := make([]Permission, 0, len(ps))
	for _, p := range ps {
		if p.Built() {
			out = append(out, p)
		}
	}
	return out
}

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
		{Meta: Meta{ID: UserRoleID}, Name: "User", Permissions: []Permission{PermUseSpaces}},
	}
}

// IsBuiltinRole reports whether id names a built-in role.
func IsBuiltinRole(id string) bool { return id == AdminRoleID || id == UserRoleID }

// RoleService manages roles. Every method acts for the actor in ctx
// (ActorFrom) and fails with EUNAUTHORIZED when there is none. Nobody grants
// what they do not hold: putting permissions into a role needs each of
// them. An origin implements it over its store; a leaf reads its replica and
// leaves writes to the origin.
type RoleService interface {
	// List returns the roles o selects (SelectRoles): the built-in roles,
	// then the stored ones ordered by id, unless o.Sort says otherwise.
	// Any actor may list them. EINVALID for options out of range.
	List(ctx context.Context, o ListOptions) (Page[*Role], error)

	// Get returns the built-in or stored role with id. EFORBIDDEN without
	// Manage Roles; ENOTFOUND if there is none.
	Get(ctx context.Context, id string) (*Role, error)

	// Create stores r as a new role and sets its id and timestamps; its
	// permissions are sorted and deduplicated. EFORBIDDEN without Manage
	// Roles, or when it puts in a permission the actor lacks; EINVALID when
	// the name is missing or invalid or a permission unknown; ECONFLICT when
	// another role, built-in ones included, has the name (case-insensitive);
	// EUNAVAILABLE when the write cannot reach the origin.
	Create(ctx context.Context, r *Role) error

	// Update changes the fields of the role with id that upd sets and
	// returns the role as stored. ENOTFOUND if there is none; ELOCKED for a
	// built-in role; EFORBIDDEN, EINVALID, ECONFLICT and EUNAVAILABLE as
	// Create (only the permissions added are judged).
	Update(ctx context.Context, id string, upd RoleUpdate) (*Role, error)

	// Delete deletes the role with id and returns it as it was.
	// EFORBIDDEN without Manage Roles; ENOTFOUND if there is none; ELOCKED
	// for a built-in role and while a user holds it (nothing is deleted: the
	// check and the delete are one transaction); EUNAVAILABLE when the write
	// cannot reach the origin.
	Delete(ctx context.Context, id string) (*Role, error)

	// Permissions lists every permission. Any actor may list them.
	Permissions(ctx context.Context) ([]Permission, error)
}

// RoleUpdate holds the fields of a role an update sets; nil leaves a field
// as it is.
type RoleUpdate struct {
	Name        *string
	Permissions *[]Permission
}
