package client

import (
	"context"
	"net/http"

	"github.com/knot-dev/knot/shared/api"
)

// TemplateVars calls /api/templatevars.
type TemplateVars struct{ c *Client }

// TemplateVars returns the calls on template variables.
func (c *Client) TemplateVars() *TemplateVars { return &TemplateVars{c} }

// List lists the template variables, without their values (GET
// /api/templatevars).
func (t *TemplateVars) List(ctx context.Context) ([]api.TemplateVar, error) {
	var out api.TemplateVarList
	if err := t.c.Do(ctx, http.MethodGet, "/api/templatevars", nil, &out); err != nil {
		return nil, err
	}
	return out.Variables, nil
}

// Get returns one variable with its value (GET
// /api/templatevars/{templatevar_id}).
func (t *TemplateVars) Get(ctx context.Context, id string) (*api.TemplateVarValue, error) {
	var out api.TemplateVarValue
	return &out, t.c.Do(ctx, http.MethodGet, "/api/templatevars/"+esc(id), nil, &out)
}

// Create creates a variable and returns its id (POST /api/templatevars).
func (t *TemplateVars) Create(ctx context.Context, req api.TemplateVarRequest) (string, error) {
	var out api.TemplateVarCreated
	err := t.c.Do(ctx, http.MethodPost, "/api/templatevars", req, &out)
	return out.TemplateVarID, err
}

// Update changes the fields of req that are not nil (PUT
// /api/templatevars/{templatevar_id}).
func (t *TemplateVars) Update(ctx context.Context, id string, req api.TemplateVarRequest) error {
	return t.c.Do(ctx, http.MethodPut, "/api/templatevars/"+esc(id), req, nil)
}

// Delete deletes a variable (DELETE /api/templatevars/{templatevar_id}).
func (t *TemplateVars) Delete(ctx context.Context, id string) error {
	return t.c.Do(ctx, http.MethodDelete, "/api/templatevars/"+esc(id), nil, nil)
}
