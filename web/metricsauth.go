package web

import (
	"net/http"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
)

// Who reads /metrics. With server.metrics_token set, it answers only
// requests with "Authorization: Bearer <token>" (401 for the others); the
// token is kept as its hash and compared in constant time. Its labels name
// no user (see origin.Hub.Metrics).

// metricsHash returns the hash of a metrics token, "" for none.
func metricsHash(token string) string {
	if token == "" {
		return ""
	}
	return crypt.HashToken(token)
}

// metricsAllowed writes a 401 and returns false unless r may read
// /metrics.
func (s *Server) metricsAllowed(w http.ResponseWriter, r *http.Request) bool {
	if s.metricsHash == "" || crypt.Equal(crypt.HashToken(bearer(r)), s.metricsHash) {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="knot metrics"`)
	s.writeError(w, r, shared.Errorf(shared.EUNAUTHORIZED, "GET /metrics needs Authorization: Bearer <token>, the token of server.metrics_token"))
	return false
}
