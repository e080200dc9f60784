package shared

import "context"

// GroupService manages groups: named quotas and template access shared by
// their members. Every method acts for the actor in ctx (ActorFrom) and
// fails with EUNAUTHORIZED when there is none. An origin implements it over
// its store; a leaf reads its replica and leaves writes to the origin.
type GroupService interface {
	// List returns the groups o selects (SelectGroups), ordered by id
	// unless o.Sort says otherwise. Any actor may list them. EINVALID for
	// options out of range.
	List(ctx context.Context, o ListOptions) (Page[*Group], error)

	// Get returns the group with id. EFORBIDDEN without Manage Groups;
	// ENOTFOUND if there is none.
	Get(ctx context.Context, id string) (*Group, error)

	// Create stores g as a new group and sets its id and timestamps.
	// EFORBIDDEN without Manage Groups; EINVALID when the name is missing or
	// invalid or a quota is out of range; ECONFLICT when another group has
	// the name (case-insensitive); EUNAVAILABLE when the write cannot reach
	// the origin.
	Create(ctx context.Context, g *Group) error

	// Update changes the fields of the group with id that upd sets and
	// returns the group as stored. EFORBIDDEN without Manage Groups;
	// ENOTFOUND if there is none; EINVALID and ECONFLICT as Create;
	// EUNAVAILABLE when the write cannot reach the origin.
	Update(ctx context.Context, id string, upd GroupUpdate) (*Group, error)

	// Delete deletes the group with id and returns it as it was.
	// EFORBIDDEN without Manage Groups; ENOTFOUND if there is none; ELOCKED
	// while a user or a template refers to it (nothing is deleted: the
	// check and the delete are one transaction); EUNAVAILABLE when the write
	// cannot reach the origin.
	Delete(ctx context.Context, id string) (*Group, error)
}

// GroupUpdate holds the fields of a group an update sets; nil leaves a
// field as it is.
type GroupUpdate struct {
	Name         *string
	MaxSpaces    *int
	ComputeUnits *int
	StorageUnits *int
	MaxTunnels   *int
}
