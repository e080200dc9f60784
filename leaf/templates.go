package leaf

import (
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
	"github.com/knot-dev/knot/storage"
)

// TemplateService is a leaf's shared.TemplateService (see services.go).
type TemplateService struct {
	opts   ServiceOptions
	spaces func(ctx context.Context) ([]*shared.Space, error)
}

var _ shared.TemplateService = (*TemplateService)(nil)

// NewTemplateService returns the template service of a leaf. spaces
// returns the spaces whose templates List and Get count (shared records,
// only read); nil lists them from the replica.
func NewTemplateService(opts ServiceOptions, spaces func(ctx context.Context) ([]*shared.Space, error)) *TemplateService {
	if spaces == nil {
		spaces = func(ctx context.Context) ([]*shared.Space, error) { return storage.List[shared.Space](ctx, opts.Store) }
	}
	return &TemplateService{opts: opts, spaces: spaces}
}

// List implements shared.TemplateService from the replica.
func (s *TemplateService) List(ctx context.Context, o shared.ListOptions) (shared.Page[*shared.TemplateUsage], error) {
	var none shared.Page[*shared.TemplateUsage]
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return none, err
	}
	ts, err := storage.List[shared.Template](ctx, s.opts.Store)
	if err != nil {
		return none, err
	}
	spaces, err := s.spaces(ctx)
	if err != nil {
		return none, err
	}
	return shared.SelectTemplates(shared.TemplatesFor(a, ts, spaces), o)
}

// Get implements shared.TemplateService from the replica.
func (s *TemplateService) Get(ctx context.Context, id string) (*shared.TemplateUsage, error) {
	if err := needs(ctx, shared.PermManageTemplates); err != nil {
		return nil, err
	}
	t, err := get[shared.Template](ctx, s.opts.Store, id)
	if err != nil {
		return nil, err
	}
	spaces, err := s.spaces(ctx)
	if err != nil {
		return nil, err
	}
	return shared.UsageOf(t, spaces), nil
}

// Create implements shared.TemplateService at the origin.
func (s *TemplateService) Create(ctx context.Context, t *shared.Template) error {
	req := templateRequest(shared.TemplateUpdate{Name: &t.Name, Description: &t.Description,
		Kind: &t.Kind, Spec: &t.Spec, Volumes: &t.Volumes, Groups: &t.Groups, Locations: &t.Locations,
		ComputeUnits: &t.ComputeUnits, StorageUnits: &t.StorageUnits, WithTerminal: new(t.AllowsTerminal()), WithSSH: new(t.AllowsSSH()), HTTPPorts: &t.HTTPPorts})
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.TemplateDetails, error) {
		id, err := c.Templates().Create(ctx, req)
		if err != nil {
			return nil, err
		}
		return c.Templates().Get(ctx, id)
	})
	if err != nil {
		return err
	}
	*t = *templateOf(got)
	return nil
}

// Update implements shared.TemplateService at the origin.
func (s *TemplateService) Update(ctx context.Context, id string, upd shared.TemplateUpdate) (*shared.Template, error) {
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.TemplateDetails, error) {
		if err := c.Templates().Update(ctx, id, templateRequest(upd)); err != nil {
			return nil, err
		}
		return c.Templates().Get(ctx, id)
	})
	if err != nil {
		return nil, err
	}
	return templateOf(got), nil
}

// Delete implements shared.TemplateService at the origin.
func (s *TemplateService) Delete(ctx context.Context, id string) (*shared.Template, error) {
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.TemplateDetails, error) {
		got, err := c.Templates().Get(ctx, id)
		if err != nil {
			return nil, err
		}
		return got, c.Templates().Delete(ctx, id)
	})
	if err != nil {
		return nil, err
	}
	return templateOf(got), nil
}

func templateRequest(u shared.TemplateUpdate) api.TemplateRequest {
	return api.TemplateRequest{Name: u.Name, Description: u.Description, Kind: u.Kind, Spec: u.Spec, Volumes: u.Volumes,
		Groups: u.Groups, Locations: u.Locations, ComputeUnits: u.ComputeUnits, StorageUnits: u.StorageUnits,
		WithTerminal: u.WithTerminal, WithSSH: u.WithSSH, HTTPPorts: u.HTTPPorts}
}

func templateOf(t *api.TemplateDetails) *shared.Template {
	return &shared.Template{Meta: shared.Meta{ID: t.ID, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}, Name: t.Name,
		Description: t.Description, Kind: t.Kind, Spec: t.Spec, Volumes: t.Volumes, Groups: t.Groups,
		Locations: t.Locations, ComputeUnits: t.ComputeUnits, StorageUnits: t.StorageUnits,
		NoTerminal: !t.WithTerminal, NoSSH: !t.WithSSH, HTTPPorts: t.HTTPPorts, Hash: t.Hash}
}
