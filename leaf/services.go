package leaf

import (
	"context"
	"strconv"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// The origin-owned services of a leaf (groups.go, roles.go, fleet.go, users.go,
// tokens.go, templates.go, variables.go)
// read the leaf's replica, with the permission checks of the origin's, and
// send writes to the origin with Forward (origin.go), acting as their
// caller there; the origin checks, validates, writes and audits them, and
// its refusal comes back as its shared.Error. While the origin is not
// reachable a write fails at once with EUNAVAILABLE, and nothing is queued.

// ServiceOptions configures the origin-owned services of a leaf.
type ServiceOptions struct {
	// Store is the leaf's replica. Required.
	Store storage.Store
	// Origin is the way to the origin that writes go through; nil makes
	// every write fail with EUNAVAILABLE.
	Origin *Origin
}

// needs returns the actor in ctx, with an error unless they hold perm.
func needs(ctx context.Context, perm shared.Permission) error {
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return err
	}
	return a.Needs(perm)
}

// get returns the record of type T with id in r, or the ENOTFOUND error
// "<kind> <id> not found".
func get[T any, P storage.RecordPtr[T]](ctx context.Context, r storage.Reader, id string) (P, error) {
	rec, err := storage.Get[T, P](ctx, r, id)
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		var zero P
		return nil, shared.Errorf(shared.ENOTFOUND, "%s %s not found", zero.RecordKind(), strconv.Quote(id))
	}
	return rec, err
}
