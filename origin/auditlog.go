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
func (s *AuditService) List(ctx context.Context, start, limit int) ([]shared.AuditEvent, int, error) {
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return nil, 0, err
	}
	if err := a.Needs(shared.PermViewAuditLogs); err != nil {
		return nil, 0, err
	}
	if start < 0 || limit < 1 || limit > shared.MaxAuditPage {
		return nil, 0, invalid("a page of the audit log starts at 0 or later and holds 1 to %d events, not %d from %d", shared.MaxAuditPage, limit, start)
	}
	return s.store.ListAudit(ctx, start, limit)
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
