package shared

import (
	"context"
	"time"
)

// AuditService keeps the audit log of a server's store: on an origin its
// own events and those its leaves report, on a leaf its own (which its
// uplink reports to the origin).
type AuditService interface {
	// List returns a page of the audit log, newest first: at most limit
	// events after the newest start ones, and the number of events in all.
	// EUNAUTHORIZED without an actor; EFORBIDDEN without View Audit Logs;
	// EINVALID when start is negative or limit is not from 1 to
	// MaxAuditPage.
	List(ctx context.Context, start, limit int) ([]AuditEvent, int, error)

	// Record appends ev to the audit log and sets its id. An ev without a
	// time gets the current one, without a location the server's, without
	// an actor type "user"; an actor over 256 bytes is cut. It needs no
	// actor in ctx: failed logins are recorded too.
	Record(ctx context.Context, ev *AuditEvent) error

	// Prune deletes the events older than before (the oldest first, up to
	// the first at or after it) and returns how many it deleted. It is the
	// server's own upkeep and needs no actor.
	Prune(ctx context.Context, before time.Time) (int, error)
}

// MaxAuditPage is the most events one page of the audit log holds.
const MaxAuditPage = 1000
