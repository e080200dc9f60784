package leaf

import (
	"context"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// manualRunner is the Runner of a server without runtimes: a
// runtime.Manager runs the spaces of manual templates (whose agent the user
// starts), and the others are refused with EUNAVAILABLE, their state left
// as it is.
type manualRunner struct {
	m     *runtime.Manager
	store storage.Store
}

func (r manualRunner) manual(ctx context.Context, id string) error {
	sp, err := storage.Get[shared.Space](ctx, r.store, id)
	if err != nil {
		return err
	}
	t, err := storage.Get[shared.Template](ctx, r.store, sp.TemplateID)
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		return shared.Errorf(shared.EUNAVAILABLE, "template %s of space %s is gone, and no runtime is configured on this server", quote(sp.TemplateID), quote(sp.Name))
	}
	if err != nil {
		return err
	}
	if t.Kind != shared.TemplateManual {
		return shared.Errorf(shared.EUNAVAILABLE, "no runtime is configured for %s templates on this server", t.Kind)
	}
	return nil
}

func (r manualRunner) Start(ctx context.Context, id string) error {
	if err := r.manual(ctx, id); err != nil {
		return err
	}
	return r.m.Start(ctx, id)
}

func (r manualRunner) Stop(ctx context.Context, id string) error {
	if err := r.manual(ctx, id); err != nil {
		return err
	}
	return r.m.Stop(ctx, id)
}

func (r manualRunner) Delete(ctx context.Context, id string) error {
	if err := r.manual(ctx, id); err != nil {
		return err
	}
	return r.m.Delete(ctx, id)
}
