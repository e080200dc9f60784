// Package metrics holds the figures a knot server reports at GET /metrics,
// each collected where it arises: the store's failures (storage.Observed),
// the origin's leaves (origin.Hub.Metrics), a leaf's view of its origin
// (leaf.Uplink.Metrics), the process itself (Process) and the HTTP
// requests (Requests, which web feeds). Write writes families in the
// Prometheus text format.
package metrics

// Family is one metric: samples that share a name, a help text and a type.
type Family struct {
	Name    string
	Help    string
	Type    string // "counter" or "gauge"
	Samples []Sample
}

// Sample is one series of a family: its labels, in order, and its value.
type Sample struct {
	Labels []Label
	Value  float64
}

// Label is a label of a sample.
type Label struct{ Name, Value string }

// Gauge returns a family of one gauge without labels.
func Gauge(name, help string, v float64) Family {
	return Family{Name: name, Help: help, Type: "gauge", Samples: []Sample{{Value: v}}}
}

// Counter returns a family of one counter without labels.
func Counter(name, help string, v float64) Family {
	return Family{Name: name, Help: help, Type: "counter", Samples: []Sample{{Value: v}}}
}

// Bool returns 1 for true and 0 for false, the value of a gauge that says
// whether something holds.
func Bool(v bool) float64 {
	if v {
		return 1
	}
	return 0
}
