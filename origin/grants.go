package origin

import (
	"context"
	"reflect"
	"slices"
	"strings"

	"github.com/knot-dev/knot/shared"
)

// Change is one change the grant rules judge: a user (UserBefore nil:
// created; UserAfter nil: deleted) or a role (RoleBefore nil: created).
type Change struct {
	UserBefore, UserAfter *shared.User
	RoleBefore, RoleAfter *shared.Role
}

// RoleFunc returns the role with id, ENOTFOUND when there is none.
type RoleFunc func(ctx context.Context, id string) (*shared.Role, error)

// JudgeChange decides whether a may make c: nil, or an EFORBIDDEN error that
// names the permission or role a lacks. Nobody grants what they do not hold.
//
// Every change to who holds what (a user created, updated or deleted, a role
// created or updated) is judged here and nowhere else (by RoleService and UserService),
// after the permission the call needs itself (Manage Users, Manage Roles):
//
//   - Granting a role (creating a user with it, or adding it to a user's
//     roles) needs every permission of the role; granting the built-in Admin
//     role needs the Admin role.
//   - Putting permissions into a role (creating it with them, or adding them)
//     needs each of those permissions. So a role editor cannot raise a role
//     they hold above their own permissions, nor give the other holders of a
//     role anything the editor lacks.
//   - Changing another user's account (credentials such as email, password,
//     service password, SSH key and TOTP, or roles, groups, the active flag,
//     or deleting the user) needs every permission that user holds, and the
//     Admin role when they hold it: whoever could set another's password
//     could act as them. Their quotas, shell and time zone are free to
//     change. A user's own account is judged only by the grant rule.
//
// Groups carry quotas and template access, not roles, so joining or leaving
// a group grants no permission. Removing permissions or roles grants none
// either; the first user, created as admin while no user exists, is made by
// no actor and is not judged. The rules use nothing of HTTP: they take an
// actor and a change and resolve roles through a function.
func JudgeChange(ctx context.Context, a *shared.Actor, c Change, role RoleFunc) error {
	if a == nil || a.User == nil {
		return shared.Errorf(shared.EUNAUTHORIZED, "a change of who holds what needs an authenticated actor")
	}
	if c.RoleAfter != nil {
		return judgeRole(a, c.RoleBefore, c.RoleAfter)
	}
	if c.UserBefore == nil && c.UserAfter == nil {
		return nil
	}
	if err := judgeAccount(ctx, a, c.UserBefore, c.UserAfter, role); err != nil {
		return err
	}
	if c.UserAfter == nil {
		return nil
	}
	var had []string
	if c.UserBefore != nil {
		had = c.UserBefore.Roles
	}
	for _, id := range c.UserAfter.Roles {
		if slices.Contains(had, id) {
			continue
		}
		if err := judgeGrant(ctx, a, id, role); err != nil {
			return err
		}
	}
	return nil
}

// judgeGrant checks that a may grant the role with id.
func judgeGrant(ctx context.Context, a *shared.Actor, id string, role RoleFunc) error {
	r, err := role(ctx, id)
	if isCode(err, shared.ENOTFOUND) {
		return invalid("roles: role %s does not exist", quote(id))
	}
	if err != nil {
		return err
	}
	if id == shared.AdminRoleID && !a.Admin {
		return forbidden("granting the Admin role needs the Admin role, which you do not hold")
	}
	if missing := shared.PermissionsOf(r.Permissions) &^ a.Permissions; missing != 0 {
		return forbidden("granting the role %s needs the %s, which you do not hold", quote(r.Name), permNames(missing))
	}
	return nil
}

// judgeRole checks that a holds every permission put into a role.
func judgeRole(a *shared.Actor, before, after *shared.Role) error {
	var had shared.PermissionSet
	if before != nil {
		had = shared.PermissionsOf(before.Permissions)
	}
	if missing := shared.PermissionsOf(after.Permissions) &^ had &^ a.Permissions; missing != 0 {
		return forbidden("putting the %s into the role %s needs you to hold them, and you do not", permNames(missing), quote(after.Name))
	}
	return nil
}

// judgeAccount checks that a may change (after nil: delete) the account of
// another user: a must hold all their permissions, and the Admin role when
// they hold it. Quotas, shell and time zone are free.
func judgeAccount(ctx context.Context, a *shared.Actor, before, after *shared.User, role RoleFunc) error {
	if before == nil || before.ID == a.User.ID {
		return nil
	}
	what := "delete"
	if after != nil {
		changed := accountChanges(before, after)
		if len(changed) == 0 {
			return nil
		}
		what = "change the " + strings.Join(changed, ", ") + " of"
	}
	if slices.Contains(before.Roles, shared.AdminRoleID) && !a.Admin {
		return forbidden("%s is an Admin: only an Admin may %s them, and you do not hold the Admin role", quote(before.Username), what)
	}
	var held shared.PermissionSet
	for _, id := range before.Roles {
		r, err := role(ctx, id)
		if isCode(err, shared.ENOTFOUND) {
			continue
		}
		if err != nil {
			return err
		}
		held |= shared.PermissionsOf(r.Permissions)
	}
	if missing := held &^ a.Permissions; missing != 0 {
		return forbidden("to %s %s you need the %s that they hold, and you do not", what, quote(before.Username), permNames(missing))
	}
	return nil
}

// accountChanges names the guarded parts of a user's account that differ
// between before and after. Any field not named here and not free (quotas,
// shell, time zone, timestamps) counts as "account", so that a field added
// to shared.User later is guarded until it is named.
func accountChanges(before, after *shared.User) []string {
	guarded := []struct {
		name string
		same bool
	}{
		{"username", before.Username == after.Username},
		{"email", before.Email == after.Email},
		{"password", before.PasswordHash == after.PasswordHash},
		{"TOTP", before.TOTPSecret == after.TOTPSecret && before.TOTPLastStep == after.TOTPLastStep},
		{"service password", before.ServicePassword == after.ServicePassword},
		{"SSH public key", before.SSHPublicKey == after.SSHPublicKey},
		{"roles", sameSet(before.Roles, after.Roles)},
		{"groups", sameSet(before.Groups, after.Groups)},
		{"active flag", before.Active == after.Active},
	}
	var out []string
	for _, g := range guarded {
		if !g.same {
			out = append(out, g.name)
		}
	}
	if !reflect.DeepEqual(unguarded(before), unguarded(after)) {
		out = append(out, "account")
	}
	return out
}

// unguarded returns u with the named and the free fields cleared.
func unguarded(u *shared.User) shared.User {
	c := *u
	c.Meta = shared.Meta{ID: u.ID}
	c.Username, c.Email, c.PasswordHash, c.TOTPSecret, c.ServicePassword, c.SSHPublicKey = "", "", "", "", "", ""
	c.TOTPLastStep = 0
	c.Roles, c.Groups, c.Active = nil, nil, false
	c.MaxSpaces, c.ComputeUnits, c.StorageUnits, c.MaxTunnels = 0, 0, 0, 0
	c.PreferredShell, c.Timezone = "", ""
	return c
}

// permNames names the permissions in bits: "Manage Users permission" or
// "Manage Users and Manage Roles permissions".
func permNames(bits shared.PermissionSet) string {
	var names []string
	for _, p := range shared.AllPermissions() {
		if bits.Has(p) {
			names = append(names, p.String())
		}
	}
	switch len(names) {
	case 0:
		return "no permission"
	case 1:
		return names[0] + " permission"
	case 2:
		return names[0] + " and " + names[1] + " permissions"
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] + " permissions"
}
