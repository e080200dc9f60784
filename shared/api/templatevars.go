package api

import "time"

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
