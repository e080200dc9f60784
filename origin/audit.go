package origin

import (
	"context"
	"strconv"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
)

// The properties an audit event of a leaf carries at the origin, beside its
// own: they name the leaf store it came from and its id there, which is how
// the origin stores each event once.
const (
	PropLeafStore   = "leaf_store"
	PropLeafEventID = "leaf_event_id"
	PropLeafNode    = "leaf_node"
)

// auditScanLimit bounds how many of the origin's newest audit events are
// read to find the last event stored from a leaf store the hub has not
// seen since it started. An older one is not found, and the leaf's events
// after it may then be stored twice (at least once still holds).
const auditScanLimit = 50000

type auditKey struct{ location, store string }

// audit stores the events of a leaf's audit report that the origin does not
// hold yet, with the link's location, and returns the acknowledgement.
func (l *link) audit(ctx context.Context, r *wire.AuditReport) *wire.AuditAck {
	h := l.hub
	key := auditKey{l.location, r.Store}
	ack := &wire.AuditAck{Store: r.Store}
	upto, err := h.auditUpto(ctx, key)
	if err != nil {
		ack.Code, ack.Message = shared.ErrorCode(err), shared.ErrorMessage(err)
		h.log.Warn("origin: read the audit log", "err", err)
		return ack
	}
	for _, e := range r.Events {
		if e.ID <= upto {
			continue
		}
		props := make(map[string]string, len(e.Properties)+3)
		for k, v := range e.Properties {
			props[k] = v
		}
		props[PropLeafStore] = r.Store
		props[PropLeafEventID] = strconv.FormatInt(e.ID, 10)
		props[PropLeafNode] = l.node
		ev := l.auditEvent(e, props)
		if err := h.store.AppendAudit(ctx, ev); err != nil {
			ack.Code, ack.Message = shared.ErrorCode(err), shared.ErrorMessage(err)
			h.log.Warn("origin: store a leaf's audit event", "location", l.location, "err", err)
			break
		}
		upto = e.ID
		h.mu.Lock()
		h.audits[key] = upto
		h.mu.Unlock()
	}
	ack.Upto = upto
	return ack
}

// auditUpto returns the highest id of the leaf store's events the origin
// holds: from memory, or else from the newest matching event of the audit
// log.
func (h *Hub) auditUpto(ctx context.Context, key auditKey) (int64, error) {
	h.mu.Lock()
	upto, ok := h.audits[key]
	h.mu.Unlock()
	if ok {
		return upto, nil
	}
	const page = 1000
scan:
	for off := 0; off < auditScanLimit; off += page {
		evs, _, err := h.store.ListAudit(ctx, off, page)
		if err != nil {
			return 0, err
		}
		for _, e := range evs {
			if e.Location == key.location && e.Properties[PropLeafStore] == key.store {
				upto, _ = strconv.ParseInt(e.Properties[PropLeafEventID], 10, 64)
				break scan
			}
		}
		if len(evs) < page {
			break
		}
	}
	h.mu.Lock()
	if cur, ok := h.audits[key]; ok {
		upto = max(upto, cur)
	}
	h.audits[key] = upto
	h.mu.Unlock()
	return upto, nil
}
