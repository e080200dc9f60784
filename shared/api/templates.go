package api

import (
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
// template with its spec and volumes.
type TemplateDetails struct {
	Template
	Spec    string `json:"spec"`
	Volumes string `json:"volumes"`
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
