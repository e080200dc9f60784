package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared/api"
)

func (s *Server) handleListGroups(r *http.Request, _ *principal) (api.GroupList, error) {
	groups, err := listPage(r, s.groups.List)
	return api.NewGroupList(groups), err
}

func (s *Server) handleCreateGroup(r *http.Request, _ *principal, req *api.GroupRequest) (api.GroupCreated, error) {
	g := req.Group()
	err := s.groups.Create(r.Context(), g)
	return api.GroupCreated{GroupID: g.ID, Status: true}, err
}

func (s *Server) handleGetGroup(r *http.Request, _ *principal) (api.Group, error) {
	g, err := s.groups.Get(r.Context(), chi.URLParam(r, "group_id"))
	if err != nil {
		return api.Group{}, err
	}
	return api.NewGroup(g), nil
}

func (s *Server) handleUpdateGroup(r *http.Request, _ *principal, req *api.GroupRequest) (api.OK, error) {
	_, err := s.groups.Update(r.Context(), chi.URLParam(r, "group_id"), req.Update())
	return okResp, err
}

func (s *Server) handleDeleteGroup(r *http.Request, _ *principal) (api.OK, error) {
	_, err := s.groups.Delete(r.Context(), chi.URLParam(r, "group_id"))
	return okResp, err
}

func (s *Server) handleListRoles(r *http.Request, _ *principal) (api.RoleList, error) {
	roles, err := listPage(r, s.roles.List)
	return api.NewRoleList(roles), err
}

func (s *Server) handleCreateRole(r *http.Request, _ *principal, req *api.RoleRequest) (api.RoleCreated, error) {
	role := req.Role()
	err := s.roles.Create(r.Context(), role)
	return api.RoleCreated{RoleID: role.ID, Status: true}, err
}

func (s *Server) handleGetRole(r *http.Request, _ *principal) (api.Role, error) {
	role, err := s.roles.Get(r.Context(), chi.URLParam(r, "role_id"))
	if err != nil {
		return api.Role{}, err
	}
	return api.NewRole(role), nil
}

func (s *Server) handleUpdateRole(r *http.Request, _ *principal, req *api.RoleRequest) (api.OK, error) {
	_, err := s.roles.Update(r.Context(), chi.URLParam(r, "role_id"), req.Update())
	return okResp, err
}

func (s *Server) handleDeleteRole(r *http.Request, _ *principal) (api.OK, error) {
	_, err := s.roles.Delete(r.Context(), chi.URLParam(r, "role_id"))
	return okResp, err
}

func (s *Server) handlePermissions(r *http.Request, _ *principal) (api.PermissionList, error) {
	all, err := s.roles.Permissions(r.Context())
	return api.NewPermissionList(all), err
}
