package client

import (
	"context"
	"net/http"

	"github.com/knot-dev/knot/shared/api"
)

// Templates calls /api/templates.
type Templates struct{ c *Client }

// Templates returns the calls on templates.
func (c *Client) Templates() *Templates { return &Templates{c} }

// List lists the templates the caller may see (GET /api/templates).
func (t *Templates) List(ctx context.Context) ([]api.Template, error) {
	var out api.TemplateList
	if err := t.c.Do(ctx, http.MethodGet, "/api/templates", nil, &out); err != nil {
		return nil, err
	}
	return out.Templates, nil
}

// Get returns one template with its spec and volumes (GET
// /api/templates/{template_id}).
func (t *Templates) Get(ctx context.Context, id string) (*api.TemplateDetails, error) {
	var out api.TemplateDetails
	return &out, t.c.Do(ctx, http.MethodGet, "/api/templates/"+esc(id), nil, &out)
}

// Create creates a template and returns its id (POST /api/templates).
func (t *Templates) Create(ctx context.Context, req api.TemplateRequest) (string, error) {
	var out api.TemplateCreated
	err := t.c.Do(ctx, http.MethodPost, "/api/templates", req, &out)
	return out.TemplateID, err
}

// Update changes the fields of req that are not nil (PUT
// /api/templates/{template_id}).
func (t *Templates) Update(ctx context.Context, id string, req api.TemplateRequest) error {
	return t.c.Do(ctx, http.MethodPut, "/api/templates/"+esc(id), req, nil)
}

// Delete deletes a template (DELETE /api/templates/{template_id}).
func (t *Templates) Delete(ctx context.Context, id string) error {
	return t.c.Do(ctx, http.MethodDelete, "/api/templates/"+esc(id), nil, nil)
}
