package origin

import (
	"context"
	"slices"
	"strings"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// RoleService is the origin's shared.RoleService over its store. The
// built-in roles are not stored: they are listed first and cannot be
// changed or deleted.
type RoleService struct {
	store storage.Store
	opts  ServiceOptions
}

var _ shared.RoleService = (*RoleService)(nil)

// NewRoleService returns the role service over store. Every write goes
// through store, so a store that tells the hub of its writes keeps the feed
// moving (web's does).
func NewRoleService(store storage.Store, opts ServiceOptions) *RoleService {
	return &RoleService{store: store, opts: opts}
}

// roleIn returns the built-in or stored role with id read through r.
func roleIn(ctx context.Context, r storage.Reader, id string) (*shared.Role, error) {
	for _, b := range shared.BuiltinRoles() {
		if b.ID == id {
			return b, nil
		}
	}
	return get[shared.Role](ctx, r, id, func() error { return shared.Errorf(shared.ENOTFOUND, "role %q not found", id) })
}

// RoleOf returns the RoleFunc that reads the built-in or stored roles of r.
func RoleOf(r storage.Reader) RoleFunc {
	return func(ctx context.Context, id string) (*shared.Role, error) { return roleIn(ctx, r, id) }
}

// actorFor returns the actor in ctx, with an error unless they hold Manage
// Roles.
func (s *RoleService) actorFor(ctx context.Context) (*shared.Actor, error) {
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return nil, err
	}
	return a, a.Needs(shared.PermManageRoles)
}

// List implements shared.RoleService.
func (s *RoleService) List(ctx context.Context, o shared.ListOptions) (shared.Page[*shared.Role], error) {
	if _, err := shared.ActorRequired(ctx); err != nil {
		return shared.Page[*shared.Role]{}, err
	}
	stored, err := storage.List[shared.Role](ctx, s.store)
	return shared.SelectList(append(shared.BuiltinRoles(), stored...), err)(o, shared.SelectRoles)
}

// Get implements shared.RoleService.
func (s *RoleService) Get(ctx context.Context, id string) (*shared.Role, error) {
	if _, err := s.actorFor(ctx); err != nil {
		return nil, err
	}
	return roleIn(ctx, s.store, id)
}

// checkRole validates what upd sets (create requires the name) and sorts
// and deduplicates its permissions.
func checkRole(upd *shared.RoleUpdate, create bool) error {
	if (upd.Name == nil || *upd.Name == "") && create {
		return invalid("name is required")
	}
	if upd.Name != nil {
		if err := checkName("name", *upd.Name); err != nil {
			return err
		}
		for _, b := range shared.BuiltinRoles() {
			if strings.EqualFold(b.Name, *upd.Name) {
				return nameTaken("role", *upd.Name)
			}
		}
	}
	if upd.Permissions != nil {
		ps := slices.Clone(*upd.Permissions)
		for _, perm := range ps {
			if !perm.Valid() {
				return invalid("permissions: %d is not a permission (see GET /api/permissions)", perm)
			}
			if !perm.Built() {
				return invalid("permissions: %d (%s) is for a feature knot does not have; no role may be given it", perm, perm)
			}
		}
		slices.Sort(ps)
		ps = slices.Compact(ps)
		if ps == nil {
			ps = []shared.Permission{}
		}
		upd.Permissions = &ps
	}
	return nil
}

// Create implements shared.RoleService.
func (s *RoleService) Create(ctx context.Context, r *shared.Role) error {
	a, err := s.actorFor(ctx)
	if err != nil {
		return err
	}
	upd := shared.RoleUpdate{Name: &r.Name, Permissions: &r.Permissions}
	if err := checkRole(&upd, true); err != nil {
		return err
	}
	now := s.opts.now()
	c := &shared.Role{Meta: shared.Meta{ID: newID(), CreatedAt: now, UpdatedAt: now}, Name: r.Name, Permissions: *upd.Permissions}
	ctx = writeContext(ctx)
	if err := JudgeChange(ctx, a, Change{RoleAfter: c}, RoleOf(s.store)); err != nil {
		return err
	}
	err = s.store.Put(ctx, c)
	if isCode(err, shared.ECONFLICT) {
		return nameTaken("role", c.Name)
	}
	if err != nil {
		return err
	}
	*r = *c
	s.opts.record(ctx, "Role Create", "role "+r.Name+" created", map[string]string{"role_id": r.ID})
	return nil
}

func builtinLocked(r *shared.Role) error {
	return shared.Errorf(shared.ELOCKED, "the built-in role %s cannot be changed or deleted", quote(r.Name))
}

// stored returns the stored role with id read through tx: ENOTFOUND if
// there is none, ELOCKED for a built-in role.
func stored(ctx context.Context, tx storage.Reader, id string) (*shared.Role, error) {
	r, err := roleIn(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if shared.IsBuiltinRole(id) {
		return nil, builtinLocked(r)
	}
	return r, nil
}

// Update implements shared.RoleService: the role is read, judged and
// written in one transaction.
func (s *RoleService) Update(ctx context.Context, id string, upd shared.RoleUpdate) (*shared.Role, error) {
	a, err := s.actorFor(ctx)
	if err != nil {
		return nil, err
	}
	ctx = writeContext(ctx)
	var out *shared.Role
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		r, err := stored(ctx, tx, id)
		if err != nil {
			return err
		}
		u := upd
		if err := checkRole(&u, false); err != nil {
			return err
		}
		before := *r
		setIf(&r.Name, u.Name)
		setIf(&r.Permissions, u.Permissions)
		r.UpdatedAt = s.opts.now()
		if err := JudgeChange(ctx, a, Change{RoleBefore: &before, RoleAfter: r}, RoleOf(tx)); err != nil {
			return err
		}
		out = r
		return tx.Put(ctx, r)
	})
	if isCode(err, shared.ECONFLICT) && upd.Name != nil {
		return nil, nameTaken("role", *upd.Name)
	}
	if err != nil {
		return nil, err
	}
	s.opts.record(ctx, "Role Update", "role "+out.Name+" updated", map[string]string{"role_id": out.ID})
	return out, nil
}

// Delete implements shared.RoleService: whether a user holds the role and
// the delete are one transaction, so none can be given it meanwhile.
func (s *RoleService) Delete(ctx context.Context, id string) (*shared.Role, error) {
	if _, err := s.actorFor(ctx); err != nil {
		return nil, err
	}
	ctx = writeContext(ctx)
	var out *shared.Role
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		r, err := stored(ctx, tx, id)
		if err != nil {
			return err
		}
		users, err := storage.ListWhere(ctx, tx, func(u *shared.User) bool { return slices.Contains(u.Roles, id) })
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return shared.Errorf(shared.ELOCKED, "role %s is held by %d users: take it from them first", quote(r.Name), len(users))
		}
		out = r
		return tx.Delete(ctx, shared.KindRole, id)
	})
	if err != nil {
		return nil, err
	}
	s.opts.record(ctx, "Role Delete", "role "+out.Name+" deleted", map[string]string{"role_id": out.ID})
	return out, nil
}

// Permissions implements shared.RoleService.
func (s *RoleService) Permissions(ctx context.Context) ([]shared.Permission, error) {
	if _, err := shared.ActorRequired(ctx); err != nil {
		return nil, err
	}
	return shared.AllPermissions(), nil
}
