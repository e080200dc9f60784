package web

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/wire"
)

// The space service (package leaf) holds the rules, the quotas, placement
// and the lifecycle. On a leaf, it makes a start, stop or delete of a space
// of another location at the origin, which asks that location's leaf and
// records the event.

// handleListSpaces serves GET /api/spaces, tagged (writeTagged).
func (s *Server) handleListSpaces(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := api.SpaceQuery(r.URL.Query())
	if err != nil {
		return err
	}
	body, err := s.access.ListSpaces(r.Context(), f, r.URL.RawQuery)
	if err != nil {
		return err
	}
	writeTagged(w, r, body)
	return nil
}

// handleCreateSpace serves POST /api/spaces.
func (s *Server) handleCreateSpace(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.SpaceCreateRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	c, err := s.spaces.Create(r.Context(), shared.NewSpace{UserID: req.UserID, TemplateID: req.TemplateID, Name: req.Name,
		Description: req.Description, Location: req.Location, Shell: req.Shell})
	if err != nil {
		return err
	}
	sp := c.Space
	s.audit(r, p, "Space Create", "space "+sp.Name+" created for "+c.Owner.Username+" at location "+sp.Location,
		map[string]string{"space_id": sp.ID, "template_id": sp.TemplateID, "space_location": sp.Location})
	writeJSON(w, http.StatusCreated, api.SpaceCreated{Status: true, SpaceID: sp.ID, AgentToken: c.AgentToken})
	return nil
}

// accessSpace returns the space named by {space_id} if p owns it or holds
// Manage Spaces; to anyone else it does not exist.
func (s *Server) accessSpace(ctx context.Context, r *http.Request, p *principal) (*shared.Space, error) {
	return s.spaces.Get(ctx, chi.URLParam(r, "space_id"))
}

func (s *Server) handleGetSpace(r *http.Request, _ *principal) (api.Space, error) {
	return s.access.SpaceInfo(r.Context(), chi.URLParam(r, "space_id"))
}

// handleUpdateSpace serves PUT /api/spaces/{space_id}: name, description
// and shell. A deployed space cannot be renamed (423).
func (s *Server) handleUpdateSpace(w http.ResponseWriter, r *http.Request, p *principal) error {
	if _, err := s.accessSpace(r.Context(), r, p); err != nil {
		return err
	}
	var req api.SpaceUpdateRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	upd := shared.SpaceUpdate{Name: req.Name, Description: req.Description, Shell: req.Shell}
	sp, err := s.spaces.Update(r.Context(), chi.URLParam(r, "space_id"), upd)
	if err != nil {
		return err
	}
	s.audit(r, p, "Space Update", "space "+sp.Name+" updated", map[string]string{"space_id": sp.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handleDeleteSpace serves DELETE /api/spaces/{space_id}: the space
// service stops the space if needed and removes it.
func (s *Server) handleDeleteSpace(w http.ResponseWriter, r *http.Request, p *principal) error {
	sp, err := s.spaces.Delete(r.Context(), chi.URLParam(r, "space_id"))
	if err != nil {
		return err
	}
	s.auditSpace(r, p, sp, "Space Delete", "space "+sp.Name+" deleted", map[string]string{"space_id": sp.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handleStartSpace serves POST /api/spaces/{space_id}/start.
func (s *Server) handleStartSpace(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.spaceAction(w, r, p, wire.ActionStart)
}

// handleStopSpace serves POST /api/spaces/{space_id}/stop.
func (s *Server) handleStopSpace(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.spaceAction(w, r, p, wire.ActionStop)
}

// spaceAction starts or stops the space named by {space_id} and answers
// with its state afterwards.
func (s *Server) spaceAction(w http.ResponseWriter, r *http.Request, p *principal, action string) error {
	act, event, verb := s.spaces.Start, "Space Start", "started"
	if action == wire.ActionStop {
		act, event, verb = s.spaces.Stop, "Space Stop", "stopped"
	}
	sp, err := act(r.Context(), chi.URLParam(r, "space_id"))
	if err != nil {
		return err
	}
	s.auditSpace(r, p, sp, event, "space "+sp.Name+" "+verb, map[string]string{"space_id": sp.ID})
	writeJSON(w, http.StatusOK, api.SpaceAction{Status: true, State: sp.State, Reason: sp.Reason})
	return nil
}

// auditSpace records the event of an action on sp, unless this is a leaf
// and sp belongs to another location: the origin made it, and recorded it.
func (s *Server) auditSpace(r *http.Request, p *principal, sp *shared.Space, event, details string, props map[string]string) {
	if s.origin != nil && s.spaces.Remote(sp) {
		return
	}
	s.audit(r, p, event, details, props)
}

func (s *Server) handleOutdatedAgents(r *http.Request, _ *principal) (api.OutdatedAgents, error) {
	return s.access.OutdatedAgents(r.Context())
}
