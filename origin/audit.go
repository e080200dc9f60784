package origin

import (
	"context"
	"fmt"
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

// auditScanLimit bounds how many of the origin's newest audit events the
// audit index reads, once, to learn how far it holds the events of each
// leaf store (auditindex.go). An older one is not found, and the leaf's
// events after it may then be stored twice (at least once still holds).
const auditScanLimit = 50000

type auditKey struct{ location, store string }

// audit stores the events of a leaf's audit report that the origin does not
// hold yet, with the link's location, and returns the acknowledgement. It
// returns an error, which ends the link, when the report is of one leaf
// store more than a link may report under; a report with more events than
// the link may send now is refused in the ack (limits.go).
func (l *link) audit(ctx context.Context, r *wire.AuditReport) (*wire.AuditAck, error) {
	h := l.hub
	if err := l.admitStore(r.Store); err != nil {
		return nil, err
	}
	key := auditKey{l.location, r.Store}
	ack := &wire.AuditAck{Store: r.Store}
	if err := h.audits.load(ctx, h.store); err != nil {
		ack.Code, ack.Message = shared.ErrorCode(err), shared.ErrorMessage(err)
		h.log.Warn("origin: read the audit log", "err", err)
		return ack, nil
	}
	upto := h.audits.get(key)
	ack.Upto = upto
	fresh := 0
	for _, e := range r.Events {
		if e.ID > upto {
			fresh++
		}
	}
	if fresh > 0 && !l.admitEvents(h.now(), fresh) {
		ack.Code = shared.EUNAVAILABLE
		ack.Message = fmt.Sprintf("this leaf sent more than %d audit events at once or %d a second; the origin takes them later", eventBurst, eventRate)
		return ack, nil
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
		h.audits.set(key, upto)
	}
	ack.Upto = upto
	return ack, nil
}
