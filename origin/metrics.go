package origin

import (
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/metrics"
)

// restrictedLocation is the location label of a restricted leaf's series:
// a restricted leaf's location is its owner's username, and the figures
// name no user. It cannot be a location's name, which holds no
// parentheses.
const restrictedLocation = "(restricted)"

// leafSeries are the figures of each leaf node.
var leafSeries = []struct {
	name, help string
	value      func(in shared.LeafNode) float64
}{
	{"knot_leaf_connected", "1 while the leaf node is connected, else 0.", func(in shared.LeafNode) float64 { return metrics.Bool(in.Connected) }},
	{"knot_leaf_lag", "Revisions the leaf node is behind this origin's store.", func(in shared.LeafNode) float64 { return float64(in.Lag) }},
	{"knot_leaf_applied_revision", "The origin revision the leaf node last acknowledged.", func(in shared.LeafNode) float64 { return float64(in.Applied) }},
	{"knot_leaf_rtt_seconds", "Round trip of the last ping the leaf node answered.", func(in shared.LeafNode) float64 { return in.RTT.Seconds() }},
	{"knot_leaf_epoch_changes", "Snapshots of a new epoch this origin sent the leaf node since it started, each replacing a replica of another epoch.", func(in shared.LeafNode) float64 { return float64(in.EpochChanges) }},
	{"knot_leaf_last_seen_seconds", "When the leaf node last sent a frame or answered a ping, since the Unix epoch.", func(in shared.LeafNode) float64 { return float64(in.LastSeen.Unix()) }},
}

// Metrics returns the hub's figures: how many leaf nodes are connected,
// and a series per leaf node it lists (Leaves), labelled with its
// location (restrictedLocation for a restricted leaf) and its node id.
// A nil hub (a standalone server) has none.
func (h *Hub) Metrics() []metrics.Family {
	if h == nil {
		return nil
	}
	leaves := h.Leaves()
	connected := 0
	for _, in := range leaves {
		if in.Connected {
			connected++
		}
	}
	out := []metrics.Family{metrics.Gauge("knot_leaves_connected", "Leaf nodes connected to this origin.", float64(connected))}
	for _, sr := range leafSeries {
		f := metrics.Family{Name: sr.name, Help: sr.help, Type: "gauge", Samples: make([]metrics.Sample, 0, len(leaves))}
		for _, in := range leaves {
			loc := in.Location
			if in.Restricted {
				loc = restrictedLocation
			}
			f.Samples = append(f.Samples, metrics.Sample{Labels: []metrics.Label{{Name: "location", Value: loc}, {Name: "node", Value: in.NodeID}}, Value: sr.value(in)})
		}
		out = append(out, f)
	}
	return out
}
