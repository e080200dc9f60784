package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// The group and role handlers decode, make one call to the group or role
// service, audit and encode; the service checks the actor's
// permissions, validates and writes (see package origin).

func newGroupInfo(g *shared.Group) api.Group {
	return api.Group{ID: g.ID, Name: g.Name, MaxSpaces: g.MaxSpaces, ComputeUnits: g.ComputeUnits,
		StorageUnits: g.StorageUnits, MaxTunnels: g.MaxTunnels, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
}

func groupUpdate(req *api.GroupRequest) shared.GroupUpdate {
	return shared.GroupUpdate{Name: req.Name, MaxSpaces: req.MaxSpaces, ComputeUnits: req.ComputeUnits,
		StorageUnits: req.StorageUnits, MaxTunnels: req.MaxTunnels}
}

// handleListGroups serves GET /api/groups.
func (s *Server) handleListGroups(w http.ResponseWriter, r *http.Request, p *principal) error {
	groups, err := listPage(r, s.groups.List)
	if err != nil {
		return err
	}
	out := api.GroupList{Count: len(groups.Items), Total: groups.Total, Groups: make([]api.Group, 0, len(groups.Items))}
	for _, g := range groups.Items {
		out.Groups = append(out.Groups, newGroupInfo(g))
	}
	writeTaggedJSON(w, r, out)
	return nil
}

// handleCreateGroup serves POST /api/groups.
func (s *Server) handleCreateGroup(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.GroupRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	g := &shared.Group{Name: deref(req.Name), MaxSpaces: deref(req.MaxSpaces), ComputeUnits: deref(req.ComputeUnits),
		StorageUnits: deref(req.StorageUnits), MaxTunnels: deref(req.MaxTunnels)}
	if err := s.groups.Create(r.Context(), g); err != nil {
		return err
	}
	s.auditWrite(r, p, "Group Create", "group "+g.Name+" created", map[string]string{"group_id": g.ID})
	writeJSON(w, http.StatusCreated, api.GroupCreated{GroupID: g.ID, Status: true})
	return nil
}

// handleGetGroup serves GET /api/groups/{group_id}.
func (s *Server) handleGetGroup(w http.ResponseWriter, r *http.Request, p *principal) error {
	g, err := s.groups.Get(r.Context(), chi.URLParam(r, "group_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newGroupInfo(g))
	return nil
}

// handleUpdateGroup serves PUT /api/groups/{group_id}.
func (s *Server) handleUpdateGroup(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.GroupRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	g, err := s.groups.Update(r.Context(), chi.URLParam(r, "group_id"), groupUpdate(&req))
	if err != nil {
		return err
	}
	s.auditWrite(r, p, "Group Update", "group "+g.Name+" updated", map[string]string{"group_id": g.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handleDeleteGroup serves DELETE /api/groups/{group_id}: 423 while users
// or templates refer to the group.
func (s *Server) handleDeleteGroup(w http.ResponseWriter, r *http.Request, p *principal) error {
	g, err := s.groups.Delete(r.Context(), chi.URLParam(r, "group_id"))
	if err != nil {
		return err
	}
	s.auditWrite(r, p, "Group Delete", "group "+g.Name+" deleted", map[string]string{"group_id": g.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}
