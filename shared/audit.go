package shared

import (
	"context"
	"strings"
	"time"
)

// AuditService keeps the audit log of a server's store: on an origin its
// own events and those its leaves report, on a leaf its own (which its
// uplink reports to the origin).
type AuditService interface {
	// List returns a page of the audit log, newest first: at most o.Limit
	// events after the newest o.Offset ones, and the number of events in
	// all. With o.Query or o.Location it keeps the events whose actor,
	// event, details or location hold the query and whose location is
	// o.Location, among the newest MaxAuditSearch events, and counts
	// those. EUNAUTHORIZED without an actor; EFORBIDDEN without View Audit
	// Logs; EINVALID when o.Offset is negative, o.Limit is not from 1 to
	// MaxAuditPage, or o.Sort is set.
	List(ctx context.Context, o ListOptions) (Page[AuditEvent], error)

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

// MaxAuditSearch is the number of the newest events a search of the audit
// log looks through.
const MaxAuditSearch = 100_000

// Match reports whether o's query and location select ev.
func (ev *AuditEvent) Match(o ListOptions) bool {
	return (o.Location == "" || strings.EqualFold(ev.Location, o.Location)) &&
		o.Match(ev.Actor, ev.Event, ev.Details, ev.Location)
}
