package web

import (
	"context"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// manualOnly is the SpaceController of a server without a runtime: it runs
// spaces of manual templates (whose agent the user starts) by setting their
// state, and refuses other kinds with EUNAVAILABLE.
type manualOnly struct {
	store storage.Store
	now   func() time.Time
	locks keyedMutex
}

var _ SpaceController = (*manualOnly)(nil)

func (m *manualOnly) space(ctx context.Context, id string) (*shared.Space, error) {
	sp, err := storage.Get[shared.Space](ctx, m.store, id)
	if isCode(err, shared.ENOTFOUND) {
		return nil, notFound("space %s not found", quote(id))
	}
	if err != nil {
		return nil, err
	}
	t, err := storage.Get[shared.Template](ctx, m.store, sp.TemplateID)
	if err != nil && !isCode(err, shared.ENOTFOUND) {
		return nil, err
	}
	if t == nil {
		return nil, shared.Errorf(shared.EUNAVAILABLE, "template %s of space %s is gone, and no runtime is configured on this server", quote(sp.TemplateID), quote(sp.Name))
	}
	if t.Kind != shared.TemplateManual {
		return nil, shared.Errorf(shared.EUNAVAILABLE, "no runtime is configured for %s templates on this server", t.Kind)
	}
	return sp, nil
}

func (m *manualOnly) setState(ctx context.Context, id string, state shared.SpaceState) error {
	unlock := m.locks.lock(id)
	defer unlock()
	for attempt := 0; ; attempt++ {
		sp, err := m.space(ctx, id)
		if err != nil {
			return err
		}
		if sp.State == state {
			return nil
		}
		now := m.now().UTC()
		sp.State, sp.Reason, sp.UpdatedAt = state, "", now
		if state == shared.SpaceRunning {
			sp.StartedAt = &now
		} else {
			sp.StartedAt = nil
		}
		err = m.store.Put(ctx, sp)
		if err == nil || !isCode(err, shared.ECONFLICT) || attempt >= 4 {
			return err
		}
	}
}

func (m *manualOnly) Start(ctx context.Context, id string) error {
	return m.setState(ctx, id, shared.SpaceRunning)
}

func (m *manualOnly) Stop(ctx context.Context, id string) error {
	return m.setState(ctx, id, shared.SpaceStopped)
}

func (m *manualOnly) Delete(ctx context.Context, id string) error {
	unlock := m.locks.lock(id)
	defer unlock()
	if _, err := m.space(ctx, id); err != nil {
		return err
	}
	_, err := m.store.Delete(ctx, shared.KindSpace, id)
	return err
}
