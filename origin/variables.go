package origin

import (
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

// VariableService is the origin's shared.VariableService over its store.
type VariableService struct {
	store storage.Store
	seal  func(string) string // nil: no server.encrypt
	opts  ServiceOptions
}

var _ shared.VariableService = (*VariableService)(nil)

// NewVariableService returns the variable service over store; sealer seals
// protected values (server.encrypt), and nil means protected variables
// cannot be stored.
func NewVariableService(store storage.Store, sealer *crypt.Sealer, opts ServiceOptions) *VariableService {
	s := &VariableService{store: store, opts: opts}
	if sealer != nil {
		s.seal = sealer.Seal
	}
	return s
}

func varNotFound(id string) func() error {
	return func() error { return shared.Errorf(shared.ENOTFOUND, "template variable %s not found", quote(id)) }
}

func manageVariables(ctx context.Context) error {
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return err
	}
	return a.Needs(shared.PermManageVariables)
}

// List implements shared.VariableService.
func (s *VariableService) List(ctx context.Context, o shared.ListOptions) (shared.Page[*shared.TemplateVar], error) {
	if err := manageVariables(ctx); err != nil {
		return shared.Page[*shared.TemplateVar]{}, err
	}
	return shared.SelectList(storage.List[shared.TemplateVar](ctx, s.store))(o, shared.SelectVariables)
}

// Get implements shared.VariableService.
func (s *VariableService) Get(ctx context.Context, id string) (*shared.TemplateVar, error) {
	if err := manageVariables(ctx); err != nil {
		return nil, err
	}
	return get[shared.TemplateVar](ctx, s.store, id, varNotFound(id))
}

// Create implements shared.VariableService.
func (s *VariableService) Create(ctx context.Context, v *shared.TemplateVar) error {
	if err := manageVariables(ctx); err != nil {
		return err
	}
	upd := shared.VarFields(v)
	if err := upd.Check(true, s.seal != nil); err != nil {
		return err
	}
	now := s.opts.now()
	c := &shared.TemplateVar{Meta: shared.Meta{ID: newID(), CreatedAt: now, UpdatedAt: now}}
	if err := upd.Apply(c, s.seal); err != nil {
		return err
	}
	err := s.store.Put(writeContext(ctx), c)
	if isCode(err, shared.ECONFLICT) {
		return shared.VarNameTaken(c)
	}
	if err != nil {
		return err
	}
	*v = *c
	s.opts.record(ctx, "Variable Create", "variable "+v.Name+" created", map[string]string{"templatevar_id": v.ID})
	return nil
}

// Update implements shared.VariableService: the variable is read, changed
// and written in one transaction.
func (s *VariableService) Update(ctx context.Context, id string, upd shared.TemplateVarUpdate) (*shared.TemplateVar, error) {
	if err := manageVariables(ctx); err != nil {
		return nil, err
	}
	ctx = writeContext(ctx)
	var out *shared.TemplateVar
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		v, err := get[shared.TemplateVar](ctx, tx, id, varNotFound(id))
		if err != nil {
			return err
		}
		if err := upd.Check(false, s.seal != nil); err != nil {
			return err
		}
		if err := upd.Apply(v, s.seal); err != nil {
			return err
		}
		v.UpdatedAt = s.opts.now()
		out = v
		return tx.Put(ctx, v)
	})
	if isCode(err, shared.ECONFLICT) && out != nil && (upd.Name != nil || upd.Location != nil) {
		return nil, shared.VarNameTaken(out)
	}
	if err != nil {
		return nil, err
	}
	s.opts.record(ctx, "Variable Update", "variable "+out.Name+" updated", map[string]string{"templatevar_id": out.ID})
	return out, nil
}

// Delete implements shared.VariableService.
func (s *VariableService) Delete(ctx context.Context, id string) (*shared.TemplateVar, error) {
	if err := manageVariables(ctx); err != nil {
		return nil, err
	}
	ctx = writeContext(ctx)
	v, err := get[shared.TemplateVar](ctx, s.store, id, varNotFound(id))
	if err != nil {
		return nil, err
	}
	if _, err := s.store.Delete(ctx, shared.KindTemplateVar, id); err != nil {
		return nil, err
	}
	s.opts.record(ctx, "Variable Delete", "variable "+v.Name+" deleted", map[string]string{"templatevar_id": v.ID})
	return v, nil
}
