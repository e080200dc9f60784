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
// and the lifecycle, and records the audit events of the writes. On a leaf,
// it makes a start, stop or delete of a space of another location at the
// origin, which asks that location's leaf and records the event.

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
	writeJSON(w, http.StatusCreated, api.SpaceCreated{Status: true, SpaceID: c.Space.ID, AgentToken: c.AgentToken})
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
	if _, err := s.spaces.Update(r.Context(), chi.URLParam(r, "space_id"), upd); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handleDeleteSpace serves DELETE /api/spaces/{space_id}: the space
// service stops the space if needed and removes it.
func (s *Server) handleDeleteSpace(w http.ResponseWriter, r *http.Request, p *principal) error {
	if _, err := s.spaces.Delete(r.Context(), chi.URLParam(r, "space_id")); err != nil {
		return err
	}
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
	act := s.spaces.Start
	if action == wire.ActionStop {
		act = s.spaces.Stop
	}
	sp, err := act(r.Context(), chi.URLParam(r, "space_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.SpaceAction{Status: true, State: sp.State, Reason: sp.Reason})
	return nil
}

func (s *Server) handleOutdatedAgents(r *http.Request, _ *principal) (api.OutdatedAgents, error) {
	return s.access.OutdatedAgents(r.Context())
}
