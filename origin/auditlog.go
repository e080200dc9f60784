package origin

import (
	"context"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// AuditService is shared.AuditService over a server's store. An origin's
// log holds its leaves' events too (audit.go stores them as they come); a
// leaf, whose events are its own, runs the same service over its store
// and its uplink reports what it records.
type AuditService struct {
	store    storage.Store
	location string
	opts     ServiceOptions
}

var _ shared.AuditService = (*AuditService)(nil)

// NewAuditService returns the audit service over store; location is the
// server's, recorded with its events.
func NewAuditService(store storage.Store, location string, opts ServiceOptions) *AuditService {
	return &AuditService{store: store, location: location, opts: opts}
}

// maxActor is the longest actor an event records, in bytes.
const maxActor = 256

// List implements shared.AuditService.
func (s *AuditService) List(ctx context.Context, o shared.ListOptions) (shared.Page[shared.AuditEvent], error) {
	var none shared.Page[shared.AuditEvent]
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return none, err
	}
	if err := a.Needs(shared.PermViewAuditLogs); err != nil {
		return none, err
	}
	if o.Offset < 0 || o.Limit < 1 || o.Limit > shared.MaxAuditPage {
		return none, invalid("a page of the audit log starts at 0 or later and holds 1 to %d events, not %d from %d", shared.MaxAuditPage, o.Limit, o.Offset)
	}
	if err := o.Check(nil); err != nil {
		return none, err
	}
	if o.Query == "" && o.Location == "" {
		evs, total, err := s.store.ListAudit(ctx, o.Offset, o.Limit)
		return shared.Page[shared.AuditEvent]{Items: evs, Total: total}, err
	}
	return s.search(ctx, o)
}

// search pages the events among the newest shared.MaxAuditSearch that o
// selects, reading the log a page at a time.
func (s *AuditService) search(ctx context.Context, o shared.ListOptions) (shared.Page[shared.AuditEvent], error) {
	var out shared.Page[shared.AuditEvent]
	for at := 0; at < shared.MaxAuditSearch; at += shared.MaxAuditPage {
		evs, _, err := s.store.ListAudit(ctx, at, shared.MaxAuditPage)
		if err != nil {
			return shared.Page[shared.AuditEvent]{}, err
		}
		for i := range evs {
			if !evs[i].Match(o) {
				continue
			}
			if out.Total >= o.Offset && len(out.Items) < o.Limit {
				out.Items = append(out.Items, evs[i])
			}
			out.Total++
		}
		if len(evs) < shared.MaxAuditPage {
			break
		}
	}
	return out, nil
}

// Record implements shared.AuditService.
func (s *AuditService) Record(ctx context.Context, ev *shared.AuditEvent) error {
	if ev.At.IsZero() {
		ev.At = s.opts.now()
	}
	if ev.Location == "" {
		ev.Location = s.location
	}
	if ev.ActorType == "" {
		ev.ActorType = "user"
	}
	if len(ev.Actor) > maxActor {
		ev.Actor = ev.Actor[:maxActor]
	}
	return s.store.AppendAudit(writeContext(ctx), ev)
}

// Prune implements shared.AuditService.
func (s *AuditService) Prune(ctx context.Context, before time.Time) (int, error) {
	return s.store.PruneAudit(ctx, before)
}
