package web

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/metrics"
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

// httpMetrics holds the request counts and durations served at /metrics.
type httpMetrics struct {
	start time.Time // when the server was made, the process's start

	mu        sync.Mutex
	requests  map[requestKey]uint64 // guarded by mu
	durations map[string]*histogram // guarded by mu: by route
}

func newHTTPMetrics() *httpMetrics {
	return &httpMetrics{
		start:     time.Now(),
		requests:  map[requestKey]uint64{},
		durations: map[string]*histogram{},
	}
}

func (m *httpMetrics) observe(route, method string, status int, d time.Duration) {
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
	s.metrics.write(&b)
	fams := s.store.Metrics()
	if s.hub != nil {
		fams = append(fams, s.hub.Metrics()...)
	}
	if s.leaf != nil {
		fams = append(fams, s.leaf.Uplink.Metrics(r.Context())...)
	}
	writeFamilies(&b, append(fams, metrics.Process(s.metrics.start)...))
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, b.String())
}

// write writes the request counts and durations.
func (m *httpMetrics) write(b *strings.Builder) {
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

// writeFamilies writes fams, collected outside web.
func writeFamilies(b *strings.Builder, fams []metrics.Family) {
	for _, f := range fams {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", f.Name, f.Help, f.Name, f.Type)
		for _, sm := range f.Samples {
			b.WriteString(f.Name)
			sep := "{"
			for _, l := range sm.Labels {
				b.WriteString(sep + l.Name + "=" + label(l.Value))
				sep = ","
			}
			if sep == "," {
				b.WriteString("}")
			}
			b.WriteString(" " + value(sm.Value) + "\n")
		}
	}
}

// value formats a sample's value: a whole number as an integer, any other
// in the shortest form that reads back the same.
func value(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1<<63 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// label quotes a Prometheus label value.
func label(v string) string { return `"` + labelEscaper.Replace(v) + `"` }

// labelEscaper escapes a label value. It is built once: building a
// strings.Replacer costs far more than using one, and a scrape of an origin
// labels each of its leaves.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
