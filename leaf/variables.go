package leaf

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

// VariableOptions configures a leaf's variable service.
type VariableOptions struct {
	ServiceOptions
	// Sealer seals the protected values of local variables
	// (server.encrypt); nil means they cannot be protected.
	Sealer *crypt.Sealer
	// OriginURL is the origin's address, which a refusal to make a local
	// variable shared names.
	OriginURL string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Audit records the writes of local variables (the origin records
	// the others); nil records none.
	Audit shared.AuditService
}

// VariableService is a leaf's shared.VariableService (see services.go): a
// local variable (Local, which the origin never sees) is created, changed
// and deleted in the leaf's store; the others are the origin's.
type VariableService struct {
	opts VariableOptions
	seal func(string) string // nil: no server.encrypt
}

var _ shared.VariableService = (*VariableService)(nil)

// NewVariableService returns the variable service of a leaf.
func NewVariableService(opts VariableOptions) *VariableService {
	s := &VariableService{opts: opts}
	if opts.Sealer != nil {
		s.seal = opts.Sealer.Seal
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	return s
}

// getVar returns the variable with id in the replica.
func (s *VariableService) getVar(ctx context.Context, r storage.Reader, id string) (*shared.TemplateVar, error) {
	v, err := storage.Get[shared.TemplateVar](ctx, r, id)
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		return nil, shared.Errorf(shared.ENOTFOUND, "template variable %s not found", strconv.Quote(id))
	}
	return v, err
}

// List implements shared.VariableService from the replica.
func (s *VariableService) List(ctx context.Context, o shared.ListOptions) (shared.Page[*shared.TemplateVar], error) {
	if err := needs(ctx, shared.PermManageVariables); err != nil {
		return shared.Page[*shared.TemplateVar]{}, err
	}
	return shared.SelectList(storage.List[shared.TemplateVar](ctx, s.opts.Store))(o, shared.SelectVariables)
}

// Get implements shared.VariableService from the replica.
func (s *VariableService) Get(ctx context.Context, id string) (*shared.TemplateVar, error) {
	if err := needs(ctx, shared.PermManageVariables); err != nil {
		return nil, err
	}
	return s.getVar(ctx, s.opts.Store, id)
}

// Create implements shared.VariableService: here for a local variable, at
// the origin for the others.
func (s *VariableService) Create(ctx context.Context, v *shared.TemplateVar) error {
	if err := needs(ctx, shared.PermManageVariables); err != nil {
		return err
	}
	if !v.Local {
		return s.createAtOrigin(ctx, v)
	}
	upd := shared.VarFields(v)
	if err := upd.Check(true, s.seal != nil); err != nil {
		return err
	}
	now := s.opts.Now().UTC()
	c := &shared.TemplateVar{Meta: shared.Meta{ID: shared.NewID(), CreatedAt: now, UpdatedAt: now}}
	if err := upd.Apply(c, s.seal); err != nil {
		return err
	}
	err := s.opts.Store.Put(context.WithoutCancel(ctx), c)
	if shared.ErrorCode(err) == shared.ECONFLICT {
		return shared.VarNameTaken(c)
	}
	if err != nil {
		return err
	}
	*v = *c
	s.record(ctx, "Create", v)
	return nil
}

func (s *VariableService) createAtOrigin(ctx context.Context, v *shared.TemplateVar) error {
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.TemplateVarValue, error) {
		id, err := c.TemplateVars().Create(ctx, varRequest(shared.VarFields(v)))
		if err != nil {
			return nil, err
		}
		return c.TemplateVars().Get(ctx, id)
	})
	if err != nil {
		return err
	}
	*v = *varOf(got)
	return nil
}

// Update implements shared.VariableService: here for a local variable, at
// the origin for the others, and for one the replica does not hold (yet).
// A local variable stays local.
func (s *VariableService) Update(ctx context.Context, id string, upd shared.TemplateVarUpdate) (*shared.TemplateVar, error) {
	if err := needs(ctx, shared.PermManageVariables); err != nil {
		return nil, err
	}
	cur, err := s.getVar(ctx, s.opts.Store, id)
	if shared.ErrorCode(err) == shared.ENOTFOUND || err == nil && !cur.Local {
		return s.updateAtOrigin(ctx, id, upd) // the origin's, if not here yet
	}
	if err != nil {
		return nil, err
	}
	if err := upd.Check(false, s.seal != nil); err != nil {
		return nil, err
	}
	if upd.Local != nil && !*upd.Local {
		return nil, shared.Errorf(shared.EINVALID, "local: a leaf keeps local variables only; create a shared variable at the origin %s", s.opts.OriginURL)
	}
	ctx = context.WithoutCancel(ctx)
	var out *shared.TemplateVar
	err = s.opts.Store.Update(ctx, func(tx storage.Tx) error {
		v, err := s.getVar(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := upd.Apply(v, s.seal); err != nil {
			return err
		}
		v.UpdatedAt = s.opts.Now().UTC()
		out = v
		return tx.Put(ctx, v)
	})
	if shared.ErrorCode(err) == shared.ECONFLICT && out != nil && (upd.Name != nil || upd.Location != nil) {
		return nil, shared.VarNameTaken(out)
	}
	if err != nil {
		return nil, err
	}
	s.record(ctx, "Update", out)
	return out, nil
}

func (s *VariableService) updateAtOrigin(ctx context.Context, id string, upd shared.TemplateVarUpdate) (*shared.TemplateVar, error) {
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.TemplateVarValue, error) {
		if err := c.TemplateVars().Update(ctx, id, varRequest(upd)); err != nil {
			return nil, err
		}
		return c.TemplateVars().Get(ctx, id)
	})
	if err != nil {
		return nil, err
	}
	return varOf(got), nil
}

// Delete implements shared.VariableService: here for a local variable, at
// the origin for the others, and for one the replica does not hold (yet).
func (s *VariableService) Delete(ctx context.Context, id string) (*shared.TemplateVar, error) {
	if err := needs(ctx, shared.PermManageVariables); err != nil {
		return nil, err
	}
	v, err := s.getVar(ctx, s.opts.Store, id)
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		v, err = &shared.TemplateVar{Meta: shared.Meta{ID: id}}, nil // the origin's, if not here yet
	}
	if err != nil {
		return nil, err
	}
	if !v.Local {
		_, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (struct{}, error) {
			return struct{}{}, c.TemplateVars().Delete(ctx, id)
		})
		return v, err
	}
	if _, err := s.opts.Store.Delete(context.WithoutCancel(ctx), shared.KindTemplateVar, id); err != nil {
		return nil, err
	}
	s.record(ctx, "Delete", v)
	return v, nil
}

// record records the event ("Create", "Update", "Delete") of a write of
// the local variable v by the actor in ctx, from the caller in ctx.
func (s *VariableService) record(ctx context.Context, event string, v *shared.TemplateVar) {
	if shared.ActorFrom(ctx) == nil {
		return
	}
	record(ctx, s.opts.Audit, slog.Default(), shared.CallerFrom(ctx), &shared.AuditEvent{Event: "Variable " + event,
		Details: "variable " + v.Name + " " + strings.ToLower(event) + "d", Properties: map[string]string{"templatevar_id": v.ID}})
}

func varRequest(u shared.TemplateVarUpdate) api.TemplateVarRequest {
	return api.TemplateVarRequest{Name: u.Name, Location: u.Location, Value: u.Value, Protected: u.Protected,
		Local: u.Local, Restricted: u.Restricted}
}

// varOf returns the variable the origin answered with; a protected one's
// value is not in it.
func varOf(v *api.TemplateVarValue) *shared.TemplateVar {
	return &shared.TemplateVar{Meta: shared.Meta{ID: v.ID, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}, Name: v.Name,
		Location: v.Location, Value: v.Value, Protected: v.Protected, Local: v.Local, Restricted: v.Restricted}
}
