package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

func newRoleDetails(r *shared.Role) api.Role {
	return api.Role{ID: r.ID, Name: r.Name, Permissions: shared.BuiltPermissions(r.Permissions), Builtin: shared.IsBuiltinRole(r.ID),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// handleListRoles serves GET /api/roles: the built-in roles, then the stored.
func (s *Server) handleListRoles(w http.ResponseWriter, r *http.Request, p *principal) error {
	roles, err := listPage(r, s.roles.List)
	if err != nil {
		return err
	}
	out := api.RoleList{Count: len(roles.Items), Total: roles.Total, Roles: make([]api.Role, 0, len(roles.Items))}
	for _, role := range roles.Items {
		out.Roles = append(out.Roles, newRoleDetails(role))
	}
	writeTaggedJSON(w, r, out)
	return nil
}

// handleCreateRole serves POST /api/roles.
func (s *Server) handleCreateRole(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.RoleRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	role := &shared.Role{Name: deref(req.Name), Permissions: deref(req.Permissions)}
	if err := s.roles.Create(r.Context(), role); err != nil {
		return err
	}
	s.auditWrite(r, p, "Role Create", "role "+role.Name+" created", map[string]string{"role_id": role.ID})
	writeJSON(w, http.StatusCreated, api.RoleCreated{RoleID: role.ID, Status: true})
	return nil
}

// handleGetRole serves GET /api/roles/{role_id}.
func (s *Server) handleGetRole(w http.ResponseWriter, r *http.Request, p *principal) error {
	role, err := s.roles.Get(r.Context(), chi.URLParam(r, "role_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newRoleDetails(role))
	return nil
}

// handleUpdateRole serves PUT /api/roles/{role_id}; built-in roles are 423.
func (s *Server) handleUpdateRole(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.RoleRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	upd := shared.RoleUpdate{Name: req.Name, Permissions: req.Permissions}
	role, err := s.roles.Update(r.Context(), chi.URLParam(r, "role_id"), upd)
	if err != nil {
		return err
	}
	s.auditWrite(r, p, "Role Update", "role "+role.Name+" updated", map[string]string{"role_id": role.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handleDeleteRole serves DELETE /api/roles/{role_id}: 423 for built-in
// roles and while users hold the role.
func (s *Server) handleDeleteRole(w http.ResponseWriter, r *http.Request, p *principal) error {
	role, err := s.roles.Delete(r.Context(), chi.URLParam(r, "role_id"))
	if err != nil {
		return err
	}
	s.auditWrite(r, p, "Role Delete", "role "+role.Name+" deleted", map[string]string{"role_id": role.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handlePermissions serves GET /api/permissions.
func (s *Server) handlePermissions(w http.ResponseWriter, r *http.Request, p *principal) error {
	all, err := s.roles.Permissions(r.Context())
	if err != nil {
		return err
	}
	out := api.PermissionList{Count: len(all), Permissions: make([]api.Permission, len(all))}
	for i, perm := range all {
		out.Permissions[i] = api.Permission{ID: perm, Name: perm.String()}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
