package leaf

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
)

// auditBacklog bounds how many audit events one scan of the leaf's audit
// log collects; the rest follow in the next scan.
const auditBacklog = 20 * wire.MaxAuditEvents

// reportAudit sends the audit events of the leaf's store to the origin, at
// least once each. It first asks the origin how far it holds the events of
// this store (a report without events), then sends every later event in
// reports of at most wire.MaxAuditEvents, each after the ack of the one
// before, and then new events as they are recorded (on Notify, or every
// ReportInterval). An event the origin fails to store is sent again at the
// next scan.
func (s *session) reportAudit(ctx context.Context) error {
	u := s.u
	head, err := u.opts.Store.Head(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	store := head.Epoch
	upto, err := s.sendAudit(ctx, &wire.AuditReport{Store: store})
	if err != nil || ctx.Err() != nil {
		return err
	}
	t := time.NewTicker(u.opts.ReportInterval)
	defer t.Stop()
	for {
		evs, err := s.auditAfter(ctx, upto)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for len(evs) > 0 {
			n := min(len(evs), wire.MaxAuditEvents)
			next, err := s.sendAudit(ctx, &wire.AuditReport{Store: store, Events: evs[:n]})
			if err != nil || ctx.Err() != nil {
				return err
			}
			if next < evs[n-1].ID {
				upto = next
				break // the origin failed to store some; try again later
			}
			upto, evs = next, evs[n:]
		}
		select {
		case <-ctx.Done():
			return nil
		case <-u.audit:
		case <-t.C:
		}
	}
}

// sendAudit sends one audit report and returns the origin's upto.
func (s *session) sendAudit(ctx context.Context, r *wire.AuditReport) (int64, error) {
	if err := s.send(ctx, r); err != nil {
		if ctx.Err() != nil {
			return 0, nil
		}
		return 0, err
	}
	select {
	case <-ctx.Done():
		return 0, nil
	case ack := <-s.auditAcks:
		if ack.Store != r.Store {
			return 0, closeWith(wire.CloseMalformed, "audit ack for store %q, but the report was of %q", ack.Store, r.Store)
		}
		if ack.Code != "" {
			s.u.log.Warn("leaf: the origin failed to store audit events", "upto", ack.Upto, "code", ack.Code, "message", ack.Message)
		}
		return ack.Upto, nil
	}
}

// auditAfter returns the events of the leaf's audit log with an id above
// after, oldest first, at most auditBacklog of them (the oldest ones).
func (s *session) auditAfter(ctx context.Context, after int64) ([]wire.AuditEvent, error) {
	const page = 500
	var out []wire.AuditEvent
	for off := 0; ; off += page {
		evs, _, err := s.u.opts.Store.ListAudit(ctx, off, page)
		if err != nil {
			return nil, err
		}
		done := len(evs) < page
		for _, e := range evs {
			if e.ID <= after {
				done = true
				break
			}
			out = append(out, toWire(e))
		}
		if done {
			break
		}
	}
	slices.Reverse(out)
	if len(out) > auditBacklog {
		out = out[:auditBacklog]
	}
	return out, nil
}

// toWire returns e as an audit report carries it, clipped to the bounds
// of wire.AuditEvent: an event over them would keep the origin from taking
// the ones after it.
func toWire(e shared.AuditEvent) wire.AuditEvent {
	ev := wire.AuditEvent{ID: e.ID, At: e.At, Actor: e.Actor, ActorType: e.ActorType, Event: e.Event, Details: e.Details, Properties: e.Properties}
	if ev.Event == "" {
		ev.Event = "unnamed"
	}
	return ev.Clipped()
}

// record records ev in audit (nil: nowhere) as an event of the actor in
// ctx, if any, from the caller c. A failure to record goes to log: the
// write or the use ev describes has happened.
func record(ctx context.Context, audit shared.AuditService, log *slog.Logger, c shared.Caller, ev *shared.AuditEvent) {
	if audit == nil {
		return
	}
	ev.Properties = shared.CallerProps(c, ev.Properties)
	if a := shared.ActorFrom(ctx); a != nil && a.User != nil {
		ev.Actor = a.User.Username
		if a.User.ID != "" {
			ev.Properties["user_id"] = a.User.ID
		}
	}
	if err := audit.Record(context.WithoutCancel(ctx), ev); err != nil {
		log.ErrorContext(ctx, "append audit event", "event", ev.Event, "err", err)
	}
}
