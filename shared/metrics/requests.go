package metrics

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// durationBuckets are the upper bounds, in seconds, of the request duration
// histogram.
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type requestKey struct {
	route, method string
	status        int
}

type histogram struct {
	counts []uint64 // per bucket, not cumulative; the last one is +Inf
	sum    float64
	count  uint64
}

// Requests holds the counts and durations of the HTTP requests a server
// served. Its methods are safe for concurrent use.
type Requests struct {
	// Start is when Requests was made, the process's start.
	Start time.Time

	mu        sync.Mutex
	requests  map[requestKey]uint64 // guarded by mu
	durations map[string]*histogram // guarded by mu: by route
}

// NewRequests returns Requests with nothing counted.
func NewRequests() *Requests {
	return &Requests{
		Start:     time.Now(),
		requests:  map[requestKey]uint64{},
		durations: map[string]*histogram{},
	}
}

// knownMethods bound the method label: any other counts as "OTHER".
var knownMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// Observe counts a request to route (its pattern; "" counts as
// "unmatched") with method that was answered with status after d, and
// returns the route and method labels it counted it under.
func (m *Requests) Observe(route, method string, status int, d time.Duration) (string, string) {
	route = cmp.Or(route, "unmatched")
	if !slices.Contains(knownMethods, method) {
		method = "OTHER"
	}
	secs := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[requestKey{route, method, status}]++
	h := m.durations[route]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(durationBuckets)+1)}
		m.durations[route] = h
	}
	i, _ := slices.BinarySearch(durationBuckets, secs)
	h.counts[i]++
	h.sum += secs
	h.count++
	return route, method
}

// Write writes the request counts and durations in the Prometheus text
// format.
func (m *Requests) Write(b *strings.Builder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]requestKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b requestKey) int {
		if c := strings.Compare(a.route, b.route); c != 0 {
			return c
		}
		if c := strings.Compare(a.method, b.method); c != 0 {
			return c
		}
		return a.status - b.status
	})
	b.WriteString("# HELP knot_http_requests_total HTTP requests served, by chi route pattern, method and status.\n")
	b.WriteString("# TYPE knot_http_requests_total counter\n")
	for _, k := range keys {
		fmt.Fprintf(b, "knot_http_requests_total{route=%s,method=%s,status=\"%d\"} %d\n",
			label(k.route), label(k.method), k.status, m.requests[k])
	}
	routes := make([]string, 0, len(m.durations))
	for r := range m.durations {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	b.WriteString("# HELP knot_http_request_duration_seconds Time to serve HTTP requests, by chi route pattern.\n")
	b.WriteString("# TYPE knot_http_request_duration_seconds histogram\n")
	for _, route := range routes {
		h := m.durations[route]
		var cum uint64
		for i, le := range durationBuckets {
			cum += h.counts[i]
			fmt.Fprintf(b, "knot_http_request_duration_seconds_bucket{route=%s,le=\"%s\"} %d\n", label(route), strconv.FormatFloat(le, 'g', -1, 64), cum)
		}
		cum += h.counts[len(durationBuckets)]
		fmt.Fprintf(b, "knot_http_request_duration_seconds_bucket{route=%s,le=\"+Inf\"} %d\n", label(route), cum)
		fmt.Fprintf(b, "knot_http_request_duration_seconds_sum{route=%s} %s\n", label(route), strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(b, "knot_http_request_duration_seconds_count{route=%s} %d\n", label(route), h.count)
	}
}
