package api

import (
	"time"
)

// Group is a group as the API shows it.
type Group struct {
	ID           string    `json:"group_id"`
	Name         string    `json:"name"`
	MaxSpaces    int       `json:"max_spaces"`
	ComputeUnits int       `json:"compute_units"`
	StorageUnits int       `json:"storage_units"`
	MaxTunnels   int       `json:"max_tunnels"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// GroupList is the answer of GET /api/groups.
type GroupList struct {
	Count int `json:"count"`
	// Total is the number of records the query selected before paging.
	Total  int     `json:"total"`
	Groups []Group `json:"groups"`
}

// GroupRequest is the body of POST /api/groups and PUT
// /api/groups/{group_id}: nil fields take their default or stay.
type GroupRequest struct {
	Name         *string `json:"name"`
	MaxSpaces    *int    `json:"max_spaces"`
	ComputeUnits *int    `json:"compute_units"`
	StorageUnits *int    `json:"storage_units"`
	MaxTunnels   *int    `json:"max_tunnels"`
}

// GroupCreated is the answer of POST /api/groups.
type GroupCreated struct {
	GroupID string `json:"group_id"`
	Status  bool   `json:"status"`
}
