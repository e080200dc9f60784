package leaf

import (
	"context"
	"strconv"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/client"
	"github.com/knot-dev/knot/storage"
)

// The origin-owned services of a leaf (groups.go, roles.go, users.go,
// tokens.go) read the leaf's replica, with the permission checks of the
// origin's, and forward writes to the origin through shared/client with the caller's own
// credential there; the origin checks, validates and writes them, and its
// refusal comes back as its shared.Error. While the origin is not reachable
// a write fails at once with EUNAVAILABLE, and nothing is queued.
//
// web does not send HTTP writes of these services' routes through them
// yet: on a leaf it forwards the request itself before it reaches a
// handler (web/leafside.go), which keeps the origin's answer byte for byte
// and its audit event at the origin alone. The write methods here are the
// path for the callers that do not speak HTTP, and the one web moves to
// when its forwarding of every origin-owned route can.

// ServiceOptions configures the origin-owned services of a leaf.
type ServiceOptions struct {
	// Store is the leaf's replica. Required.
	Store storage.Store
	// Up returns nil while the origin is reachable and otherwise the
	// EUNAVAILABLE error that says so; nil means always reachable.
	Up func() error
	// Origin returns the client of the origin that acts for the actor of
	// ctx with their own credential there (an API token, or the session
	// the leaf opened at the origin at their login). Required for writes;
	// nil makes every write fail with EUNAVAILABLE.
	Origin func(ctx context.Context) (*client.Client, error)
}

// origin returns the client a write goes through: at once EUNAVAILABLE
// while the origin is down.
func (o ServiceOptions) origin(ctx context.Context) (*client.Client, error) {
	if _, err := shared.ActorRequired(ctx); err != nil {
		return nil, err
	}
	if o.Up != nil {
		if err := o.Up(); err != nil {
			return nil, err
		}
	}
	if o.Origin == nil {
		return nil, shared.Errorf(shared.EUNAVAILABLE, "this leaf has no way to the origin for writes: make the change at the origin")
	}
	return o.Origin(ctx)
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
