package web

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/metrics"
)

// instrument counts and times every request by chi route pattern, logs one
// debug line per request, and turns a panic into a logged 500.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				buf := make([]byte, 16<<10)
				buf = buf[:goruntime.Stack(buf, false)]
				s.log.ErrorContext(r.Context(), "panic while serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(buf))
				if sw.Status() == 0 {
					writeJSON(sw, http.StatusInternalServerError, api.ErrorBody{Error: "internal error"})
				}
			}
			status := cmp.Or(sw.Status(), http.StatusOK)
			d := time.Since(start)
			route, method := s.metrics.Observe(chi.RouteContext(r.Context()).RoutePattern(), r.Method, status, d)
			if s.log.Enabled(r.Context(), slog.LevelDebug) {
				s.log.LogAttrs(r.Context(), slog.LevelDebug, "request",
					slog.String("method", method), slog.String("route", route),
					slog.Int("status", status), slog.Duration("duration", d))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// handleMetrics writes the metrics in the Prometheus text format. With
// server.metrics_token set, it answers only requests with "Authorization:
// Bearer <token>" (401 for the others), compared in constant time. Its
// labels name no user (see origin.Hub.Metrics).
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if t := s.o.MetricsToken; t != "" && !crypt.Equal(crypt.HashToken(bearer(r)), crypt.HashToken(t)) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="knot metrics"`)
		s.writeError(w, r, shared.Errorf(shared.EUNAUTHORIZED, "GET /metrics needs Authorization: Bearer <token>, the token of server.metrics_token"))
		return
	}
	var b strings.Builder
	s.metrics.Write(&b)
	var fams []metrics.Family
	if s.o.Metrics != nil {
		fams = s.o.Metrics(r.Context())
	}
	metrics.Write(&b, append(fams, metrics.Process(s.metrics.Start)...))
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, b.String())
}
