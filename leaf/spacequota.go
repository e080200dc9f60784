package leaf

import (
	"context"
	"errors"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// Quotas hold in the store, not in this process: a new space and a start
// are each decided and written in one store transaction (Store.Update),
// which counts what the owner holds, reads their limits and their groups'
// (storage.LimitsOf), and writes the record only if it fits. Servers that
// share one MySQL or Redis database therefore keep one quota between them:
// of two concurrent creations, the transaction that commits second has read
// a count that changed, runs again and sees the other's record.
//
// A start claims its compute units by moving the space to starting in the
// transaction, before the Runner runs it; when the Runner fails without
// recording anything itself, the claim is given back.
//
// Two cases stay a check before the write: a space that an origin asks
// another location's leaf to create (the leaf writes its record), and a
// space a restricted leaf reports (the hub writes it). On a leaf the
// spaces of other locations are counted from the origin's answer
// (SpaceOptions.Far), taken before the transaction.

// scope is the scope of the quota of the spaces of user on this server:
// every space of the store, except on a leaf that reaches its origin, which
// counts its own location's spaces and takes the others' from the origin's
// answer.
func (s *SpaceService) scope(ctx context.Context, userID string) storage.QuotaScope {
	if s.opts.Far == nil {
		return storage.QuotaScope{}
	}
	far, err := s.opts.Far(ctx, userID)
	if err != nil {
		s.log.InfoContext(ctx, "quota counts the spaces this leaf knows of", "user_id", userID, "reason", shared.ErrorMessage(err))
		return storage.QuotaScope{}
	}
	return storage.QuotaScope{Keep: func(sp *shared.Space) bool { return !s.remote(sp) }, Far: shared.Usage(far)}
}

// usage returns what the spaces of owner in r within scope use.
func (s *SpaceService) usage(ctx context.Context, r storage.Reader, owner *shared.User, scope storage.QuotaScope) (shared.Usage, error) {
	return storage.UsageOf(ctx, r, owner.ID, scope)
}

func spaceQuotaExceeded(owner *shared.User, limit int) error {
	return shared.Errorf(shared.EQUOTA, "space quota exceeded: user %s may have %d spaces", quote(owner.Username), limit)
}

// checkUnits fails with EQUOTA when starting sp, whose template is t,
// would take what used holds past limit compute units (0: unlimited).
func checkUnits(used shared.Usage, limit int, sp *shared.Space, t *shared.Template) error {
	if limit == 0 || used.UsedComputeUnits+t.ComputeUnits <= limit {
		return nil
	}
	return shared.Errorf(shared.EQUOTA, "compute unit quota exceeded: %d of %d in use, and space %s needs %d", used.UsedComputeUnits, limit, quote(sp.Name), t.ComputeUnits)
}

// spaceNameTaken is the error of a new or renamed space whose name its
// owner already uses at its location.
func spaceNameTaken(owner *shared.User, sp *shared.Space) error {
	return shared.Errorf(shared.ECONFLICT, "user %s already has a space named %s at location %s", quote(owner.Username), quote(sp.Name), quote(sp.Location))
}

// checkSpaceCount fails with EQUOTA when owner, whose spaces in r within
// scope are counted, may have no further space, or not the new space sp
// with the storage units of its template: a space holds its storage from
// its creation to its deletion, deployed or not.
func (s *SpaceService) checkSpaceCount(ctx context.Context, r storage.Reader, owner *shared.User, sp *shared.Space, scope storage.QuotaScope) error {
	l, err := storage.LimitsOf(ctx, r, owner)
	if err != nil || (l.MaxSpaces == 0 && l.StorageUnits == 0) {
		return err
	}
	used, err := s.usage(ctx, r, owner, scope)
	if err != nil {
		return err
	}
	if l.MaxSpaces > 0 && used.NumberSpaces >= l.MaxSpaces {
		return spaceQuotaExceeded(owner, l.MaxSpaces)
	}
	if l.StorageUnits == 0 {
		return nil
	}
	t, err := storage.Get[shared.Template](ctx, r, sp.TemplateID)
	if err != nil {
		return notFoundAs(err, "template", sp.TemplateID)
	}
	if used.UsedStorageUnits+t.StorageUnits > l.StorageUnits {
		return shared.Errorf(shared.EQUOTA, "storage unit quota exceeded: %d of %d in use, and space %s needs %d", used.UsedStorageUnits, l.StorageUnits, quote(sp.Name), t.StorageUnits)
	}
	return nil
}

// checkSpaceQuota fails with EQUOTA when owner may have no further space,
// or not sp, for a new space that another server writes: a leaf of another
// location, or the hub for a space that a restricted leaf reports.
func (s *SpaceService) checkSpaceQuota(ctx context.Context, owner *shared.User, sp *shared.Space) error {
	return s.checkSpaceCount(ctx, s.opts.Store, owner, sp, storage.QuotaScope{})
}

// checkComputeQuota fails with EQUOTA when starting sp, a space another
// server runs, would take its owner past their compute units.
func (s *SpaceService) checkComputeQuota(ctx context.Context, sp *shared.Space) error {
	owner, err := storage.Get[shared.User](ctx, s.opts.Store, sp.UserID)
	if err != nil {
		return notFoundAs(err, "user", sp.UserID)
	}
	t, err := storage.Get[shared.Template](ctx, s.opts.Store, sp.TemplateID)
	if err != nil {
		return notFoundAs(err, "template", sp.TemplateID)
	}
	l, err := storage.LimitsOf(ctx, s.opts.Store, owner)
	if err != nil {
		return err
	}
	used, err := s.usage(ctx, s.opts.Store, owner, storage.QuotaScope{})
	if err != nil {
		return err
	}
	return checkUnits(used, l.ComputeUnits, sp, t)
}

// notFoundAs turns a store's ENOTFOUND into "<kind> <id> not found".
func notFoundAs(err error, kind, id string) error {
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		return shared.Errorf(shared.ENOTFOUND, "%s %s not found", kind, quote(id))
	}
	return err
}

// createSpace writes the new space sp if its owner's space quota allows it,
// in one transaction of store: EQUOTA when it does not, ECONFLICT when the
// owner already has a space of that name at its location, EINVALID when
// the owner is gone. Only the spaces within scope are counted.
func (s *SpaceService) createSpace(ctx context.Context, sp *shared.Space, scope storage.QuotaScope) error {
	var taken error
	err := s.opts.Store.Update(ctx, func(tx storage.Tx) error {
		taken = nil
		owner, err := storage.Get[shared.User](ctx, tx, sp.UserID)
		if shared.ErrorCode(err) == shared.ENOTFOUND {
			return invalid("user_id: user %s does not exist", quote(sp.UserID))
		}
		if err != nil {
			return err
		}
		if err := s.checkSpaceCount(ctx, tx, owner, sp, scope); err != nil {
			return err
		}
		err = tx.Put(ctx, sp)
		if shared.ErrorCode(err) == shared.ECONFLICT {
			taken = spaceNameTaken(owner, sp)
			return taken
		}
		return err
	})
	if taken != nil && errors.Is(err, taken) {
		return taken
	}
	return err
}

// claimStart moves the space id to starting if its owner's compute units
// allow its template's, in one transaction of store, and returns the space
// as it was and as claimed. A space that is deployed already, or being
// deleted, is returned unchanged with claimed nil: it uses no further
// units, and the Runner says what a start does to it; so is a space whose
// start no limit counts (no compute units, or none needed), which is left
// to the Runner alone so that its log tells the start from the state
// before. EQUOTA when the units do not suffice, ENOTFOUND when the space is
// gone.
func (s *SpaceService) claimStart(ctx context.Context, id string, scope storage.QuotaScope) (before, claimed *shared.Space, err error) {
	err = s.opts.Store.Update(ctx, func(tx storage.Tx) error {
		before, claimed = nil, nil
		sp, err := storage.Get[shared.Space](ctx, tx, id)
		if err != nil {
			return notFoundAs(err, "space", id)
		}
		before = sp
		if sp.Deployed() || sp.State == shared.SpaceDeleting {
			return nil
		}
		owner, err := storage.Get[shared.User](ctx, tx, sp.UserID)
		if err != nil {
			return notFoundAs(err, "user", sp.UserID)
		}
		units, err := s.checkComputeUnits(ctx, tx, owner, sp, scope)
		if err != nil || !units {
			return err
		}
		c := *sp
		c.State, c.Reason, c.UpdatedAt = shared.SpaceStarting, "", s.now()
		if err := tx.Put(ctx, &c); err != nil {
			return err
		}
		claimed = &c
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return before, claimed, nil
}

// checkComputeUnits fails with EQUOTA when starting sp, which is not
// deployed, would take owner past their compute units. It reports whether
// the start takes units that a limit counts, which the start must then
// claim.
func (s *SpaceService) checkComputeUnits(ctx context.Context, r storage.Reader, owner *shared.User, sp *shared.Space, scope storage.QuotaScope) (bool, error) {
	l, err := storage.LimitsOf(ctx, r, owner)
	if err != nil || l.ComputeUnits == 0 {
		return false, err
	}
	t, err := storage.Get[shared.Template](ctx, r, sp.TemplateID)
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		return false, nil // the Runner fails the start, which uses nothing
	}
	if err != nil {
		return false, err
	}
	used, err := s.usage(ctx, r, owner, scope)
	if err != nil {
		return false, err
	}
	if err := checkUnits(used, l.ComputeUnits, sp, t); err != nil {
		return false, err
	}
	return t.ComputeUnits > 0, nil
}

// releaseStart gives back the claim of a start that the Runner failed
// without recording anything: if the space is still as claimStart wrote
// it, it returns to its state before.
func (s *SpaceService) releaseStart(ctx context.Context, before, claimed *shared.Space) error {
	return s.opts.Store.Update(ctx, func(tx storage.Tx) error {
		cur, err := storage.Get[shared.Space](ctx, tx, claimed.ID)
		if shared.ErrorCode(err) == shared.ENOTFOUND {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.GetRevision() != claimed.GetRevision() {
			return nil // the Runner, or someone else, moved it on
		}
		back := *before
		back.SetRevision(cur.GetRevision())
		return tx.Put(ctx, &back)
	})
}
