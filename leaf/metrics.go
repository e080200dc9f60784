package leaf

import (
	"context"

	"github.com/knot-dev/knot/shared/metrics"
)

// Metrics returns the leaf's view of its origin: whether the link is up,
// the revision its replica holds and how far behind it is, and the space
// changes the origin has not acknowledged yet.
func (u *Uplink) Metrics(ctx context.Context) []metrics.Family {
	st := u.ReplicaStatus(ctx)
	return []metrics.Family{
		metrics.Gauge("knot_origin_reachable", "1 while this leaf's link to its origin is up, else 0.", metrics.Bool(st.Connected)),
		metrics.Gauge("knot_replica_applied_revision", "The origin revision this leaf's replica holds.", float64(st.Applied)),
		metrics.Gauge("knot_replica_lag", "Revisions this leaf's replica is behind the origin, as last heard.", float64(st.Lag)),
		metrics.Gauge("knot_leaf_pending_reports", "Space changes the origin has not acknowledged yet.", float64(st.PendingReports)),
	}
}
