package origin

import (
	"context"
	"errors"

	"gopkg.in/yaml.v3"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// maxSpec is the largest template spec or volumes definition accepted.
const maxSpec = shared.MaxSpecSize

// TemplateOptions configures the template service.
type TemplateOptions struct {
	ServiceOptions
	// Validate checks a template before it is stored (the runtime's
	// runtime.ValidateTemplate); an error that is not a *shared.Error is
	// EINVALID with its text. nil means basic checks only: the kind is
	// valid, container and nomad templates have a spec, and a container
	// spec is a YAML mapping.
	Validate func(*shared.Template) error
	// Spaces returns the spaces, whose templates List and Get count; it
	// may return shared records, which are only read. nil lists them from
	// the store.
	Spaces func(ctx context.Context) ([]*shared.Space, error)
}

// TemplateService is the origin's shared.TemplateService over its store.
type TemplateService struct {
	store storage.Store
	opts  TemplateOptions
}

var _ shared.TemplateService = (*TemplateService)(nil)

// NewTemplateService returns the template service over store.
func NewTemplateService(store storage.Store, opts TemplateOptions) *TemplateService {
	if opts.Validate == nil {
		opts.Validate = BasicTemplateCheck
	}
	if opts.Spaces == nil {
		opts.Spaces = func(ctx context.Context) ([]*shared.Space, error) { return storage.List[shared.Space](ctx, store) }
	}
	return &TemplateService{store: store, opts: opts}
}

func templateNotFound(id string) func() error {
	return func() error { return shared.Errorf(shared.ENOTFOUND, "template %s not found", quote(id)) }
}

func manageTemplates(ctx context.Context) error {
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return err
	}
	return a.Needs(shared.PermManageTemplates)
}

// List implements shared.TemplateService.
func (s *TemplateService) List(ctx context.Context, o shared.ListOptions) (shared.Page[*shared.TemplateUsage], error) {
	var none shared.Page[*shared.TemplateUsage]
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return none, err
	}
	ts, err := storage.List[shared.Template](ctx, s.store)
	if err != nil {
		return none, err
	}
	spaces, err := s.opts.Spaces(ctx)
	if err != nil {
		return none, err
	}
	return shared.SelectTemplates(shared.TemplatesFor(a, ts, spaces), o)
}

// Get implements shared.TemplateService.
func (s *TemplateService) Get(ctx context.Context, id string) (*shared.TemplateUsage, error) {
	if err := manageTemplates(ctx); err != nil {
		return nil, err
	}
	t, err := get[shared.Template](ctx, s.store, id, templateNotFound(id))
	if err != nil {
		return nil, err
	}
	spaces, err := s.opts.Spaces(ctx)
	if err != nil {
		return nil, err
	}
	return shared.UsageOf(t, spaces), nil
}

// Create implements shared.TemplateService: the groups it names are read
// and the template written in one transaction.
func (s *TemplateService) Create(ctx context.Context, t *shared.Template) error {
	if err := manageTemplates(ctx); err != nil {
		return err
	}
	if t.Name == "" {
		return invalid("name is required")
	}
	if t.Kind == "" {
		return invalid("kind is required: container, nomad or manual")
	}
	now := s.opts.now()
	c := &shared.Template{Meta: shared.Meta{ID: newID(), CreatedAt: now, UpdatedAt: now}, Groups: []string{}, Locations: []string{}}
	if err := s.write(ctx, templateFields(t), func(storage.Tx) (*shared.Template, error) { return c, nil }); err != nil {
		return err
	}
	*t = *c
	s.opts.record(ctx, "Template Create", "template "+t.Name+" created", map[string]string{"template_id": t.ID})
	return nil
}

// Update implements shared.TemplateService: the template is read, checked
// and written in one transaction.
func (s *TemplateService) Update(ctx context.Context, id string, upd shared.TemplateUpdate) (*shared.Template, error) {
	if err := manageTemplates(ctx); err != nil {
		return nil, err
	}
	var out *shared.Template
	err := s.write(ctx, upd, func(tx storage.Tx) (*shared.Template, error) {
		t, err := get[shared.Template](writeContext(ctx), tx, id, templateNotFound(id))
		if err == nil {
			t.UpdatedAt = s.opts.now()
		}
		out = t
		return t, err
	})
	if err != nil {
		return nil, err
	}
	s.opts.record(ctx, "Template Update", "template "+out.Name+" updated", map[string]string{"template_id": out.ID})
	return out, nil
}

// write applies upd to the template base returns, after checking upd and
// that its groups exist, and validates and stores the result: all in one
// transaction.
func (s *TemplateService) write(ctx context.Context, upd shared.TemplateUpdate, base func(storage.Tx) (*shared.Template, error)) error {
	ctx = writeContext(ctx)
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		t, err := base(tx)
		if err != nil {
			return err
		}
		if err := checkTemplate(ctx, tx, &upd); err != nil {
			return err
		}
		applyTemplate(upd, t)
		if err := s.validate(t); err != nil {
			return err
		}
		return tx.Put(ctx, t)
	})
	if isCode(err, shared.ECONFLICT) && upd.Name != nil {
		return nameTaken("template", *upd.Name)
	}
	return err
}

// Delete implements shared.TemplateService: whether spaces use the
// template and the delete are one transaction.
func (s *TemplateService) Delete(ctx context.Context, id string) (*shared.Template, error) {
	if err := manageTemplates(ctx); err != nil {
		return nil, err
	}
	ctx = writeContext(ctx)
	var out *shared.Template
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		t, err := get[shared.Template](ctx, tx, id, templateNotFound(id))
		if err != nil {
			return err
		}
		using, err := storage.ListWhere(ctx, tx, func(sp *shared.Space) bool { return sp.TemplateID == id })
		if err != nil {
			return err
		}
		if n := len(using); n > 0 {
			them := map[bool]string{true: "it", false: "them"}[n == 1]
			return shared.Errorf(shared.ELOCKED, "template %s is used by %s: delete %s first", quote(t.Name), shared.Count(n, "space"), them)
		}
		out = t
		return tx.Delete(ctx, shared.KindTemplate, id)
	})
	if err != nil {
		return nil, err
	}
	s.opts.record(ctx, "Template Delete", "template "+out.Name+" deleted", map[string]string{"template_id": out.ID})
	return out, nil
}

// templateFields returns the update that sets every field of t.
func templateFields(t *shared.Template) shared.TemplateUpdate {
	return shared.TemplateUpdate{Name: &t.Name, Description: &t.Description, Kind: &t.Kind, Spec: &t.Spec,
		Volumes: &t.Volumes, Groups: &t.Groups, Locations: &t.Locations, ComputeUnits: &t.ComputeUnits,
		StorageUnits: &t.StorageUnits, WithTerminal: new(t.AllowsTerminal()), WithSSH: new(t.AllowsSSH()), HTTPPorts: &t.HTTPPorts}
}

// checkTemplate validates the fields upd sets, in the order of the API's
// fields, and drops repeated groups and locations; the groups must exist
// in r.
func checkTemplate(ctx context.Context, r storage.Reader, upd *shared.TemplateUpdate) error {
	if upd.Name != nil {
		if err := checkName("name", *upd.Name); err != nil {
			return err
		}
	}
	if upd.Description != nil {
		if err := shared.CheckText("description", *upd.Description, 4096); err != nil {
			return err
		}
	}
	if upd.Kind != nil && !upd.Kind.Valid() {
		return invalid("kind %s is not one of container, nomad, manual", quote(string(*upd.Kind)))
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"spec", upd.Spec}, {"volumes", upd.Volumes}} {
		if f.v != nil && len(*f.v) > maxSpec {
			return shared.Errorf(shared.ETOOLARGE, "%s is larger than 1 MiB", f.name)
		}
		if f.v != nil {
			if err := shared.CheckText(f.name, *f.v, maxSpec); err != nil {
				return err
			}
		}
	}
	if upd.Groups != nil {
		groups := shared.Distinct(*upd.Groups)
		upd.Groups = &groups
		for _, id := range groups {
			if _, err := r.Get(ctx, shared.KindGroup, id); isCode(err, shared.ENOTFOUND) {
				return invalid("groups: group %s does not exist", quote(id))
			} else if err != nil {
				return err
			}
		}
	}
	if upd.HTTPPorts != nil {
		if err := shared.CheckHTTPPorts(*upd.HTTPPorts); err != nil {
			return err
		}
	}
	if upd.Locations != nil {
		locs := shared.Distinct(*upd.Locations)
		upd.Locations = &locs
		for _, l := range locs {
			if err := shared.CheckLocation("locations: location", l); err != nil {
				return err
			}
		}
	}
	return checkUnits(upd.ComputeUnits, upd.StorageUnits)
}

// checkUnits checks compute_units and storage_units.
func checkUnits(compute, storage *int) error {
	var q [2]int
	for i, v := range []*int{compute, storage} {
		if v != nil {
			q[i] = *v
		}
	}
	return checkQuotas(0, q[0], q[1])
}

func applyTemplate(upd shared.TemplateUpdate, t *shared.Template) {
	setIf(&t.Name, upd.Name)
	setIf(&t.Description, upd.Description)
	setIf(&t.Kind, upd.Kind)
	setIf(&t.Spec, upd.Spec)
	setIf(&t.Volumes, upd.Volumes)
	setIf(&t.Groups, upd.Groups)
	setIf(&t.Locations, upd.Locations)
	setIf(&t.ComputeUnits, upd.ComputeUnits)
	setIf(&t.StorageUnits, upd.StorageUnits)
	if upd.WithTerminal != nil {
		t.NoTerminal = !*upd.WithTerminal
	}
	if upd.WithSSH != nil {
		t.NoSSH = !*upd.WithSSH
	}
	setIf(&t.HTTPPorts, upd.HTTPPorts)
	t.Hash = t.ComputeHash()
}

// validate runs the template check; an error that is not a *shared.Error
// becomes EINVALID with its text.
func (s *TemplateService) validate(t *shared.Template) error {
	err := s.opts.Validate(t)
	var se *shared.Error
	if err == nil || errors.As(err, &se) {
		return err
	}
	return invalid("template is not valid: %v", err)
}

// BasicTemplateCheck is the template check when TemplateOptions.Validate
// is nil: the kind is valid, container and nomad templates have a spec, and
// a container spec is a YAML mapping.
func BasicTemplateCheck(t *shared.Template) (err error) {
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
