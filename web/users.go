package web

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // user time zones are checked against the IANA database

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

func newUserResponse(u *shared.User, p *principal) api.User {
	r := api.User{
		ID: u.ID, Username: u.Username, Email: u.Email, SSHPublicKey: u.SSHPublicKey,
		PreferredShell: u.PreferredShell, Timezone: u.Timezone,
		Roles: nonNil(u.Roles), Groups: nonNil(u.Groups), Active: u.Active,
		MaxSpaces: u.MaxSpaces, ComputeUnits: u.ComputeUnits, StorageUnits: u.StorageUnits, MaxTunnels: u.MaxTunnels,
		Current: p != nil && p.user.ID == u.ID, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
	if r.Current {
		r.ServicePassword = u.ServicePassword
	}
	return r
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// handleWhoAmI serves GET /api/users/whoami.
func (s *Server) handleWhoAmI(w http.ResponseWriter, r *http.Request, p *principal) error {
	resp := newUserResponse(p.user, p)
	resp.Permissions = nonNil(p.permissions())
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// handleListUsers serves GET /api/users?state=all|active|inactive.
func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request, p *principal) error {
	state := r.URL.Query().Get("state")
	switch state {
	case "", "all", "active", "inactive":
	default:
		return invalid("query parameter state must be all, active or inactive, not %s", quote(state))
	}
	v, err := s.lists.get(r.Context(), s.spaces)
	if err != nil {
		return err
	}
	count := map[string]int{}
	deployed := map[string]int{}
	for _, sp := range v.spaces {
		count[sp.UserID]++
		if sp.Deployed() {
			deployed[sp.UserID]++
		}
	}
	users, err := storage.List[shared.User](r.Context(), s.store)
	if err != nil {
		return err
	}
	out := api.UserList{Users: []api.UserListItem{}}
	for _, u := range users {
		if (state == "active" && !u.Active) || (state == "inactive" && u.Active) {
			continue
		}
		out.Users = append(out.Users, api.UserListItem{User: newUserResponse(u, p), NumberSpaces: count[u.ID], NumberSpacesDeployed: deployed[u.ID]})
	}
	out.Count = len(out.Users)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleCreateUser serves POST /api/users. While no user exists it needs no
// credentials and creates an active admin; afterwards it needs Manage Users.
func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request) {
	var err error
	if hasCredentials(r) {
		var p *principal
		if p, err = s.authenticate(r); err == nil {
			if !p.can(shared.PermManageUsers) {
				err = needs(shared.PermManageUsers)
			} else {
				r = r.WithContext(shared.NewContextWithUser(r.Context(), p.user))
				err = s.createUser(w, r, p)
			}
		}
	} else {
		err = s.createFirstUser(w, r)
	}
	if err != nil {
		s.writeError(w, r, err)
	}
}

// createFirstUser creates the first user, an active admin, while no user
// exists. The store's transaction keeps two requests, of this server or of
// servers sharing one store, from both succeeding; the mutex guards
// setupDone.
func (s *Server) createFirstUser(w http.ResponseWriter, r *http.Request) error {
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	ctx := context.WithoutCancel(r.Context())
	if !s.setupDone {
		users, err := s.store.List(ctx, shared.KindUser)
		if err != nil {
			return err
		}
		s.setupDone = len(users) > 0
	}
	if s.setupDone {
		return errNotAuthenticated
	}
	var req api.UserCreateRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	u, err := s.newUser(ctx, &req)
	if err != nil {
		return err
	}
	u.Roles = []string{shared.AdminRoleID}
	u.Active = true
	if err := putFirstUser(ctx, s.store, u); err != nil {
		s.setupDone = err == errFirstUserTaken
		return err
	}
	s.setupDone = true
	s.auditAs(r, u.Username, u.ID, "User Create", "first user "+u.Username+" created as admin", map[string]string{"created_user_id": u.ID})
	writeJSON(w, http.StatusCreated, api.UserCreated{Status: true, UserID: u.ID})
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.UserCreateRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	ctx := context.WithoutCancel(r.Context())
	u, err := s.newUser(ctx, &req)
	if err != nil {
		return err
	}
	if err := s.mayChange(ctx, p, change{userAfter: u}); err != nil {
		return err
	}
	if err := s.putNewUser(ctx, u); err != nil {
		return err
	}
	s.audit(r, p, "User Create", "user "+u.Username+" created", map[string]string{"created_user_id": u.ID})
	writeJSON(w, http.StatusCreated, api.UserCreated{Status: true, UserID: u.ID})
	return nil
}

// newUser validates req and returns the user it describes.
func (s *Server) newUser(ctx context.Context, req *api.UserCreateRequest) (*shared.User, error) {
	if err := checkName("username", req.Username); err != nil {
		return nil, err
	}
	if err := checkEmail(req.Email); err != nil {
		return nil, err
	}
	if err := checkPassword(req.Password); err != nil {
		return nil, err
	}
	roles := []string{shared.UserRoleID}
	if req.Roles != nil {
		roles = dedupe(*req.Roles)
	}
	if err := s.checkRoles(ctx, roles); err != nil {
		return nil, err
	}
	groups := dedupe(nonNil(req.Groups))
	if err := s.checkGroups(ctx, "groups", groups); err != nil {
		return nil, err
	}
	if err := checkQuotas(req.MaxSpaces, req.ComputeUnits, req.StorageUnits, req.MaxTunnels); err != nil {
		return nil, err
	}
	if err := checkProfile(req.SSHPublicKey, req.PreferredShell, req.Timezone); err != nil {
		return nil, err
	}
	sp := req.ServicePassword
	if sp == "" {
		sp = crypt.GenerateKey()[:16]
	} else if err := checkText("service_password", sp, 255); err != nil {
		return nil, err
	}
	hash, err := crypt.HashPassword(req.Password)
	if err != nil {
		return nil, invalid("password: %v", err)
	}
	now := s.now().UTC()
	return &shared.User{
		Meta:     shared.Meta{ID: newID(), CreatedAt: now, UpdatedAt: now},
		Username: req.Username, Email: req.Email, PasswordHash: hash, ServicePassword: sp,
		SSHPublicKey: req.SSHPublicKey, Roles: roles, Groups: groups,
		Active:    req.Active == nil || *req.Active,
		MaxSpaces: req.MaxSpaces, ComputeUnits: req.ComputeUnits, StorageUnits: req.StorageUnits, MaxTunnels: req.MaxTunnels,
		PreferredShell: req.PreferredShell, Timezone: req.Timezone,
	}, nil
}

// putNewUser stores a new user, naming the clash when the email or username
// is taken.
func (s *Server) putNewUser(ctx context.Context, u *shared.User) error {
	if err := s.checkUserUnique(ctx, u); err != nil {
		return err
	}
	err := s.store.Put(ctx, u)
	if isCode(err, shared.ECONFLICT) {
		return shared.Errorf(shared.ECONFLICT, "a user with email %s or username %s already exists", quote(u.Email), quote(u.Username))
	}
	return err
}

func (s *Server) checkUserUnique(ctx context.Context, u *shared.User) error {
	if c, err := s.store.Lookup(ctx, shared.KindUser, "email:"+strings.ToLower(u.Email)); err == nil && c.ID != u.ID {
		return shared.Errorf(shared.ECONFLICT, "a user with email %s already exists", quote(u.Email))
	} else if err != nil && !isCode(err, shared.ENOTFOUND) {
		return err
	}
	if c, err := s.store.Lookup(ctx, shared.KindUser, "username:"+strings.ToLower(u.Username)); err == nil && c.ID != u.ID {
		return shared.Errorf(shared.ECONFLICT, "a user named %s already exists", quote(u.Username))
	} else if err != nil && !isCode(err, shared.ENOTFOUND) {
		return err
	}
	return nil
}

func checkEmail(email string) error {
	if !shared.ValidEmail(email) {
		return invalid("email %s is not a valid email address", quote(email))
	}
	return nil
}

func checkPassword(pw string) error {
	if len(pw) < shared.MinPasswordLength {
		return invalid("password must be at least %d characters long", shared.MinPasswordLength)
	}
	if len(pw) > 72 {
		return invalid("password must be at most 72 bytes long")
	}
	return nil
}

func checkQuotas(vals ...int) error {
	names := []string{"max_spaces", "compute_units", "storage_units", "max_tunnels"}
	for i, v := range vals {
		if v < 0 || v > 1_000_000 {
			return invalid("%s must be from 0 to 1000000, not %d", names[i], v)
		}
	}
	return nil
}

func checkProfile(sshKey, shell, tz string) error {
	if err := checkText("ssh_public_key", sshKey, 16<<10); err != nil {
		return err
	}
	if shell != "" && !shared.ValidShell(shell) {
		return invalid("preferred_shell %s is not one of bash, zsh, fish, sh", quote(shell))
	}
	if tz != "" {
		if len(tz) > 64 {
			return invalid("timezone is longer than 64 bytes")
		}
		if _, err := time.LoadLocation(tz); err != nil {
			return invalid("timezone %s is not a known time zone (such as Europe/London)", quote(tz))
		}
	}
	return nil
}

// checkRoles fails when an id names no role.
func (s *Server) checkRoles(ctx context.Context, ids []string) error {
	for _, id := range ids {
		if _, err := s.role(ctx, id); isCode(err, shared.ENOTFOUND) {
			return invalid("roles: role %s does not exist", quote(id))
		} else if err != nil {
			return err
		}
	}
	return nil
}

// checkGroups fails when an id names no group.
func (s *Server) checkGroups(ctx context.Context, field string, ids []string) error {
	for _, id := range ids {
		if _, err := s.store.Get(ctx, shared.KindGroup, id); isCode(err, shared.ENOTFOUND) {
			return invalid("%s: group %s does not exist", field, quote(id))
		} else if err != nil {
			return err
		}
	}
	return nil
}

// targetUser returns the user named by {user_id} if p may act on them: p
// themself, or anyone with Manage Users.
func (s *Server) targetUser(r *http.Request, p *principal) (*shared.User, error) {
	id := chi.URLParam(r, "user_id")
	if id != p.user.ID && !p.can(shared.PermManageUsers) {
		return nil, needs(shared.PermManageUsers)
	}
	return s.getUser(r.Context(), id)
}

func (s *Server) getUser(ctx context.Context, id string) (*shared.User, error) {
	u, err := storage.Get[shared.User](ctx, s.store, id)
	if isCode(err, shared.ENOTFOUND) {
		return nil, notFound("user %s not found", quote(id))
	}
	return u, err
}

// handleGetUser serves GET /api/users/{user_id}.
func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	u, err := s.targetUser(r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newUserResponse(u, p))
	return nil
}

// handleUpdateUser serves PUT /api/users/{user_id}. Fields left out keep
// their values. Roles, groups, active and quotas need Manage Users.
func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	cur, err := s.targetUser(r, p)
	if err != nil {
		return err
	}
	var req api.UserUpdateRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	ctx := context.WithoutCancel(r.Context())
	admin := p.can(shared.PermManageUsers)
	// Validate everything first.
	if req.Username != nil && *req.Username != cur.Username {
		return invalid("username cannot be changed (it is %s)", quote(cur.Username))
	}
	if req.Email != nil {
		if err := checkEmail(*req.Email); err != nil {
			return err
		}
	}
	var hash string
	if req.Password != nil {
		if err := checkPassword(*req.Password); err != nil {
			return err
		}
	}
	if req.ServicePassword != nil {
		if err := checkText("service_password", *req.ServicePassword, 255); err != nil {
			return err
		}
	}
	if req.Roles != nil {
		roles := dedupe(*req.Roles)
		req.Roles = &roles
		if !admin && !sameSet(roles, cur.Roles) {
			return forbidden("changing roles needs the Manage Users permission")
		}
		if err := s.checkRoles(ctx, roles); err != nil {
			return err
		}
	}
	if req.Groups != nil {
		groups := dedupe(*req.Groups)
		req.Groups = &groups
		if !admin && !sameSet(groups, cur.Groups) {
			return forbidden("changing groups needs the Manage Users permission")
		}
		if err := s.checkGroups(ctx, "groups", groups); err != nil {
			return err
		}
	}
	if req.Active != nil && *req.Active != cur.Active {
		if !admin {
			return forbidden("changing active needs the Manage Users permission")
		}
		if !*req.Active && cur.ID == p.user.ID {
			return invalid("active: you cannot deactivate your own account")
		}
	}
	quotas := []struct {
		name     string
		val      *int
		curValue int
	}{
		{"max_spaces", req.MaxSpaces, cur.MaxSpaces}, {"compute_units", req.ComputeUnits, cur.ComputeUnits},
		{"storage_units", req.StorageUnits, cur.StorageUnits}, {"max_tunnels", req.MaxTunnels, cur.MaxTunnels},
	}
	for _, q := range quotas {
		if q.val == nil {
			continue
		}
		if *q.val != q.curValue && !admin {
			return forbidden("changing %s needs the Manage Users permission", q.name)
		}
		if *q.val < 0 || *q.val > 1_000_000 {
			return invalid("%s must be from 0 to 1000000, not %d", q.name, *q.val)
		}
	}
	if err := checkProfile(deref(req.SSHPublicKey), deref(req.PreferredShell), deref(req.Timezone)); err != nil {
		return err
	}
	if err := s.checkCurrentPassword(r, p, cur, &req); err != nil {
		return err
	}
	if req.Password != nil {
		if hash, err = crypt.HashPassword(*req.Password); err != nil {
			return invalid("password: %v", err)
		}
	}

	u, err := update(ctx, s, func() (*shared.User, error) { return s.getUser(ctx, cur.ID) }, func(u *shared.User) error {
		before := *u
		setIf(&u.Email, req.Email)
		if hash != "" {
			u.PasswordHash = hash
		}
		setIf(&u.ServicePassword, req.ServicePassword)
		setIf(&u.Roles, req.Roles)
		setIf(&u.Groups, req.Groups)
		setIf(&u.Active, req.Active)
		setIf(&u.MaxSpaces, req.MaxSpaces)
		setIf(&u.ComputeUnits, req.ComputeUnits)
		setIf(&u.StorageUnits, req.StorageUnits)
		setIf(&u.MaxTunnels, req.MaxTunnels)
		setIf(&u.SSHPublicKey, req.SSHPublicKey)
		setIf(&u.PreferredShell, req.PreferredShell)
		setIf(&u.Timezone, req.Timezone)
		u.UpdatedAt = s.now().UTC()
		if err := s.mayChange(ctx, p, change{userBefore: &before, userAfter: u}); err != nil {
			return err
		}
		return s.checkUserUnique(ctx, u)
	})
	if err != nil {
		return err
	}
	// A new password or deactivation ends the user's other sessions.
	if hash != "" || !u.Active {
		keep := ""
		if u.ID == p.user.ID {
			keep = p.sessionID
		}
		if err := s.deleteSessions(ctx, u.ID, keep); err != nil {
			return err
		}
	}
	if hash != "" && !deref(req.KeepTokens) {
		if _, err := s.deleteTokens(ctx, u.ID); err != nil {
			return err
		}
	}
	s.audit(r, p, "User Update", "user "+u.Username+" updated", map[string]string{"updated_user_id": u.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// deleteSessions deletes the sessions of a user except keep.
func (s *Server) deleteSessions(ctx context.Context, userID, keep string) error {
	sessions, err := storage.ListWhere(ctx, s.store, func(se *shared.Session) bool { return se.UserID == userID && se.ID != keep })
	if err != nil {
		return err
	}
	for _, se := range sessions {
		if _, err := s.store.Delete(ctx, shared.KindSession, se.ID); err != nil && !isCode(err, shared.ENOTFOUND) {
			return err
		}
	}
	return nil
}

// handleDeleteUser serves DELETE /api/users/{user_id}: it deletes the user's
// spaces (through the space controller, which frees what they hold in their
// runtime), then the user with their tokens and sessions in one
// transaction.
func (s *Server) handleDeleteUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := chi.URLParam(r, "user_id")
	if id == p.user.ID {
		return forbidden("you cannot delete your own account")
	}
	u, err := s.targetUser(r, p)
	if err != nil {
		return err
	}
	ctx := context.WithoutCancel(r.Context())
	if err := s.mayChange(ctx, p, change{userBefore: u}); err != nil {
		return err
	}
	spaces, err := storage.ListWhere(ctx, s.store, func(sp *shared.Space) bool { return sp.UserID == u.ID })
	if err != nil {
		return err
	}
	for _, sp := range spaces {
		if err := s.spaces.Purge(ctx, sp); err != nil && !isCode(err, shared.ENOTFOUND) {
			return err
		}
		s.audit(r, p, "Space Delete", "space "+sp.Name+" of "+u.Username+" deleted with its user", map[string]string{"space_id": sp.ID})
	}
	if err := s.deleteUserRecords(ctx, u.ID); err != nil {
		return err
	}
	s.audit(r, p, "User Delete", "user "+u.Username+" deleted", map[string]string{"deleted_user_id": u.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// quota returns the limits of u (their own plus their groups') and usage.
func (s *Server) quota(ctx context.Context, u *shared.User) (api.Quota, error) {
	l, err := limitsOf(ctx, s.store, u)
	q := api.Quota{MaxSpaces: l.MaxSpaces, ComputeUnits: l.ComputeUnits, StorageUnits: l.StorageUnits, MaxTunnels: l.MaxTunnels}
	if err != nil {
		return q, err
	}
	all := func(*shared.Space) bool { return true }
	used, err := s.usage(ctx, u.ID, all)
	if err != nil {
		return q, err
	}
	if s.leaf != nil {
		// The leaf holds its own spaces and, from the feed, the last it
		// heard of the others; the origin knows the others for sure when it
		// can be asked.
		if far, err := s.originUsage(ctx, u.ID); err == nil {
			if used, err = s.usage(ctx, u.ID, func(sp *shared.Space) bool { return !s.remote(sp) }); err != nil {
				return q, err
			}
			addUsage(&used, far)
		} else {
			s.log.InfoContext(ctx, "quota counts the spaces this leaf knows of", "user", u.Username, "reason", shared.ErrorMessage(err))
		}
	}
	q.NumberSpaces, q.NumberSpacesDeployed = used.NumberSpaces, used.NumberSpacesDeployed
	q.UsedComputeUnits, q.UsedStorageUnits = used.UsedComputeUnits, used.UsedStorageUnits
	return q, nil
}

// handleUserQuota serves GET /api/users/{user_id}/quota.
func (s *Server) handleUserQuota(w http.ResponseWriter, r *http.Request, p *principal) error {
	u, err := s.targetUser(r, p)
	if err != nil {
		return err
	}
	q, err := s.quota(r.Context(), u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, q)
	return nil
}
