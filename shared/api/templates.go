package api

import (
	"errors"
	"time"

	"github.com/knot-dev/knot/shared"
)

// Template is a template as GET /api/templates lists it.
type Template struct {
	ID           string              `json:"template_id"`
	Name         string              `json:"name"`
	Description  string              `json:"description"`
	Kind         shared.TemplateKind `json:"kind"`
	Groups       []string            `json:"groups"`
	Locations    []string            `json:"locations"`
	ComputeUnits int                 `json:"compute_units"`
	StorageUnits int                 `json:"storage_units"`
	WithTerminal bool                `json:"with_terminal"`
	WithSSH      bool                `json:"with_ssh"`
	HTTPPorts    []shared.HTTPPort   `json:"http_ports"`
	Hash         string              `json:"hash"`
	Usage        int                 `json:"usage"`
	Deployed     int                 `json:"deployed"`
	CreatedAt    time.Time           `json:"created_at"`
	UpdatedAt    time.Time           `json:"updated_at"`
}

// TemplateDetails is the answer of GET /api/templates/{template_id}: the
// template with its spec and volumes, and the spaces made from it that the
// caller may see (their own, or everyone's with Manage Spaces); Usage
// counts them all.
type TemplateDetails struct {
	Template
	Spec    string          `json:"spec"`
	Volumes string          `json:"volumes"`
	Spaces  []TemplateSpace `json:"spaces"`
}

// TemplateSpace is a space made from a template, as TemplateDetails lists
// it.
type TemplateSpace struct {
	ID       string `json:"space_id"`
	Name     string `json:"name"`
	UserID   string `json:"user_id"`
	Username string `json:"username"`
	Location string `json:"location"`
	Deployed bool   `json:"deployed"`
}

// TemplateCheck is the answer of POST /api/templates/validate: whether a
// save of the template would pass the checks of its kind, spec and
// volumes, and if not, why, and where when the error is at a place in the
// spec or volumes.
type TemplateCheck struct {
	Valid bool `json:"valid"`
	// Error says why not, as a refused save would.
	Error string `json:"error,omitempty"`
	// Field is "spec" or "volumes"; Line and Column, counted from 1, are
	// where in it the error is (0 or absent: not known).
	Field  string `json:"field,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
}

// TemplateList is the answer of GET /api/templates.
type TemplateList struct {
	Count int `json:"count"`
	// Total is the number of records the query selected before paging.
	Total     int        `json:"total"`
	Templates []Template `json:"templates"`
}

// TemplateRequest is the body of POST /api/templates and PUT
// /api/templates/{template_id}: nil fields take their default or stay.
type TemplateRequest struct {
	Name         *string              `json:"name"`
	Description  *string              `json:"description"`
	Kind         *shared.TemplateKind `json:"kind"`
	Spec         *string              `json:"spec"`
	Volumes      *string              `json:"volumes"`
	Groups       *[]string            `json:"groups"`
	Locations    *[]string            `json:"locations"`
	ComputeUnits *int                 `json:"compute_units"`
	StorageUnits *int                 `json:"storage_units"`
	WithTerminal *bool                `json:"with_terminal"`
	WithSSH      *bool                `json:"with_ssh"`
	HTTPPorts    *[]shared.HTTPPort   `json:"http_ports"`
}

// TemplateCreated is the answer of POST /api/templates.
type TemplateCreated struct {
	Status     bool   `json:"status"`
	TemplateID string `json:"template_id"`
}

// NewTemplate returns u as the API shows it.
func NewTemplate(u *shared.TemplateUsage) Template {
	t := u.Template
	return Template{
		ID: t.ID, Name: t.Name, Description: t.Description, Kind: t.Kind,
		Groups: nonNil(t.Groups), Locations: nonNil(t.Locations),
		ComputeUnits: t.ComputeUnits, StorageUnits: t.StorageUnits,
		WithTerminal: t.AllowsTerminal(), WithSSH: t.AllowsSSH(), HTTPPorts: nonNil(t.HTTPPorts), Hash: t.Hash,
		Usage: u.Spaces, Deployed: u.Deployed, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
	}
}

// NewTemplateList returns the answer of GET /api/templates for the page p.
func NewTemplateList(p shared.Page[*shared.TemplateUsage]) TemplateList {
	return TemplateList{Count: len(p.Items), Total: p.Total, Templates: mapped(p.Items, NewTemplate)}
}

// NewTemplateDetails returns u with the spaces of l made from it.
func NewTemplateDetails(u *shared.TemplateUsage, l *shared.SpaceList) TemplateDetails {
	out := TemplateDetails{Template: NewTemplate(u), Spec: u.Spec, Volumes: u.Volumes, Spaces: []TemplateSpace{}}
	for _, sp := range l.Spaces {
		if sp.TemplateID != u.ID {
			continue
		}
		ts := TemplateSpace{ID: sp.ID, Name: sp.Name, UserID: sp.UserID, Location: sp.Location, Deployed: sp.Deployed()}
		if owner := l.Users[sp.UserID]; owner != nil {
			ts.Username = owner.Username
		}
		out.Spaces = append(out.Spaces, ts)
	}
	return out
}

// Template returns the template r creates: terminals and SSH are allowed
// unless it says otherwise.
func (r *TemplateRequest) Template() *shared.Template {
	return &shared.Template{Name: shared.Deref(r.Name), Description: shared.Deref(r.Description), Kind: shared.Deref(r.Kind),
		Spec: shared.Deref(r.Spec), Volumes: shared.Deref(r.Volumes), Groups: shared.Deref(r.Groups), Locations: shared.Deref(r.Locations),
		ComputeUnits: shared.Deref(r.ComputeUnits), StorageUnits: shared.Deref(r.StorageUnits),
		NoTerminal: r.WithTerminal != nil && !*r.WithTerminal, NoSSH: r.WithSSH != nil && !*r.WithSSH,
		HTTPPorts: shared.Deref(r.HTTPPorts)}
}

// Update returns the change r asks for.
func (r *TemplateRequest) Update() shared.TemplateUpdate {
	return shared.TemplateUpdate{Name: r.Name, Description: r.Description, Kind: r.Kind, Spec: r.Spec,
		Volumes: r.Volumes, Groups: r.Groups, Locations: r.Locations, ComputeUnits: r.ComputeUnits,
		StorageUnits: r.StorageUnits, WithTerminal: r.WithTerminal, WithSSH: r.WithSSH, HTTPPorts: r.HTTPPorts}
}

// NewTemplateCheck returns the answer of POST /api/templates/validate for
// the error of the checks of a template: where a spec or volumes error is,
// and any other EINVALID's message. An error of another code is no answer
// about the template, and is returned.
func NewTemplateCheck(err error) (TemplateCheck, error) {
	var se *shared.SpecError
	switch {
	case errors.As(err, &se):
		return TemplateCheck{Error: shared.ErrorMessage(err), Field: se.Field, Line: se.Line, Column: se.Column}, nil
	case shared.ErrorCode(err) == shared.EINVALID:
		return TemplateCheck{Error: shared.ErrorMessage(err)}, nil
	case err != nil:
		return TemplateCheck{}, err
	}
	return TemplateCheck{Valid: true}, nil
}
