package api

import (
	"time"

	"github.com/knot-dev/knot/shared"
)

// TemplateVar is a template variable as GET /api/templatevars lists it,
// without its value.
type TemplateVar struct {
	ID         string    `json:"templatevar_id"`
	Name       string    `json:"name"`
	Location   string    `json:"location"`
	Protected  bool      `json:"protected"`
	Local      bool      `json:"local"`
	Restricted bool      `json:"restricted"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// TemplateVarValue is the answer of GET /api/templatevars/{templatevar_id}:
// the variable with its value.
type TemplateVarValue struct {
	TemplateVar
	Value string `json:"value"`
}

// TemplateVarList is the answer of GET /api/templatevars.
type TemplateVarList struct {
	Count int `json:"count"`
	// Total is the number of records the query selected before paging.
	Total     int           `json:"total"`
	Variables []TemplateVar `json:"variables"`
}

// TemplateVarRequest is the body of POST /api/templatevars and PUT
// /api/templatevars/{templatevar_id}: nil fields take their default or stay.
type TemplateVarRequest struct {
	Name       *string `json:"name"`
	Location   *string `json:"location"`
	Value      *string `json:"value"`
	Protected  *bool   `json:"protected"`
	Local      *bool   `json:"local"`
	Restricted *bool   `json:"restricted"`
}

// TemplateVarCreated is the answer of POST /api/templatevars.
type TemplateVarCreated struct {
	Status        bool   `json:"status"`
	TemplateVarID string `json:"templatevar_id"`
}

// NewTemplateVar returns v as the API lists it, without its value.
func NewTemplateVar(v *shared.TemplateVar) TemplateVar {
	return TemplateVar{ID: v.ID, Name: v.Name, Location: v.Location, Protected: v.Protected, Local: v.Local,
		Restricted: v.Restricted, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
}

// NewTemplateVarValue returns v with its value, unless it is protected.
func NewTemplateVarValue(v *shared.TemplateVar) TemplateVarValue {
	out := TemplateVarValue{TemplateVar: NewTemplateVar(v)}
	if !v.Protected {
		out.Value = v.Value
	}
	return out
}

// NewTemplateVarList returns the answer of GET /api/templatevars for the
// page p.
func NewTemplateVarList(p shared.Page[*shared.TemplateVar]) TemplateVarList {
	return TemplateVarList{Count: len(p.Items), Total: p.Total, Variables: mapped(p.Items, NewTemplateVar)}
}

// TemplateVar returns the variable r creates.
func (r *TemplateVarRequest) TemplateVar() *shared.TemplateVar {
	return &shared.TemplateVar{Name: shared.Deref(r.Name), Location: shared.Deref(r.Location), Value: shared.Deref(r.Value),
		Protected: shared.Deref(r.Protected), Local: shared.Deref(r.Local), Restricted: shared.Deref(r.Restricted)}
}

// Update returns the change r asks for.
func (r *TemplateVarRequest) Update() shared.TemplateVarUpdate {
	return shared.TemplateVarUpdate{Name: r.Name, Location: r.Location, Value: r.Value,
		Protected: r.Protected, Local: r.Local, Restricted: r.Restricted}
}
