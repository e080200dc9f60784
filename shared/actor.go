package shared

import (
	"context"
	"slices"
	"strings"
)

// Actor is who a service call acts for: the authenticated user, the
// permissions of their roles and whether they hold the built-in Admin role.
// The web layer puts it into the context of every authenticated request
// (NewContextWithActor); the services read it with ActorFrom and decide
// with it, so that no caller can forget a permission check.
type Actor struct {
	// User is the authenticated user. It may be shared with a cache and must
	// not be modified.
	User *User
	// Permissions is the union of the permissions of User's roles.
	Permissions PermissionSet
	// Admin reports whether User holds the built-in Admin role.
	Admin bool
}

// NewActor returns the actor for u with the permissions perms; Admin is set
// when u holds the Admin role.
func NewActor(u *User, perms PermissionSet) *Actor {
	return &Actor{User: u, Permissions: perms, Admin: slices.Contains(u.Roles, AdminRoleID)}
}

// Can reports whether a holds perm.
func (a *Actor) Can(perm Permission) bool { return a != nil && a.Permissions.Has(perm) }

// Needs returns the EFORBIDDEN error of an actor lacking perm, or nil when
// a holds it.
func (a *Actor) Needs(perm Permission) error {
	if a.Can(perm) {
		return nil
	}
	return Errorf(EFORBIDDEN, "this needs the %s permission", perm)
}

// PermissionSet is a set of permissions: bit p set means permission p.
type PermissionSet uint32

// PermissionsOf returns the set of the permissions in perms that knot has
// (Built): a role stored with another grants nothing by it.
func PermissionsOf(perms []Permission) PermissionSet {
	var s PermissionSet
	for _, p := range perms {
		if p.Built() {
			s |= 1 << p
		}
	}
	return s
}

// Has reports whether s holds p.
func (s PermissionSet) Has(p Permission) bool { return p.Valid() && s&(1<<p) != 0 }

// HasAny reports whether s holds at least one of perms.
func (s PermissionSet) HasAny(perms ...Permission) bool {
	return slices.ContainsFunc(perms, s.Has)
}

// List returns the permissions s holds, in the order of AllPermissions.
func (s PermissionSet) List() []Permission {
	out := []Permission{}
	for _, p := range AllPermissions() {
		if s.Has(p) {
			out = append(out, p)
		}
	}
	return out
}

// NeedsOneOf returns the EFORBIDDEN error of an actor holding none of perms.
func NeedsOneOf(perms ...Permission) error {
	names := make([]string, len(perms))
	for i, p := range perms {
		names[i] = p.String()
	}
	return Errorf(EFORBIDDEN, "this needs the %s permission", strings.Join(names, " or "))
}

const actorKey contextKey = userKey + 1

// NewContextWithActor returns a copy of ctx that carries a, and a's user as
// UserFromContext returns it.
func NewContextWithActor(ctx context.Context, a *Actor) context.Context {
	if a != nil && a.User != nil {
		ctx = NewContextWithUser(ctx, a.User)
	}
	return context.WithValue(ctx, actorKey, a)
}

// ActorFrom returns the actor in ctx, or nil when the call is made for no
// one (then every service call that needs an actor fails with
// EUNAUTHORIZED).
func ActorFrom(ctx context.Context) *Actor {
	a, _ := ctx.Value(actorKey).(*Actor)
	return a
}

// ActorRequired returns the actor in ctx, or an EUNAUTHORIZED error when
// there is none.
func ActorRequired(ctx context.Context) (*Actor, error) {
	if a := ActorFrom(ctx); a != nil && a.User != nil {
		return a, nil
	}
	return nil, Errorf(EUNAUTHORIZED, "authentication required: log in, or send \"Authorization: Bearer <token>\"")
}
