package web

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"
	"gopkg.in/yaml.v3"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/storage"
)

// maxSpec is the largest template spec or volumes definition accepted.
const maxSpec = 1 << 20

func newTemplateInfo(t *shared.Template, v *spaceView) api.Template {
	info := api.Template{
		ID: t.ID, Name: t.Name, Description: t.Description, Kind: t.Kind,
		Groups: nonNil(t.Groups), Locations: nonNil(t.Locations),
		ComputeUnits: t.ComputeUnits, StorageUnits: t.StorageUnits,
		WithTerminal: t.WithTerminal, WithSSH: t.WithSSH, HTTPPorts: nonNil(t.HTTPPorts), Hash: t.Hash,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
	}
	for _, sp := range v.spaces {
		if sp.TemplateID == t.ID {
			info.Usage++
			if sp.Deployed() {
				info.Deployed++
			}
		}
	}
	return info
}

// check validates the fields present; on create name and kind are required.
func (s *Server) checkTemplateRequest(ctx context.Context, req *api.TemplateRequest, create bool) error {
	if create && req.Name == nil {
		return invalid("name is required")
	}
	if create && req.Kind == nil {
		return invalid("kind is required: container, nomad or manual")
	}
	if req.Name != nil {
		if err := checkName("name", *req.Name); err != nil {
			return err
		}
	}
	if req.Description != nil {
		if err := checkText("description", *req.Description, 4096); err != nil {
			return err
		}
	}
	if req.Kind != nil && !req.Kind.Valid() {
		return invalid("kind %s is not one of container, nomad, manual", quote(string(*req.Kind)))
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"spec", req.Spec}, {"volumes", req.Volumes}} {
		if f.v == nil {
			continue
		}
		if len(*f.v) > maxSpec {
			return shared.Errorf(shared.ETOOLARGE, "%s is larger than 1 MiB", f.name)
		}
		if err := checkText(f.name, *f.v, maxSpec); err != nil {
			return err
		}
	}
	if req.Groups != nil {
		groups := dedupe(*req.Groups)
		req.Groups = &groups
		if err := s.checkGroups(ctx, "groups", groups); err != nil {
			return err
		}
	}
	if req.HTTPPorts != nil {
		if err := shared.CheckHTTPPorts(*req.HTTPPorts); err != nil {
			return err
		}
	}
	if req.Locations != nil {
		locs := dedupe(*req.Locations)
		req.Locations = &locs
		for _, l := range locs {
			if err := checkLocation("locations: location", l); err != nil {
				return err
			}
		}
	}
	for _, q := range []struct {
		name string
		v    *int
	}{{"compute_units", req.ComputeUnits}, {"storage_units", req.StorageUnits}} {
		if q.v != nil && (*q.v < 0 || *q.v > 1_000_000) {
			return invalid("%s must be from 0 to 1000000, not %d", q.name, *q.v)
		}
	}
	return nil
}

func applyTemplateRequest(req *api.TemplateRequest, t *shared.Template) {
	setIf(&t.Name, req.Name)
	setIf(&t.Description, req.Description)
	setIf(&t.Kind, req.Kind)
	setIf(&t.Spec, req.Spec)
	setIf(&t.Volumes, req.Volumes)
	setIf(&t.Groups, req.Groups)
	setIf(&t.Locations, req.Locations)
	setIf(&t.ComputeUnits, req.ComputeUnits)
	setIf(&t.StorageUnits, req.StorageUnits)
	setIf(&t.WithTerminal, req.WithTerminal)
	setIf(&t.WithSSH, req.WithSSH)
	setIf(&t.HTTPPorts, req.HTTPPorts)
	t.Hash = t.ComputeHash()
}

// basicTemplateCheck is the template check used when
// Options.ValidateTemplate is nil.
func basicTemplateCheck(t *shared.Template) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = invalid("spec is not valid YAML")
		}
	}()
	if !t.Kind.Valid() {
		return invalid("kind %s is not one of container, nomad, manual", quote(string(t.Kind)))
	}
	switch t.Kind {
	case shared.TemplateContainer, shared.TemplateNomad:
		if t.Spec == "" {
			return invalid("spec is required for %s templates", t.Kind)
		}
	}
	if t.Kind == shared.TemplateContainer {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(t.Spec), &m); err != nil {
			return invalid("spec is not a YAML mapping: %v", err)
		}
		if m == nil {
			return invalid("spec is not a YAML mapping: it is empty")
		}
	}
	return nil
}

// validateTemplate runs Options.ValidateTemplate; errors that are not a
// *shared.Error become EINVALID with their text.
func (s *Server) validateTemplate(t *shared.Template) error {
	err := s.validate(t)
	if err == nil {
		return nil
	}
	var se *shared.Error
	if errors.As(err, &se) {
		return err
	}
	return invalid("template is not valid: %v", err)
}

func (s *Server) getTemplate(ctx context.Context, id string) (*shared.Template, error) {
	t, err := storage.Get[shared.Template](ctx, s.store, id)
	if isCode(err, shared.ENOTFOUND) {
		return nil, notFound("template %s not found", quote(id))
	}
	return t, err
}

// handleListTemplates serves GET /api/templates: the templates the caller's
// groups may use, or all with Manage Templates.
func (s *Server) handleListTemplates(w http.ResponseWriter, r *http.Request, p *principal) error {
	v, err := s.lists.get(r.Context(), s.store)
	if err != nil {
		return err
	}
	all := p.can(shared.PermManageTemplates)
	out := api.TemplateList{Templates: []api.Template{}}
	ids := make([]string, 0, len(v.templates))
	for id := range v.templates {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		t := v.templates[id]
		if all || t.UsableBy(p.user.Groups) {
			out.Templates = append(out.Templates, newTemplateInfo(t, v))
		}
	}
	out.Count = len(out.Templates)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleCreateTemplate serves POST /api/templates.
func (s *Server) handleCreateTemplate(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.TemplateRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	ctx := context.WithoutCancel(r.Context())
	if err := s.checkTemplateRequest(ctx, &req, true); err != nil {
		return err
	}
	now := s.now().UTC()
	t := &shared.Template{Meta: shared.Meta{ID: newID(), CreatedAt: now, UpdatedAt: now}, Groups: []string{}, Locations: []string{}}
	applyTemplateRequest(&req, t)
	if err := s.validateTemplate(t); err != nil {
		return err
	}
	err := s.store.Put(ctx, t)
	if isCode(err, shared.ECONFLICT) {
		return nameTaken("template", t.Name)
	}
	if err != nil {
		return err
	}
	s.audit(r, p, "Template Create", "template "+t.Name+" created", map[string]string{"template_id": t.ID})
	writeJSON(w, http.StatusCreated, api.TemplateCreated{Status: true, TemplateID: t.ID})
	return nil
}

// handleGetTemplate serves GET /api/templates/{template_id}.
func (s *Server) handleGetTemplate(w http.ResponseWriter, r *http.Request, p *principal) error {
	t, err := s.getTemplate(r.Context(), chi.URLParam(r, "template_id"))
	if err != nil {
		return err
	}
	v, err := s.lists.get(r.Context(), s.store)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.TemplateDetails{Template: newTemplateInfo(t, v), Spec: t.Spec, Volumes: t.Volumes})
	return nil
}

// handleUpdateTemplate serves PUT /api/templates/{template_id}. Spaces see
// the new hash as an available update.
func (s *Server) handleUpdateTemplate(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := context.WithoutCancel(r.Context())
	id := chi.URLParam(r, "template_id")
	if _, err := s.getTemplate(ctx, id); err != nil {
		return err
	}
	var req api.TemplateRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	if err := s.checkTemplateRequest(ctx, &req, false); err != nil {
		return err
	}
	t, err := update(ctx, s, func() (*shared.Template, error) { return s.getTemplate(ctx, id) }, func(t *shared.Template) error {
		applyTemplateRequest(&req, t)
		t.UpdatedAt = s.now().UTC()
		return s.validateTemplate(t)
	})
	if isCode(err, shared.ECONFLICT) && req.Name != nil {
		return nameTaken("template", *req.Name)
	}
	if err != nil {
		return err
	}
	s.audit(r, p, "Template Update", "template "+t.Name+" updated", map[string]string{"template_id": t.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handleDeleteTemplate serves DELETE /api/templates/{template_id}: 423 while
// spaces use the template.
func (s *Server) handleDeleteTemplate(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := context.WithoutCancel(r.Context())
	t, err := s.getTemplate(ctx, chi.URLParam(r, "template_id"))
	if err != nil {
		return err
	}
	// Only the spaces are read: the list cache would also list every user
	// and template, which makes deleting many templates in a row slow.
	using, err := storage.ListWhere(ctx, s.store, func(sp *shared.Space) bool { return sp.TemplateID == t.ID })
	if err != nil {
		return err
	}
	if n := len(using); n > 0 {
		return shared.Errorf(shared.ELOCKED, "template %s is used by %d spaces: delete them first", quote(t.Name), n)
	}
	if _, err := s.store.Delete(ctx, shared.KindTemplate, t.ID); err != nil {
		return err
	}
	s.audit(r, p, "Template Delete", "template "+t.Name+" deleted", map[string]string{"template_id": t.ID})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}
