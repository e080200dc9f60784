package origin

import (
	"context"
	"slices"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// GroupService is the origin's shared.GroupService over its store.
type GroupService struct {
	store storage.Store
	opts  ServiceOptions
}

var _ shared.GroupService = (*GroupService)(nil)

// NewGroupService returns the group service over store. Every write goes
// through store, so a store that tells the hub of its writes keeps the feed
// moving (web's does).
func NewGroupService(store storage.Store, opts ServiceOptions) *GroupService {
	return &GroupService{store: store, opts: opts}
}

func groupNotFound(id string) func() error {
	return func() error { return shared.Errorf(shared.ENOTFOUND, "group %s not found", quote(id)) }
}

// actorFor checks that the actor in ctx holds Manage Groups.
func (s *GroupService) actorFor(ctx context.Context) error {
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return err
	}
	return a.Needs(shared.PermManageGroups)
}

// List implements shared.GroupService.
func (s *GroupService) List(ctx context.Context, o shared.ListOptions) (shared.Page[*shared.Group], error) {
	if _, err := shared.ActorRequired(ctx); err != nil {
		return shared.Page[*shared.Group]{}, err
	}
	return shared.SelectList(storage.List[shared.Group](ctx, s.store))(o, shared.SelectGroups)
}

// Get implements shared.GroupService.
func (s *GroupService) Get(ctx context.Context, id string) (*shared.Group, error) {
	if err := s.actorFor(ctx); err != nil {
		return nil, err
	}
	return get[shared.Group](ctx, s.store, id, groupNotFound(id))
}

// checkGroup validates what upd sets; create requires the name.
func checkGroup(upd shared.GroupUpdate, create bool) error {
	if upd.Name == nil && create {
		return invalid("name is required")
	}
	if upd.Name != nil {
		if err := checkName("name", *upd.Name); err != nil {
			return err
		}
	}
	var q [4]int
	for i, v := range []*int{upd.MaxSpaces, upd.ComputeUnits, upd.StorageUnits, upd.MaxTunnels} {
		if v != nil {
			q[i] = *v
		}
	}
	return checkQuotas(q[:]...)
}

// Create implements shared.GroupService.
func (s *GroupService) Create(ctx context.Context, g *shared.Group) error {
	if err := s.actorFor(ctx); err != nil {
		return err
	}
	if g.Name == "" {
		return invalid("name is required")
	}
	if err := checkGroup(groupFields(g), true); err != nil {
		return err
	}
	now := s.opts.now()
	c := *g
	c.Meta = shared.Meta{ID: newID(), CreatedAt: now, UpdatedAt: now}
	err := s.store.Put(writeContext(ctx), &c)
	if isCode(err, shared.ECONFLICT) {
		return nameTaken("group", g.Name)
	}
	if err != nil {
		return err
	}
	*g = c
	s.opts.record(ctx, "Group Create", "group "+g.Name+" created", map[string]string{"group_id": g.ID})
	return nil
}

// groupFields returns the update that sets every field of g.
func groupFields(g *shared.Group) shared.GroupUpdate {
	return shared.GroupUpdate{Name: &g.Name, MaxSpaces: &g.MaxSpaces, ComputeUnits: &g.ComputeUnits,
		StorageUnits: &g.StorageUnits, MaxTunnels: &g.MaxTunnels}
}

// Update implements shared.GroupService: the group is read, checked and
// written in one transaction.
func (s *GroupService) Update(ctx context.Context, id string, upd shared.GroupUpdate) (*shared.Group, error) {
	if err := s.actorFor(ctx); err != nil {
		return nil, err
	}
	ctx = writeContext(ctx)
	var out *shared.Group
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		g, err := get[shared.Group](ctx, tx, id, groupNotFound(id))
		if err != nil {
			return err
		}
		if err := checkGroup(upd, false); err != nil {
			return err
		}
		setIf(&g.Name, upd.Name)
		setIf(&g.MaxSpaces, upd.MaxSpaces)
		setIf(&g.ComputeUnits, upd.ComputeUnits)
		setIf(&g.StorageUnits, upd.StorageUnits)
		setIf(&g.MaxTunnels, upd.MaxTunnels)
		g.UpdatedAt = s.opts.now()
		out = g
		return tx.Put(ctx, g)
	})
	if isCode(err, shared.ECONFLICT) && upd.Name != nil {
		return nil, nameTaken("group", *upd.Name)
	}
	if err != nil {
		return nil, err
	}
	s.opts.record(ctx, "Group Update", "group "+out.Name+" updated", map[string]string{"group_id": out.ID})
	return out, nil
}

// Delete implements shared.GroupService: whether a user or template refers
// to the group and the delete are one transaction, so none can join it
// meanwhile.
func (s *GroupService) Delete(ctx context.Context, id string) (*shared.Group, error) {
	if err := s.actorFor(ctx); err != nil {
		return nil, err
	}
	ctx = writeContext(ctx)
	var out *shared.Group
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		g, err := get[shared.Group](ctx, tx, id, groupNotFound(id))
		if err != nil {
			return err
		}
		users, err := storage.ListWhere(ctx, tx, func(u *shared.User) bool { return slices.Contains(u.Groups, id) })
		if err != nil {
			return err
		}
		templates, err := storage.ListWhere(ctx, tx, func(t *shared.Template) bool { return slices.Contains(t.Groups, id) })
		if err != nil {
			return err
		}
		if len(users) > 0 || len(templates) > 0 {
			return shared.Errorf(shared.ELOCKED, "group %s is in use by %d users and %d templates: remove it from them first", quote(g.Name), len(users), len(templates))
		}
		out = g
		return tx.Delete(ctx, shared.KindGroup, id)
	})
	if err != nil {
		return nil, err
	}
	s.opts.record(ctx, "Group Delete", "group "+out.Name+" deleted", map[string]string{"group_id": out.ID})
	return out, nil
}
