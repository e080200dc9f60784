package web

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	goruntime "runtime"
	rtmetrics "runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/storage"
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

// metrics holds the counters served at /metrics.
type metrics struct {
	start       time.Time
	storeErrors atomic.Uint64

	mu        sync.Mutex
	requests  map[requestKey]uint64 // guarded by mu
	durations map[string]*histogram // guarded by mu: by route
}

func newMetrics() *metrics {
	return &metrics{
		start:     time.Now(),
		requests:  map[requestKey]uint64{},
		durations: map[string]*histogram{},
	}
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
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
}

// knownMethods bounds the method label: anything else counts as "OTHER".
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts and times every request by chi route pattern, logs one
// debug line per request, and turns a panic into a logged 500.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				buf := make([]byte, 16<<10)
				buf = buf[:goruntime.Stack(buf, false)]
				s.log.ErrorContext(r.Context(), "panic while serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(buf))
				if sw.status == 0 {
					writeJSON(sw, http.StatusInternalServerError, api.ErrorBody{Error: "internal error"})
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			route := "unmatched"
			if rc := chi.RouteContext(r.Context()); rc != nil {
				if p := rc.RoutePattern(); p != "" {
					route = p
				}
			}
			method := r.Method
			if !knownMethods[method] {
				method = "OTHER"
			}
			d := time.Since(start)
			s.metrics.observe(route, method, status, d)
			if s.log.Enabled(r.Context(), slog.LevelDebug) {
				s.log.LogAttrs(r.Context(), slog.LevelDebug, "request",
					slog.String("method", method), slog.String("route", route),
					slog.Int("status", status), slog.Duration("duration", d))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// handleMetrics writes the metrics in the Prometheus text format.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if !s.metricsAllowed(w, r) {
		return
	}
	var b strings.Builder
	m := s.metrics

	m.mu.Lock()
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
		fmt.Fprintf(&b, "knot_http_requests_total{route=%s,method=%s,status=\"%d\"} %d\n",
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
			fmt.Fprintf(&b, "knot_http_request_duration_seconds_bucket{route=%s,le=\"%s\"} %d\n", label(route), strconv.FormatFloat(le, 'g', -1, 64), cum)
		}
		cum += h.counts[len(durationBuckets)]
		fmt.Fprintf(&b, "knot_http_request_duration_seconds_bucket{route=%s,le=\"+Inf\"} %d\n", label(route), cum)
		fmt.Fprintf(&b, "knot_http_request_duration_seconds_sum{route=%s} %s\n", label(route), strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(&b, "knot_http_request_duration_seconds_count{route=%s} %d\n", label(route), h.count)
	}
	m.mu.Unlock()

	b.WriteString("# HELP knot_store_errors_total Store calls that failed for a reason other than the request itself (internal or unavailable).\n")
	b.WriteString("# TYPE knot_store_errors_total counter\n")
	fmt.Fprintf(&b, "knot_store_errors_total %d\n", m.storeErrors.Load())

	s.writeFleetMetrics(&b)
	writeRuntimeMetrics(&b, m.start)

	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriter(w)
	bw.WriteString(b.String())
	bw.Flush()
}

// writeFleetMetrics writes, on an origin, one series per leaf node it saw,
// and on a leaf, its view of its origin.
func (s *Server) writeFleetMetrics(b *strings.Builder) {
	if s.hub != nil {
		leaves := s.hub.Leaves()
		connected := 0
		for _, in := range leaves {
			if in.Connected {
				connected++
			}
		}
		fmt.Fprintf(b, "# HELP knot_leaves_connected Leaf nodes connected to this origin.\n# TYPE knot_leaves_connected gauge\nknot_leaves_connected %d\n", connected)
		series := []struct {
			name, help string
			value      func(in shared.LeafNode) string
		}{
			{"knot_leaf_connected", "1 while the leaf node is connected, else 0.", func(in shared.LeafNode) string { return boolGauge(in.Connected) }},
			{"knot_leaf_lag", "Revisions the leaf node is behind this origin's store.", func(in shared.LeafNode) string { return strconv.FormatInt(in.Lag, 10) }},
			{"knot_leaf_applied_revision", "The origin revision the leaf node last acknowledged.", func(in shared.LeafNode) string { return strconv.FormatInt(in.Applied, 10) }},
			{"knot_leaf_rtt_seconds", "Round trip of the last ping the leaf node answered.", func(in shared.LeafNode) string { return strconv.FormatFloat(in.RTT.Seconds(), 'g', -1, 64) }},
			{"knot_leaf_epoch_changes", "Snapshots of a new epoch this origin sent the leaf node since it started, each replacing a replica of another epoch.", func(in shared.LeafNode) string { return strconv.Itoa(in.EpochChanges) }},
			{"knot_leaf_last_seen_seconds", "When the leaf node last sent a frame or answered a ping, since the Unix epoch.", func(in shared.LeafNode) string { return strconv.FormatInt(in.LastSeen.Unix(), 10) }},
		}
		for _, sr := range series {
			fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s gauge\n", sr.name, sr.help, sr.name)
			for _, in := range leaves {
				fmt.Fprintf(b, "%s{location=%s,node=%s} %s\n", sr.name, label(leafLocationLabel(in)), label(in.NodeID), sr.value(in))
			}
		}
	}
	if s.leaf != nil {
		st := s.leaf.Uplink.ReplicaStatus(context.Background())
		fmt.Fprintf(b, "# HELP knot_origin_reachable 1 while this leaf's link to its origin is up, else 0.\n# TYPE knot_origin_reachable gauge\nknot_origin_reachable %s\n", boolGauge(st.Connected))
		fmt.Fprintf(b, "# HELP knot_replica_applied_revision The origin revision this leaf's replica holds.\n# TYPE knot_replica_applied_revision gauge\nknot_replica_applied_revision %d\n", st.Applied)
		fmt.Fprintf(b, "# HELP knot_replica_lag Revisions this leaf's replica is behind the origin, as last heard.\n# TYPE knot_replica_lag gauge\nknot_replica_lag %d\n", st.Lag)
		fmt.Fprintf(b, "# HELP knot_leaf_pending_reports Space changes the origin has not acknowledged yet.\n# TYPE knot_leaf_pending_reports gauge\nknot_leaf_pending_reports %d\n", st.PendingReports)
	}
}

func boolGauge(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

var runtimeSamples = []struct{ name, metric, help, typ string }{
	{"/sched/goroutines:goroutines", "go_goroutines", "Number of goroutines that currently exist.", "gauge"},
	{"/memory/classes/heap/objects:bytes", "go_memstats_heap_alloc_bytes", "Bytes of allocated heap objects.", "gauge"},
	{"/memory/classes/heap/objects:bytes+/memory/classes/heap/unused:bytes", "go_memstats_heap_inuse_bytes", "Bytes in in-use heap spans.", "gauge"},
	{"/memory/classes/heap/stacks:bytes", "go_memstats_stack_inuse_bytes", "Bytes in stack spans in use, the goroutine stacks.", "gauge"},
	{"/memory/classes/total:bytes", "go_memstats_sys_bytes", "Bytes of memory obtained from the OS.", "gauge"},
	{"/gc/cycles/total:gc-cycles", "go_gc_cycles_total", "Completed GC cycles.", "counter"},
	{"/gc/heap/live:bytes", "go_gc_heap_live_bytes", "Bytes of heap objects found live by the last GC cycle.", "gauge"},
}

// writeRuntimeMetrics writes the Go runtime's metrics; a sample name of
// several runtime/metrics names joined by "+" is their sum.
func writeRuntimeMetrics(b *strings.Builder, start time.Time) {
	var samples []rtmetrics.Sample
	for _, rs := range runtimeSamples {
		for _, n := range strings.Split(rs.name, "+") {
			samples = append(samples, rtmetrics.Sample{Name: n})
		}
	}
	rtmetrics.Read(samples)
	i := 0
	for _, rs := range runtimeSamples {
		var v uint64
		ok := true
		for range strings.Split(rs.name, "+") {
			switch samples[i].Value.Kind() {
			case rtmetrics.KindUint64:
				v += samples[i].Value.Uint64()
			case rtmetrics.KindFloat64:
				v += uint64(samples[i].Value.Float64())
			default:
				ok = false
			}
			i++
		}
		if ok {
			fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", rs.metric, rs.help, rs.metric, rs.typ, rs.metric, v)
		}
	}
	if rss, ok := residentBytes(); ok {
		fmt.Fprintf(b, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %d\n", rss)
	}
	fmt.Fprintf(b, "# HELP go_info Information about the Go environment.\n# TYPE go_info gauge\ngo_info{version=%s} 1\n", label(goruntime.Version()))
	fmt.Fprintf(b, "# HELP process_start_time_seconds Start time of the process since the Unix epoch in seconds.\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %d\n", start.Unix())
}

// label quotes a Prometheus label value.
func label(v string) string { return `"` + labelEscaper.Replace(v) + `"` }

// labelEscaper escapes a label value. It is built once: building a
// strings.Replacer costs far more than using one, and a scrape of an origin
// labels each of its leaves.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// countingStore counts the store's own failures (EINTERNAL, EUNAVAILABLE)
// for knot_store_errors_total. Errors about the request itself (not found,
// conflict, invalid) are not counted.
//
// It also calls wrote after every successful write, with the kind written
// ("" for an audit event), so that the origin's hub and the leaf's uplink
// hear of every write made through the server.
type countingStore struct {
	storage.Store
	m     *metrics
	wrote func(shared.Kind)
}

func (c *countingStore) count(err error) error {
	switch shared.ErrorCode(err) {
	case shared.EINTERNAL, shared.EUNAVAILABLE:
		c.m.storeErrors.Add(1)
	}
	return err
}

func (c *countingStore) Put(ctx context.Context, rec shared.Record) error {
	err := c.count(c.Store.Put(ctx, rec))
	if err == nil {
		c.wrote(rec.RecordKind())
	}
	return err
}

func (c *countingStore) Delete(ctx context.Context, kind shared.Kind, id string) (int64, error) {
	rev, err := c.Store.Delete(ctx, kind, id)
	if err == nil {
		c.wrote(kind)
	}
	return rev, c.count(err)
}

func (c *countingStore) Get(ctx context.Context, kind shared.Kind, id string) (shared.Change, error) {
	ch, err := c.Store.Get(ctx, kind, id)
	return ch, c.count(err)
}

func (c *countingStore) Lookup(ctx context.Context, kind shared.Kind, key string) (shared.Change, error) {
	ch, err := c.Store.Lookup(ctx, kind, key)
	return ch, c.count(err)
}

func (c *countingStore) List(ctx context.Context, kind shared.Kind) ([]shared.Change, error) {
	cs, err := c.Store.List(ctx, kind)
	return cs, c.count(err)
}

func (c *countingStore) Head(ctx context.Context) (storage.Head, error) {
	h, err := c.Store.Head(ctx)
	return h, c.count(err)
}

func (c *countingStore) Replica(ctx context.Context) (string, int64, error) {
	e, a, err := c.Store.Replica(ctx)
	return e, a, c.count(err)
}

func (c *countingStore) AppendAudit(ctx context.Context, ev *shared.AuditEvent) error {
	err := c.count(c.Store.AppendAudit(ctx, ev))
	if err == nil {
		c.wrote("")
	}
	return err
}

func (c *countingStore) ListAudit(ctx context.Context, offset, limit int) ([]shared.AuditEvent, int, error) {
	evs, n, err := c.Store.ListAudit(ctx, offset, limit)
	return evs, n, c.count(err)
}

func (c *countingStore) Ping(ctx context.Context) error { return c.count(c.Store.Ping(ctx)) }
