package web

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/storage"
)

// maxVarValue is the largest template variable value accepted.
const maxVarValue = 512 << 10

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

func (s *Server) checkVarRequest(req *api.TemplateVarRequest, create bool) error {
	if create && req.Name == nil {
		return invalid("name is required")
	}
	if req.Name != nil && !shared.ValidVarName(*req.Name) {
		return invalid("name %s is invalid: it must start with a letter or underscore and hold at most 64 letters, digits or underscores", quote(*req.Name))
	}
	if req.Location != nil && *req.Location != "" {
		if err := checkLocation("location", *req.Location); err != nil {
			return err
		}
	}
	if req.Value != nil {
		if len(*req.Value) > maxVarValue {
			return shared.Errorf(shared.ETOOLARGE, "value is larger than %d bytes", maxVarValue)
		}
		if err := checkText("value", *req.Value, maxVarValue); err != nil {
			return err
		}
	}
	if deref(req.Protected) && s.sealer == nil {
		return invalid("protected: server.encrypt is not set, so protected variables cannot be stored on this server")
	}
	return nil
}

func (s *Server) getVar(ctx context.Context, id string) (*shared.TemplateVar, error) {
	v, err := storage.Get[shared.TemplateVar](ctx, s.store, id)
	if isCode(err, shared.ENOTFOUND) {
		return nil, notFound("template variable %s not found", quote(id))
	}
	return v, err
}

func varNameTaken(v *shared.TemplateVar) error {
	where := "every location"
	if v.Location != "" {
		where = "location " + quote(v.Location)
	}
	return shared.Errorf(shared.ECONFLICT, "a variable named %s already exists for %s", quote(v.Name), where)
}

// handleListVars serves GET /api/templatevars.
func (s *Server) handleListVars(w http.ResponseWriter, r *http.Request, p *principal) error {
	vars, err := storage.List[shared.TemplateVar](r.Context(), s.store)
	if err != nil {
		return err
	}
	out := api.TemplateVarList{Count: len(vars), Variables: make([]api.TemplateVar, 0, len(vars))}
	for _, v := range vars {
		out.Variables = append(out.Variables, newVarInfo(v))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleCreateVar serves POST /api/templatevars. A protected value is sealed
// before it is stored.
func (s *Server) handleCreateVar(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.TemplateVarRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	if err := s.checkVarRequest(&req, true); err != nil {
		return err
	}
	now := s.now().UTC()
	v := &shared.TemplateVar{
		Meta: shared.Meta{ID: newID(), CreatedAt: now, UpdatedAt: now},
		Name: *req.Name, Location: deref(req.Location), Value: deref(req.Value),
		Protected: deref(req.Protected), Local: deref(req.Local), Restricted: deref(req.Restricted),
	}
	if v.Protected {
		v.Value = s.sealer.Seal(v.Value)
	}
	err := s.store.Put(context.WithoutCancel(r.Context()), v)
	if isCode(err, shared.ECONFLICT) {
		return varNameTaken(v)
	}
	if err != nil {
		return err
	}
	s.audit(r, p, "Variable Create", "variable "+v.Name+" created", map[string]string{"templatevar_id": v.ID})
	writeJSON(w, http.StatusCreated, api.TemplateVarCreated{Status: true, TemplateVarID: v.ID})
	return nil
}

// handleGetVar serves GET /api/templatevars/{templatevar_id}.
func (s *Server) handleGetVar(w http.ResponseWriter, r *http.Request, p *principal) error {
	v, err := s.getVar(r.Context(), chi.URLParam(r, "templatevar_id"))
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
	ctx := context.WithoutCancel(r.Context())
	id := chi.URLParam(r, "templatevar_id")
	if _, err := s.getVar(ctx, id); err != nil {
		return err
	}
	var req api.TemplateVarRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	if err := s.checkVarRequest(&req, false); err != nil {
		return err
	}
	if s.leaf != nil && req.Local != nil && !*req.Local {
		return invalid("local: a leaf keeps local variables only; create a shared variable at the origin %s", s.leaf.OriginURL)
	}
	v, err := update(ctx, s, func() (*shared.TemplateVar, error) { return s.getVar(ctx, id) }, func(v *shared.TemplateVar) error {
		wasProtected := v.Protected
		setIf(&v.Name, req.Name)
		setIf(&v.Location, req.Location)
		setIf(&v.Protected, req.Protected)
		setIf(&v.Local, req.Local)
		setIf(&v.Restricted, req.Restricted)
		switch {
		case req.Value != nil && v.Protected:
			if s.sealer == nil {
				return invalid("value: server.encrypt is not set, so a protected value cannot be stored on this server")
			}
			v.Value = s.sealer.Seal(*req.Value)
		case req.Value != nil:
			v.Value = *req.Value
		case v.Protected && !wasProtected:
			v.Value = s.sealer.Seal(v.Value)
		case !v.Protected && wasProtected:
			return invalid("value is required when protected is turned off: the sealed value is never revealed")
		}
		v.UpdatedAt = s.now().UTC()
		return nil
	})
	if isCode(err, shared.ECONFLICT) && (req.Name != nil || req.Location != nil) {
		cur, gerr := s.getVar(ctx, id)
		if gerr != nil {
			return gerr
		}
		setIf(&cur.Name, req.Name)
		setIf(&cur.Location, req.Location)
		return varNameTaken(cur)
	}
	if err != nil {
		return err
	}
	s.audit(r, p, "Variable Update", "variable "+v.Name+" updated", map[string]string{"templatevar_id": v.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handleDeleteVar serves DELETE /api/templatevars/{templatevar_id}.
func (s *Server) handleDeleteVar(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := context.WithoutCancel(r.Context())
	v, err := s.getVar(ctx, chi.URLParam(r, "templatevar_id"))
	if err != nil {
		return err
	}
	if _, err := s.store.Delete(ctx, shared.KindTemplateVar, v.ID); err != nil {
		return err
	}
	s.audit(r, p, "Variable Delete", "variable "+v.Name+" deleted", map[string]string{"templatevar_id": v.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}
