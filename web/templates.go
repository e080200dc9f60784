package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// handleListTemplates serves GET /api/templates: the templates the caller's
// groups may use, or all with Manage Templates.
func (s *Server) handleListTemplates(r *http.Request, _ *principal) (api.TemplateList, error) {
	ts, err := listPage(r, s.templates.List)
	return api.NewTemplateList(ts), err
}

func (s *Server) handleCreateTemplate(r *http.Request, _ *principal, req *api.TemplateRequest) (api.TemplateCreated, error) {
	t := req.Template()
	err := s.templates.Create(r.Context(), t)
	return api.TemplateCreated{Status: true, TemplateID: t.ID}, err
}

// handleGetTemplate serves GET /api/templates/{template_id} with the
// spaces made from it that the caller may see.
func (s *Server) handleGetTemplate(r *http.Request, _ *principal) (api.TemplateDetails, error) {
	t, err := s.templates.Get(r.Context(), chi.URLParam(r, "template_id"))
	if err != nil {
		return api.TemplateDetails{}, err
	}
	l, err := s.spaces.List(r.Context(), shared.SpaceFilter{Visible: true})
	if isCode(err, shared.EFORBIDDEN) { // no spaces to see: Usage counts them
		l, err = &shared.SpaceList{}, nil
	}
	if err != nil {
		return api.TemplateDetails{}, err
	}
	return api.NewTemplateDetails(t, l), nil
}

// handleValidateTemplate serves POST /api/templates/validate: whether the
// template in the body would pass the checks of its kind, spec and volumes
// that a save makes, and where it fails, without saving it.
func (s *Server) handleValidateTemplate(r *http.Request, _ *principal, req *api.TemplateRequest) (api.TemplateCheck, error) {
	t := req.Template()
	err := shared.CheckText("spec", t.Spec, shared.MaxSpecSize)
	if err == nil {
		err = shared.CheckText("volumes", t.Volumes, shared.MaxSpecSize)
	}
	if err == nil {
		err = s.validateTemplate(t)
	}
	return api.NewTemplateCheck(err)
}

// handleUpdateTemplate serves PUT /api/templates/{template_id}. Spaces see
// the new hash as an available update.
func (s *Server) handleUpdateTemplate(r *http.Request, _ *principal, req *api.TemplateRequest) (api.OK, error) {
	_, err := s.templates.Update(r.Context(), chi.URLParam(r, "template_id"), req.Update())
	return okResp, err
}

func (s *Server) handleDeleteTemplate(r *http.Request, _ *principal) (api.OK, error) {
	_, err := s.templates.Delete(r.Context(), chi.URLParam(r, "template_id"))
	return okResp, err
}

// A protected variable's value is sealed before it is stored and never
// shown again; a local one is kept at the leaf that made it.

func (s *Server) handleListVars(r *http.Request, _ *principal) (api.TemplateVarList, error) {
	vars, err := listPage(r, s.variables.List)
	return api.NewTemplateVarList(vars), err
}

func (s *Server) handleCreateVar(r *http.Request, _ *principal, req *api.TemplateVarRequest) (api.TemplateVarCreated, error) {
	v := req.TemplateVar()
	err := s.variables.Create(r.Context(), v)
	return api.TemplateVarCreated{Status: true, TemplateVarID: v.ID}, err
}

func (s *Server) handleGetVar(r *http.Request, _ *principal) (api.TemplateVarValue, error) {
	v, err := s.variables.Get(r.Context(), chi.URLParam(r, "templatevar_id"))
	if err != nil {
		return api.TemplateVarValue{}, err
	}
	return api.NewTemplateVarValue(v), nil
}

func (s *Server) handleUpdateVar(r *http.Request, _ *principal, req *api.TemplateVarRequest) (api.OK, error) {
	_, err := s.variables.Update(r.Context(), chi.URLParam(r, "templatevar_id"), req.Update())
	return okResp, err
}

func (s *Server) handleDeleteVar(r *http.Request, _ *principal) (api.OK, error) {
	_, err := s.variables.Delete(r.Context(), chi.URLParam(r, "templatevar_id"))
	return okResp, err
}
