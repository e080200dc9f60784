package leaf

import (
	"context"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// SpaceRecords gives a runtime.Manager the part of a store it uses. Wrote,
// when set, is called after every write of a space, so that a leaf's uplink
// reports it at once, or an origin's hub sends it to the leaves.
type SpaceRecords struct {
	Store storage.Store
	Wrote func()
}

var _ runtime.Records = SpaceRecords{}

func (r SpaceRecords) notify(err error) error {
	if err == nil && r.Wrote != nil {
		r.Wrote()
	}
	return err
}

func (r SpaceRecords) GetSpace(ctx context.Context, id string) (*shared.Space, error) {
	return storage.Get[shared.Space](ctx, r.Store, id)
}

func (r SpaceRecords) PutSpace(ctx context.Context, sp *shared.Space) error {
	return r.notify(r.Store.Put(ctx, sp))
}

func (r SpaceRecords) DeleteSpace(ctx context.Context, id string) error {
	_, err := r.Store.Delete(ctx, shared.KindSpace, id)
	return r.notify(err)
}

func (r SpaceRecords) ListSpaces(ctx context.Context) ([]*shared.Space, error) {
	return storage.List[shared.Space](ctx, r.Store)
}

func (r SpaceRecords) GetTemplate(ctx context.Context, id string) (*shared.Template, error) {
	return storage.Get[shared.Template](ctx, r.Store, id)
}

func (r SpaceRecords) GetUser(ctx context.Context, id string) (*shared.User, error) {
	return storage.Get[shared.User](ctx, r.Store, id)
}

func (r SpaceRecords) ListTemplateVars(ctx context.Context) ([]*shared.TemplateVar, error) {
	return storage.List[shared.TemplateVar](ctx, r.Store)
}
