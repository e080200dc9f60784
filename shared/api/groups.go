package api

import (
	"time"

	"github.com/knot-dev/knot/shared"
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

// NewGroup returns g as the API shows it.
func NewGroup(g *shared.Group) Group {
	return Group{ID: g.ID, Name: g.Name, MaxSpaces: g.MaxSpaces, ComputeUnits: g.ComputeUnits,
		StorageUnits: g.StorageUnits, MaxTunnels: g.MaxTunnels, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
}

// NewGroupList returns the answer of GET /api/groups for the page p.
func NewGroupList(p shared.Page[*shared.Group]) GroupList {
	return GroupList{Count: len(p.Items), Total: p.Total, Groups: mapped(p.Items, NewGroup)}
}

// Group returns the group r creates.
func (r *GroupRequest) Group() *shared.Group {
	return &shared.Group{Name: shared.Deref(r.Name), MaxSpaces: shared.Deref(r.MaxSpaces), ComputeUnits: shared.Deref(r.ComputeUnits),
		StorageUnits: shared.Deref(r.StorageUnits), MaxTunnels: shared.Deref(r.MaxTunnels)}
}

// Update returns the change r asks for.
func (r *GroupRequest) Update() shared.GroupUpdate {
	return shared.GroupUpdate{Name: r.Name, MaxSpaces: r.MaxSpaces, ComputeUnits: r.ComputeUnits,
		StorageUnits: r.StorageUnits, MaxTunnels: r.MaxTunnels}
}

// mapped returns f of each of items, never nil.
func mapped[T, U any](items []T, f func(T) U) []U {
	out := make([]U, 0, len(items))
	for _, it := range items {
		out = append(out, f(it))
	}
	return out
}
