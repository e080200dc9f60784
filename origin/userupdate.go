package origin

import (
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

// Update implements shared.UserService. The fields are checked against the
// user as stored before the password is hashed; then the user is read,
// checked again, judged and written in one transaction with the deletion
// of their sessions and API tokens that a new password or a deactivation
// makes.
func (s *UserService) Update(ctx context.Context, id string, upd shared.UserUpdate) (*shared.User, error) {
	a, err := shared.UserAccess(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.checkCurrentPassword(ctx, a, id, &upd); err != nil {
		return nil, err
	}
	ctx = writeContext(ctx)
	if upd.Roles != nil {
		roles := shared.Distinct(*upd.Roles)
		upd.Roles = &roles
	}
	if upd.Groups != nil {
		groups := shared.Distinct(*upd.Groups)
		upd.Groups = &groups
	}
	cur, err := get[shared.User](ctx, s.store, id, userNotFound(id))
	if err != nil {
		return nil, err
	}
	if err := checkUpdate(ctx, s.store, a, cur, &upd); err != nil {
		return nil, err
	}
	var hash string
	if upd.Password != nil {
		if hash, err = crypt.HashPassword(*upd.Password); err != nil {
			return nil, invalid("password: %v", err)
		}
	}
	var out *shared.User
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		cur, err := get[shared.User](ctx, tx, id, userNotFound(id))
		if err != nil {
			return err
		}
		if err := checkUpdate(ctx, tx, a, cur, &upd); err != nil {
			return err
		}
		u := s.applyUpdate(cur, &upd, hash)
		if err := JudgeChange(ctx, a, Change{UserBefore: cur, UserAfter: u}, RoleOf(tx)); err != nil {
			return err
		}
		if err := putUser(ctx, tx, u); err != nil {
			return err
		}
		out = u
		if hash == "" && u.Active {
			return nil
		}
		keep := ""
		if u.ID == a.User.ID {
			keep = upd.KeepSession
		}
		if err := deleteOf(ctx, tx, func(se *shared.Session) bool { return se.UserID == u.ID && se.ID != keep }); err != nil {
			return err
		}
		if hash == "" || upd.KeepTokens {
			return nil
		}
		return deleteOf(ctx, tx, func(t *shared.Token) bool { return t.UserID == u.ID })
	})
	if err != nil {
		return nil, err
	}
	s.opts.record(ctx, "User Update", "user "+out.Username+" updated", map[string]string{"updated_user_id": out.ID})
	return out, nil
}

// checkCurrentPassword requires, when the actor a changes their own
// password or email, their current password in upd. It is checked as a
// login is, under the same limits (the caller's address counts), so that
// a stolen session can neither take the account over nor guess its
// password quickly. A wrong one is EFORBIDDEN, not EUNAUTHORIZED: the
// session itself is fine.
func (s *UserService) checkCurrentPassword(ctx context.Context, a *shared.Actor, id string, upd *shared.UserUpdate) error {
	cur := a.User
	if id != cur.ID || upd.Password == nil && (upd.Email == nil || *upd.Email == cur.Email) {
		return nil
	}
	if upd.CurrentPassword == "" {
		return invalid("current_password is required to change your own password or email")
	}
	if cur.PasswordHash == "" {
		return forbidden("your account has no password here: change it at the origin")
	}
	attempt, err := s.logins.Begin(ctx, cur.Email, shared.CallerFrom(ctx).IP, func(f Refusal) {
		if s.opts.Audit != nil {
			s.opts.Audit(ctx, f.AuditEvent(cur.Email))
		}
	})
	if err != nil {
		return err
	}
	defer attempt.End()
	if len(upd.CurrentPassword) > 1024 || !attempt.Check(cur.PasswordHash, upd.CurrentPassword) {
		s.opts.record(ctx, "User Update Refused", "wrong current password for a change of "+cur.Username+"'s password or email",
			map[string]string{"updated_user_id": cur.ID})
		return forbidden("current_password is not your password")
	}
	attempt.Succeed()
	return nil
}

// applyUpdate returns cur with what upd sets, and hash as its password
// hash when set.
func (s *UserService) applyUpdate(cur *shared.User, upd *shared.UserUpdate, hash string) *shared.User {
	u := *cur
	setIf(&u.Email, upd.Email)
	if hash != "" {
		u.PasswordHash = hash
	}
	setIf(&u.ServicePassword, upd.ServicePassword)
	setIf(&u.Roles, upd.Roles)
	setIf(&u.Groups, upd.Groups)
	setIf(&u.Active, upd.Active)
	setIf(&u.MaxSpaces, upd.MaxSpaces)
	setIf(&u.ComputeUnits, upd.ComputeUnits)
	setIf(&u.StorageUnits, upd.StorageUnits)
	setIf(&u.MaxTunnels, upd.MaxTunnels)
	setIf(&u.SSHPublicKey, upd.SSHPublicKey)
	setIf(&u.PreferredShell, upd.PreferredShell)
	setIf(&u.Timezone, upd.Timezone)
	u.UpdatedAt = s.opts.now()
	return &u
}

// checkUpdate checks what upd sets on cur, for the actor a, with the roles
// and groups of r: roles, groups, the active flag and quotas need Manage
// Users to change.
func checkUpdate(ctx context.Context, r storage.Reader, a *shared.Actor, cur *shared.User, upd *shared.UserUpdate) error {
	admin := a.Can(shared.PermManageUsers)
	if upd.Username != nil && *upd.Username != cur.Username {
		return invalid("username cannot be changed (it is %s)", quote(cur.Username))
	}
	if upd.Email != nil {
		if err := checkEmail(*upd.Email); err != nil {
			return err
		}
	}
	if upd.Password != nil {
		if err := checkPassword(*upd.Password); err != nil {
			return err
		}
	}
	if upd.ServicePassword != nil {
		if err := shared.CheckText("service_password", *upd.ServicePassword, 255); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name     string
		val, cur []string
		set      bool
	}{{"roles", shared.Deref(upd.Roles), cur.Roles, upd.Roles != nil}, {"groups", shared.Deref(upd.Groups), cur.Groups, upd.Groups != nil}} {
		if !f.set {
			continue
		}
		if !admin && !sameSet(f.val, f.cur) {
			return forbidden("changing %s needs the Manage Users permission", f.name)
		}
		roles, groups := f.val, []string(nil)
		if f.name == "groups" {
			roles, groups = nil, f.val
		}
		if err := checkRefs(ctx, r, roles, groups); err != nil {
			return err
		}
	}
	if upd.Active != nil && *upd.Active != cur.Active {
		if !admin {
			return forbidden("changing active needs the Manage Users permission")
		}
		if !*upd.Active && cur.ID == a.User.ID {
			return invalid("active: you cannot deactivate your own account")
		}
	}
	if err := checkQuotaChange(upd, cur, admin); err != nil {
		return err
	}
	return checkProfile(shared.Deref(upd.SSHPublicKey), shared.Deref(upd.PreferredShell), shared.Deref(upd.Timezone))
}

// checkQuotaChange checks the quotas upd sets: in range, and changed only
// by an actor with Manage Users (admin).
func checkQuotaChange(upd *shared.UserUpdate, cur *shared.User, admin bool) error {
	for _, q := range []struct {
		name string
		val  *int
		cur  int
	}{
		{"max_spaces", upd.MaxSpaces, cur.MaxSpaces}, {"compute_units", upd.ComputeUnits, cur.ComputeUnits},
		{"storage_units", upd.StorageUnits, cur.StorageUnits}, {"max_tunnels", upd.MaxTunnels, cur.MaxTunnels},
	} {
		if q.val == nil {
			continue
		}
		if *q.val != q.cur && !admin {
			return forbidden("changing %s needs the Manage Users permission", q.name)
		}
		if q.name == "max_tunnels" && *q.val != q.cur {
			return shared.CheckQuotas(0, 0, 0, *q.val) // 0 only: knot has no tunnels
		}
		if *q.val < 0 || *q.val > shared.MaxQuota {
			return invalid("%s must be from 0 to %d, not %d", q.name, shared.MaxQuota, *q.val)
		}
	}
	return nil
}

// deleteOf deletes the records of type T in tx that keep accepts.
func deleteOf[T any, P storage.RecordPtr[T]](ctx context.Context, tx storage.Tx, keep func(P) bool) error {
	recs, err := storage.ListWhere(ctx, tx, keep)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if err := tx.Delete(ctx, rec.RecordKind(), rec.RecordID()); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements shared.UserService: the user's spaces are deleted
// through the SpaceDeleter (a space's runtime cannot join a store
// transaction), then the user, their API tokens and their sessions in one
// transaction: all of them or, on any error, none. That transaction also
// makes sure no space of the user is left that was not deleted: a space
// created meanwhile fails it with ECONFLICT (and a space created after it
// finds its owner gone, see the space service in package leaf). A user already gone by
// then is no error; their tokens and sessions still go.
func (s *UserService) Delete(ctx context.Context, id string) (*shared.User, []*shared.Space, error) {
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return nil, nil, err
	}
	if id == a.User.ID {
		return nil, nil, forbidden("you cannot delete your own account")
	}
	u, err := s.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	ctx = writeContext(ctx)
	if err := JudgeChange(ctx, a, Change{UserBefore: u}, RoleOf(s.store)); err != nil {
		return nil, nil, err
	}
	deleted, err := s.deleteSpaces(ctx, id)
	for _, sp := range deleted {
		s.opts.record(ctx, "Space Delete", "space "+sp.Name+" of "+u.Username+" deleted with its user", map[string]string{"space_id": sp.ID})
	}
	if err != nil {
		return u, deleted, err
	}
	asked := make(map[string]bool, len(deleted))
	for _, sp := range deleted {
		asked[sp.ID] = true
	}
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		if err := deleteOf(ctx, tx, func(t *shared.Token) bool { return t.UserID == id }); err != nil {
			return err
		}
		if err := deleteOf(ctx, tx, func(se *shared.Session) bool { return se.UserID == id }); err != nil {
			return err
		}
		late, err := storage.ListWhere(ctx, tx, func(sp *shared.Space) bool { return sp.UserID == id && !asked[sp.ID] })
		if err != nil {
			return err
		}
		if len(late) > 0 {
			return shared.Errorf(shared.ECONFLICT, "user %s got the space %s while being deleted: try again", quote(u.Username), quote(late[0].Name))
		}
		if err := tx.Delete(ctx, shared.KindUser, id); err != nil && !isCode(err, shared.ENOTFOUND) {
			return err
		}
		return nil
	})
	if err != nil {
		return u, deleted, err
	}
	s.opts.record(ctx, "User Delete", "user "+u.Username+" deleted", map[string]string{"deleted_user_id": u.ID})
	return u, deleted, nil
}

// deleteSpaces deletes the spaces of the user with id through the
// SpaceDeleter and returns those it asked to delete. It looks again for
// spaces created meanwhile, a few times.
func (s *UserService) deleteSpaces(ctx context.Context, id string) ([]*shared.Space, error) {
	var deleted []*shared.Space
	asked := map[string]bool{}
	for range 3 {
		spaces, err := storage.ListWhere(ctx, s.store, func(sp *shared.Space) bool { return sp.UserID == id && !asked[sp.ID] })
		if err != nil || len(spaces) == 0 {
			return deleted, err
		}
		for _, sp := range spaces {
			if err := s.deleteSpace(ctx, sp); err != nil && !isCode(err, shared.ENOTFOUND) {
				return deleted, err
			}
			asked[sp.ID] = true
			deleted = append(deleted, sp)
		}
	}
	return deleted, nil
}
