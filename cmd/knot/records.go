package main

import (
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// records gives the runtime's Manager the part of the store it uses.
// wrote, when set, is called after every write of a space, so that a leaf's
// uplink reports it at once, or an origin's hub sends it to the leaves.
type records struct {
	s     storage.Store
	wrote func()
}

func (r records) notify(err error) error {
	if err == nil && r.wrote != nil {
		r.wrote()
	}
	return err
}

func (r records) GetSpace(ctx context.Context, id string) (*shared.Space, error) {
	return storage.Get[shared.Space](ctx, r.s, id)
}

func (r records) PutSpace(ctx context.Context, sp *shared.Space) error {
	return r.notify(r.s.Put(ctx, sp))
}

func (r records) DeleteSpace(ctx context.Context, id string) error {
	_, err := r.s.Delete(ctx, shared.KindSpace, id)
	return r.notify(err)
}

func (r records) ListSpaces(ctx context.Context) ([]*shared.Space, error) {
	return storage.List[shared.Space](ctx, r.s)
}

func (r records) GetTemplate(ctx context.Context, id string) (*shared.Template, error) {
	return storage.Get[shared.Template](ctx, r.s, id)
}

func (r records) GetUser(ctx context.Context, id string) (*shared.User, error) {
	return storage.Get[shared.User](ctx, r.s, id)
}

func (r records) ListTemplateVars(ctx context.Context) ([]*shared.TemplateVar, error) {
	return storage.List[shared.TemplateVar](ctx, r.s)
}
