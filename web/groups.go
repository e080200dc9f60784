package web

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/storage"
)

func newGroupInfo(g *shared.Group) api.Group {
	return api.Group{ID: g.ID, Name: g.Name, MaxSpaces: g.MaxSpaces, ComputeUnits: g.ComputeUnits,
		StorageUnits: g.StorageUnits, MaxTunnels: g.MaxTunnels, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
}

// checkGroupRequest validates the fields present; on create the name is
// required.
func checkGroupRequest(req *api.GroupRequest, create bool) error {
	if req.Name == nil && create {
		return invalid("name is required")
	}
	if req.Name != nil {
		if err := checkName("name", *req.Name); err != nil {
			return err
		}
	}
	return checkQuotas(deref(req.MaxSpaces), deref(req.ComputeUnits), deref(req.StorageUnits), deref(req.MaxTunnels))
}

func applyGroupRequest(req *api.GroupRequest, g *shared.Group) {
	setIf(&g.Name, req.Name)
	setIf(&g.MaxSpaces, req.MaxSpaces)
	setIf(&g.ComputeUnits, req.ComputeUnits)
	setIf(&g.StorageUnits, req.StorageUnits)
	setIf(&g.MaxTunnels, req.MaxTunnels)
}

func (s *Server) getGroup(ctx context.Context, id string) (*shared.Group, error) {
	g, err := storage.Get[shared.Group](ctx, s.store, id)
	if isCode(err, shared.ENOTFOUND) {
		return nil, notFound("group %s not found", quote(id))
	}
	return g, err
}

func nameTaken(kind, name string) error {
	return shared.Errorf(shared.ECONFLICT, "a %s named %s already exists", kind, quote(name))
}

// handleListGroups serves GET /api/groups.
func (s *Server) handleListGroups(w http.ResponseWriter, r *http.Request, p *principal) error {
	groups, err := storage.List[shared.Group](r.Context(), s.store)
	if err != nil {
		return err
	}
	out := api.GroupList{Count: len(groups), Groups: make([]api.Group, 0, len(groups))}
	for _, g := range groups {
		out.Groups = append(out.Groups, newGroupInfo(g))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleCreateGroup serves POST /api/groups.
func (s *Server) handleCreateGroup(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.GroupRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	if err := checkGroupRequest(&req, true); err != nil {
		return err
	}
	now := s.now().UTC()
	g := &shared.Group{Meta: shared.Meta{ID: newID(), CreatedAt: now, UpdatedAt: now}}
	applyGroupRequest(&req, g)
	err := s.store.Put(context.WithoutCancel(r.Context()), g)
	if isCode(err, shared.ECONFLICT) {
		return nameTaken("group", g.Name)
	}
	if err != nil {
		return err
	}
	s.audit(r, p, "Group Create", "group "+g.Name+" created", map[string]string{"group_id": g.ID})
	writeJSON(w, http.StatusCreated, api.GroupCreated{GroupID: g.ID, Status: true})
	return nil
}

// handleGetGroup serves GET /api/groups/{group_id}.
func (s *Server) handleGetGroup(w http.ResponseWriter, r *http.Request, p *principal) error {
	g, err := s.getGroup(r.Context(), chi.URLParam(r, "group_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newGroupInfo(g))
	return nil
}

// handleUpdateGroup serves PUT /api/groups/{group_id}.
func (s *Server) handleUpdateGroup(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := context.WithoutCancel(r.Context())
	id := chi.URLParam(r, "group_id")
	if _, err := s.getGroup(ctx, id); err != nil {
		return err
	}
	var req api.GroupRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	if err := checkGroupRequest(&req, false); err != nil {
		return err
	}
	g, err := update(ctx, s, func() (*shared.Group, error) { return s.getGroup(ctx, id) }, func(g *shared.Group) error {
		applyGroupRequest(&req, g)
		g.UpdatedAt = s.now().UTC()
		return nil
	})
	if isCode(err, shared.ECONFLICT) && req.Name != nil {
		return nameTaken("group", *req.Name)
	}
	if err != nil {
		return err
	}
	s.audit(r, p, "Group Update", "group "+g.Name+" updated", map[string]string{"group_id": g.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handleDeleteGroup serves DELETE /api/groups/{group_id}: 423 while users
// or templates refer to the group.
func (s *Server) handleDeleteGroup(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := context.WithoutCancel(r.Context())
	g, err := s.getGroup(ctx, chi.URLParam(r, "group_id"))
	if err != nil {
		return err
	}
	users, err := storage.ListWhere(ctx, s.store, func(u *shared.User) bool { return slices.Contains(u.Groups, g.ID) })
	if err != nil {
		return err
	}
	templates, err := storage.ListWhere(ctx, s.store, func(t *shared.Template) bool { return slices.Contains(t.Groups, g.ID) })
	if err != nil {
		return err
	}
	if len(users) > 0 || len(templates) > 0 {
		return shared.Errorf(shared.ELOCKED, "group %s is in use by %d users and %d templates: remove it from them first", quote(g.Name), len(users), len(templates))
	}
	if _, err := s.store.Delete(ctx, shared.KindGroup, g.ID); err != nil {
		return err
	}
	s.audit(r, p, "Group Delete", "group "+g.Name+" deleted", map[string]string{"group_id": g.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

func newRoleDetails(r *shared.Role) api.Role {
	return api.Role{ID: r.ID, Name: r.Name, Permissions: nonNil(r.Permissions), Builtin: shared.IsBuiltinRole(r.ID),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func checkRoleRequest(req *api.RoleRequest, create bool) error {
	if req.Name == nil && create {
		return invalid("name is required")
	}
	if req.Name != nil {
		if err := checkName("name", *req.Name); err != nil {
			return err
		}
		for _, b := range shared.BuiltinRoles() {
			if strings.EqualFold(b.Name, *req.Name) {
				return nameTaken("role", *req.Name)
			}
		}
	}
	if req.Permissions != nil {
		ps := slices.Clone(*req.Permissions)
		for _, perm := range ps {
			if !perm.Valid() {
				return invalid("permissions: %d is not a permission (see GET /api/permissions)", perm)
			}
		}
		slices.Sort(ps)
		ps = slices.Compact(ps)
		req.Permissions = &ps
	}
	return nil
}

func (s *Server) getRole(ctx context.Context, id string) (*shared.Role, error) {
	return s.role(ctx, id)
}

// handleListRoles serves GET /api/roles: the built-in roles, then the stored.
func (s *Server) handleListRoles(w http.ResponseWriter, r *http.Request, p *principal) error {
	roles, err := storage.List[shared.Role](r.Context(), s.store)
	if err != nil {
		return err
	}
	out := api.RoleList{Roles: []api.Role{}}
	for _, b := range shared.BuiltinRoles() {
		out.Roles = append(out.Roles, newRoleDetails(b))
	}
	for _, role := range roles {
		out.Roles = append(out.Roles, newRoleDetails(role))
	}
	out.Count = len(out.Roles)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleCreateRole serves POST /api/roles.
func (s *Server) handleCreateRole(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.RoleRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	if err := checkRoleRequest(&req, true); err != nil {
		return err
	}
	now := s.now().UTC()
	role := &shared.Role{Meta: shared.Meta{ID: newID(), CreatedAt: now, UpdatedAt: now}, Name: *req.Name, Permissions: []shared.Permission{}}
	setIf(&role.Permissions, req.Permissions)
	ctx := context.WithoutCancel(r.Context())
	if err := s.mayChange(ctx, p, change{roleAfter: role}); err != nil {
		return err
	}
	err := s.store.Put(ctx, role)
	if isCode(err, shared.ECONFLICT) {
		return nameTaken("role", role.Name)
	}
	if err != nil {
		return err
	}
	s.audit(r, p, "Role Create", "role "+role.Name+" created", map[string]string{"role_id": role.ID})
	writeJSON(w, http.StatusCreated, api.RoleCreated{RoleID: role.ID, Status: true})
	return nil
}

// handleGetRole serves GET /api/roles/{role_id}.
func (s *Server) handleGetRole(w http.ResponseWriter, r *http.Request, p *principal) error {
	role, err := s.getRole(r.Context(), chi.URLParam(r, "role_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newRoleDetails(role))
	return nil
}

func builtinLocked(role *shared.Role) error {
	return shared.Errorf(shared.ELOCKED, "the built-in role %s cannot be changed or deleted", quote(role.Name))
}

// handleUpdateRole serves PUT /api/roles/{role_id}; built-in roles are 423.
func (s *Server) handleUpdateRole(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := context.WithoutCancel(r.Context())
	id := chi.URLParam(r, "role_id")
	role, err := s.getRole(ctx, id)
	if err != nil {
		return err
	}
	if shared.IsBuiltinRole(id) {
		return builtinLocked(role)
	}
	var req api.RoleRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	if err := checkRoleRequest(&req, false); err != nil {
		return err
	}
	role, err = update(ctx, s, func() (*shared.Role, error) { return s.getRole(ctx, id) }, func(role *shared.Role) error {
		before := *role
		setIf(&role.Name, req.Name)
		setIf(&role.Permissions, req.Permissions)
		role.UpdatedAt = s.now().UTC()
		return s.mayChange(ctx, p, change{roleBefore: &before, roleAfter: role})
	})
	if isCode(err, shared.ECONFLICT) && req.Name != nil {
		return nameTaken("role", *req.Name)
	}
	if err != nil {
		return err
	}
	s.audit(r, p, "Role Update", "role "+role.Name+" updated", map[string]string{"role_id": role.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handleDeleteRole serves DELETE /api/roles/{role_id}: 423 for built-in
// roles and while users hold the role.
func (s *Server) handleDeleteRole(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := context.WithoutCancel(r.Context())
	id := chi.URLParam(r, "role_id")
	role, err := s.getRole(ctx, id)
	if err != nil {
		return err
	}
	if shared.IsBuiltinRole(id) {
		return builtinLocked(role)
	}
	users, err := storage.ListWhere(ctx, s.store, func(u *shared.User) bool { return slices.Contains(u.Roles, id) })
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return shared.Errorf(shared.ELOCKED, "role %s is held by %d users: take it from them first", quote(role.Name), len(users))
	}
	if _, err := s.store.Delete(ctx, shared.KindRole, id); err != nil {
		return err
	}
	s.audit(r, p, "Role Delete", "role "+role.Name+" deleted", map[string]string{"role_id": id})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handlePermissions serves GET /api/permissions.
func (s *Server) handlePermissions(w http.ResponseWriter, r *http.Request, p *principal) error {
	all := shared.AllPermissions()
	out := api.PermissionList{Count: len(all), Permissions: make([]api.Permission, len(all))}
	for i, perm := range all {
		out.Permissions[i] = api.Permission{ID: perm, Name: perm.String()}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
