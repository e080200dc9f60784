package web

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// The template handlers decode, make one call to the template service,
// audit and encode; the service checks the actor's permissions, validates
// (with origin.TemplateOptions.Validate) and writes (see package origin).

func newTemplateInfo(u *shared.TemplateUsage) api.Template {
	t := u.Template
	return api.Template{
		ID: t.ID, Name: t.Name, Description: t.Description, Kind: t.Kind,
		Groups: nonNil(t.Groups), Locations: nonNil(t.Locations),
		ComputeUnits: t.ComputeUnits, StorageUnits: t.StorageUnits,
		WithTerminal: t.AllowsTerminal(), WithSSH: t.AllowsSSH(), HTTPPorts: nonNil(t.HTTPPorts), Hash: t.Hash,
		Usage: u.Spaces, Deployed: u.Deployed, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
	}
}

func templateUpdate(req *api.TemplateRequest) shared.TemplateUpdate {
	return shared.TemplateUpdate{Name: req.Name, Description: req.Description, Kind: req.Kind, Spec: req.Spec,
		Volumes: req.Volumes, Groups: req.Groups, Locations: req.Locations, ComputeUnits: req.ComputeUnits,
		StorageUnits: req.StorageUnits, WithTerminal: req.WithTerminal, WithSSH: req.WithSSH, HTTPPorts: req.HTTPPorts}
}

// handleListTemplates serves GET /api/templates: the templates the caller's
// groups may use, or all with Manage Templates.
func (s *Server) handleListTemplates(w http.ResponseWriter, r *http.Request, p *principal) error {
	ts, err := listPage(r, s.templates.List)
	if err != nil {
		return err
	}
	out := api.TemplateList{Count: len(ts.Items), Total: ts.Total, Templates: make([]api.Template, 0, len(ts.Items))}
	for _, t := range ts.Items {
		out.Templates = append(out.Templates, newTemplateInfo(t))
	}
	writeTaggedJSON(w, r, out)
	return nil
}

// newTemplate is the template req creates: terminals and SSH are allowed
// unless it says otherwise.
func newTemplate(req *api.TemplateRequest) *shared.Template {
	return &shared.Template{Name: deref(req.Name), Description: deref(req.Description), Kind: deref(req.Kind),
		Spec: deref(req.Spec), Volumes: deref(req.Volumes), Groups: deref(req.Groups), Locations: deref(req.Locations),
		ComputeUnits: deref(req.ComputeUnits), StorageUnits: deref(req.StorageUnits),
		NoTerminal: req.WithTerminal != nil && !*req.WithTerminal, NoSSH: req.WithSSH != nil && !*req.WithSSH,
		HTTPPorts: deref(req.HTTPPorts)}
}

// handleCreateTemplate serves POST /api/templates.
func (s *Server) handleCreateTemplate(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.TemplateRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	t := newTemplate(&req)
	if err := s.templates.Create(r.Context(), t); err != nil {
		return err
	}
	s.auditWrite(r, p, "Template Create", "template "+t.Name+" created", map[string]string{"template_id": t.ID})
	writeJSON(w, http.StatusCreated, api.TemplateCreated{Status: true, TemplateID: t.ID})
	return nil
}

// handleGetTemplate serves GET /api/templates/{template_id}.
func (s *Server) handleGetTemplate(w http.ResponseWriter, r *http.Request, p *principal) error {
	t, err := s.templates.Get(r.Context(), chi.URLParam(r, "template_id"))
	if err != nil {
		return err
	}
	l, err := s.spaces.List(r.Context(), shared.SpaceFilter{Visible: true})
	if shared.ErrorCode(err) == shared.EFORBIDDEN { // no spaces to see: Usage counts them
		l, err = &shared.SpaceList{}, nil
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.TemplateDetails{Template: newTemplateInfo(t), Spec: t.Spec, Volumes: t.Volumes,
		Spaces: templateSpaces(t.ID, l)})
	return nil
}

// templateSpaces lists the spaces of l made from the template with id.
func templateSpaces(id string, l *shared.SpaceList) []api.TemplateSpace {
	out := []api.TemplateSpace{}
	for _, sp := range l.Spaces {
		if sp.TemplateID != id {
			continue
		}
		ts := api.TemplateSpace{ID: sp.ID, Name: sp.Name, UserID: sp.UserID, Location: sp.Location, Deployed: sp.Deployed()}
		if u := l.Users[sp.UserID]; u != nil {
			ts.Username = u.Username
		}
		out = append(out, ts)
	}
	return out
}

// handleValidateTemplate serves POST /api/templates/validate: whether the
// template in the body would pass the checks of its kind, spec and volumes
// that a save makes, and where it fails, without saving it.
func (s *Server) handleValidateTemplate(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.TemplateRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	out := api.TemplateCheck{Valid: true}
	t := newTemplate(&req)
	err := shared.CheckText("spec", t.Spec, shared.MaxSpecSize)
	if err == nil {
		err = shared.CheckText("volumes", t.Volumes, shared.MaxSpecSize)
	}
	if err == nil {
		err = s.validateTemplate(t)
	}
	var se *shared.SpecError
	switch {
	case errors.As(err, &se):
		out = api.TemplateCheck{Error: shared.ErrorMessage(err), Field: se.Field, Line: se.Line, Column: se.Column}
	case shared.ErrorCode(err) == shared.EINVALID:
		out = api.TemplateCheck{Error: shared.ErrorMessage(err)}
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleUpdateTemplate serves PUT /api/templates/{template_id}. Spaces see
// the new hash as an available update.
func (s *Server) handleUpdateTemplate(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.TemplateRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	t, err := s.templates.Update(r.Context(), chi.URLParam(r, "template_id"), templateUpdate(&req))
	if err != nil {
		return err
	}
	s.auditWrite(r, p, "Template Update", "template "+t.Name+" updated", map[string]string{"template_id": t.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handleDeleteTemplate serves DELETE /api/templates/{template_id}: 423 while
// spaces use the template.
func (s *Server) handleDeleteTemplate(w http.ResponseWriter, r *http.Request, p *principal) error {
	t, err := s.templates.Delete(r.Context(), chi.URLParam(r, "template_id"))
	if err != nil {
		return err
	}
	s.auditWrite(r, p, "Template Delete", "template "+t.Name+" deleted", map[string]string{"template_id": t.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}
