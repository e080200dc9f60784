package leaf

import (
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// commands carries out the origin's commands on this leaf's spaces: start,
// stop and delete go to the Runner, and create stores the space the origin
// placed here. The origin judged the actor; the leaf checks what it can of
// the space itself.
type commands struct{ s *SpaceService }

var _ SpaceCreator = commands{}

func (c commands) Start(ctx context.Context, id string) error  { return c.s.runner.Start(ctx, id) }
func (c commands) Stop(ctx context.Context, id string) error   { return c.s.runner.Stop(ctx, id) }
func (c commands) Delete(ctx context.Context, id string) error { return c.s.runner.Delete(ctx, id) }

// Create stores a space the origin placed at this leaf, stopped. Creating
// it again does nothing.
func (c commands) Create(ctx context.Context, sp *shared.Space) error {
	s := c.s
	st := s.opts.Store
	if sp.Location != s.opts.Location {
		return invalid("space %s is for location %s, and this leaf serves %s", quote(sp.Name), quote(sp.Location), quote(s.opts.Location))
	}
	if err := checkName("name", sp.Name); err != nil {
		return err
	}
	if _, err := storage.Get[shared.Space](ctx, st, sp.ID); err == nil {
		return nil
	} else if shared.ErrorCode(err) != shared.ENOTFOUND {
		return err
	}
	for kind, id := range map[shared.Kind]string{shared.KindUser: sp.UserID, shared.KindTemplate: sp.TemplateID} {
		if _, err := st.Get(ctx, kind, id); shared.ErrorCode(err) == shared.ENOTFOUND {
			return shared.Errorf(shared.EUNAVAILABLE, "%s %s has not reached this leaf yet: try again in a moment", kind, quote(id))
		} else if err != nil {
			return err
		}
	}
	now := s.now()
	n := *sp
	n.Revision, n.State, n.Reason, n.ContainerID, n.StartedAt = 0, shared.SpaceStopped, "", "", nil
	if n.CreatedAt.IsZero() {
		n.CreatedAt = now
	}
	n.UpdatedAt = now
	err := st.Put(context.WithoutCancel(ctx), &n)
	if shared.ErrorCode(err) == shared.ECONFLICT {
		return shared.Errorf(shared.ECONFLICT, "the owner already has a space named %s at location %s", quote(n.Name), quote(s.opts.Location))
	}
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "space created for the origin", "space", n.ID, "name", n.Name)
	return nil
}
