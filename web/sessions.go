package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
)

// authService returns the auth service of the server: the origin's over
// its store or, on a leaf, the leaf's, which checks logins over the replica
// and opens a session at the origin too (leaf.Origin). Sessions last as
// Options.SessionMaxAge says (package origin).
func (s *Server) authService() shared.AuthService {
	opts := origin.AuthOptions{Now: s.now, Logins: s.logins, SessionMaxAge: s.sessionMaxAge, Sealer: s.sealer,
		TOTP: s.totp, Audit: s.auditEvent, Logger: s.log}
	if s.leaf == nil {
		return origin.NewAuthService(s.store, opts)
	}
	opts.OriginURL = s.leaf.OriginURL
	return leaf.NewAuthService(leaf.AuthOptions{
		Local: origin.NewAuthService(s.store, opts),
		OriginLogin: func(ctx context.Context, id string, req shared.LoginRequest) {
			s.origin.Login(ctx, id, req.Email, req.Password, req.TOTPCode)
		},
		OriginLogout: s.origin.Logout,
	})
}

type auditRequestKey struct{}

// withRequest returns the context of r, which carries r for the audit
// events the call records (auditEvent).
func withRequest(r *http.Request) context.Context {
	return context.WithValue(r.Context(), auditRequestKey{}, r)
}

// auditEvent records ev, made by a service, with the client of the request
// in ctx (withRequest).
func (s *Server) auditEvent(ctx context.Context, ev *shared.AuditEvent) {
	r, _ := ctx.Value(auditRequestKey{}).(*http.Request)
	if r == nil {
		r = (&http.Request{Header: http.Header{}}).WithContext(ctx)
	}
	s.auditAs(r, ev.Actor, "", ev.Event, ev.Details, ev.Properties)
}

// secureCookies reports whether session cookies are marked Secure: when the
// request came over TLS, or the server's public URL is https (a proxy in
// front of it ends TLS).
func (s *Server) secureCookies(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.url, "https://")
}
