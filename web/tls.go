package web

import (
	"net"
	"net/http"
)

// hstsValue is the Strict-Transport-Security header of answers over TLS:
// browsers use https for this host for a year. It leaves out
// includeSubDomains, since the spaces' web ports may be served on
// subdomains (server.wildcard_domain) that this server does not control.
// Browsers ignore the header on a connection whose certificate they do
// not accept, so a self-signed certificate does not lock anyone out.
const hstsValue = "max-age=31536000"

// withHSTS sets Strict-Transport-Security on every answer to a request
// that came over TLS, and on no other.
func withHSTS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("Strict-Transport-Security", hstsValue)
		}
		next.ServeHTTP(w, r)
	})
}

// serve serves srv on ln: over TLS with srv.TLSConfig when the server has
// one, else plain HTTP.
func (s *Server) serve(srv *http.Server, ln net.Listener) error {
	if s.tls != nil {
		return srv.ServeTLS(ln, "", "")
	}
	return srv.Serve(ln)
}
