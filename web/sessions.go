package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/knot-dev/knot/shared"
)

// withRequest returns the context of r with its caller, whom the audit
// events the call records name (shared.CallerFrom).
func withRequest(r *http.Request) context.Context {
	return shared.NewContextWithCaller(r.Context(), callerOf(r))
}

// secureCookies reports whether session cookies are marked Secure: when the
// request came over TLS, or the server's public URL is https (a proxy in
// front of it ends TLS).
func (s *Server) secureCookies(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.o.URL, "https://")
}
