package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// The variable handlers decode, make one call to the variable service,
// audit and encode; the service checks the actor's permissions, validates,
// seals protected values and writes (see packages origin and leaf).

func newVarInfo(v *shared.TemplateVar) api.TemplateVar {
	return api.TemplateVar{ID: v.ID, Name: v.Name, Location: v.Location, Protected: v.Protected, Local: v.Local,
		Restricted: v.Restricted, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
}

func newVarValue(v *shared.TemplateVar) api.TemplateVarValue {
	out := api.TemplateVarValue{TemplateVar: newVarInfo(v)}
	if !v.Protected {
		out.Value = v.Value
	}
	return out
}

// handleListVars serves GET /api/templatevars.
func (s *Server) handleListVars(w http.ResponseWriter, r *http.Request, p *principal) error {
	vars, err := listPage(r, s.variables.List)
	if err != nil {
		return err
	}
	out := api.TemplateVarList{Count: len(vars.Items), Total: vars.Total, Variables: make([]api.TemplateVar, 0, len(vars.Items))}
	for _, v := range vars.Items {
		out.Variables = append(out.Variables, newVarInfo(v))
	}
	writeTaggedJSON(w, r, out)
	return nil
}

// handleCreateVar serves POST /api/templatevars. A protected value is sealed
// before it is stored.
func (s *Server) handleCreateVar(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.TemplateVarRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	v := &shared.TemplateVar{Name: deref(req.Name), Location: deref(req.Location), Value: deref(req.Value),
		Protected: deref(req.Protected), Local: deref(req.Local), Restricted: deref(req.Restricted)}
	if err := s.variables.Create(r.Context(), v); err != nil {
		return err
	}
	s.auditVar(r, p, v, "Variable Create", "variable "+v.Name+" created", map[string]string{"templatevar_id": v.ID})
	writeJSON(w, http.StatusCreated, api.TemplateVarCreated{Status: true, TemplateVarID: v.ID})
	return nil
}

// handleGetVar serves GET /api/templatevars/{templatevar_id}.
func (s *Server) handleGetVar(w http.ResponseWriter, r *http.Request, p *principal) error {
	v, err := s.variables.Get(r.Context(), chi.URLParam(r, "templatevar_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newVarValue(v))
	return nil
}

// handleUpdateVar serves PUT /api/templatevars/{templatevar_id}. A protected
// variable keeps its sealed value unless a new value is given; turning
// protection off needs a new value, since the old one is never revealed.
func (s *Server) handleUpdateVar(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.TemplateVarRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	upd := shared.TemplateVarUpdate{Name: req.Name, Location: req.Location, Value: req.Value,
		Protected: req.Protected, Local: req.Local, Restricted: req.Restricted}
	v, err := s.variables.Update(r.Context(), chi.URLParam(r, "templatevar_id"), upd)
	if err != nil {
		return err
	}
	s.auditVar(r, p, v, "Variable Update", "variable "+v.Name+" updated", map[string]string{"templatevar_id": v.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handleDeleteVar serves DELETE /api/templatevars/{templatevar_id}.
func (s *Server) handleDeleteVar(w http.ResponseWriter, r *http.Request, p *principal) error {
	v, err := s.variables.Delete(r.Context(), chi.URLParam(r, "templatevar_id"))
	if err != nil {
		return err
	}
	s.auditVar(r, p, v, "Variable Delete", "variable "+v.Name+" deleted", map[string]string{"templatevar_id": v.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// auditVar records the event of a write of v: here for a local variable,
// which a leaf writes itself, else as auditWrite.
func (s *Server) auditVar(r *http.Request, p *principal, v *shared.TemplateVar, event, details string, props map[string]string) {
	if v.Local {
		s.audit(r, p, event, details, props)
		return
	}
	s.auditWrite(r, p, event, details, props)
}
