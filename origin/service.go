package origin

import (
	"context"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// ServiceOptions configures the services of this package.
type ServiceOptions struct {
	// Now returns the current time, for the timestamps of records; nil
	// means time.Now.
	Now func() time.Time
	// Records returns every space, user and template, decoded and kept
	// while the store does not change (the space service's snapshot), for
	// the user list to count spaces from; nil reads the store each time.
	Records func(ctx context.Context) (*shared.SpaceList, error)
	// Audit records the audit event of each write (RecordAudit); nil
	// records none.
	Audit func(ctx context.Context, ev *shared.AuditEvent)
}

// record records the event of a write by the actor in ctx.
func (o ServiceOptions) record(ctx context.Context, event, details string, props map[string]string) {
	if a := shared.ActorFrom(ctx); a != nil {
		o.recordAs(ctx, a.User, event, details, props)
	}
}

// recordAs records the event of a write by u. The caller in ctx is
// recorded with it (RecordAudit), so a write a leaf forwards is recorded
// here, with the address the leaf saw, and not at the leaf.
func (o ServiceOptions) recordAs(ctx context.Context, u *shared.User, event, details string, props map[string]string) {
	if o.Audit == nil {
		return
	}
	props["user_id"] = u.ID
	o.Audit(ctx, &shared.AuditEvent{Actor: u.Username, Event: event, Details: details, Properties: props})
}

func (o ServiceOptions) now() time.Time {
	if o.Now == nil {
		return time.Now().UTC()
	}
	return o.Now().UTC()
}

// writeContext is the context of a write: it is not cancelled with the
// caller's (a client that hangs up does not cut a write short), and keeps
// its values.
func writeContext(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// quote, nameTaken, checkName, checkQuotas, setIf and sameSet are shared's,
// which web uses too.
var (
	quote       = shared.Quote
	nameTaken   = shared.NameTaken
	checkName   = shared.CheckName
	checkQuotas = shared.CheckQuotas
	sameSet     = shared.SameSet
)

func setIf[T any](dst, src *T) { shared.SetIf(dst, src) }

func invalid(format string, args ...any) error {
	return shared.Errorf(shared.EINVALID, format, args...)
}

func forbidden(format string, args ...any) error {
	return shared.Errorf(shared.EFORBIDDEN, format, args...)
}

func isCode(err error, code string) bool { return err != nil && shared.ErrorCode(err) == code }

func newID() string { return shared.NewID() }

// get returns the record of type T with id, or the ENOTFOUND error what
// gives.
func get[T any, P storage.RecordPtr[T]](ctx context.Context, r storage.Reader, id string, what func() error) (P, error) {
	rec, err := storage.Get[T, P](ctx, r, id)
	if isCode(err, shared.ENOTFOUND) {
		return nil, what()
	}
	return rec, err
}
