package web

import (
	"net/http"

	"github.com/knot-dev/knot/origin"
)

// The login limits and the bound on password hashing are the server's
// origin.Logins, which the auth service and every other password check
// share (see package origin, loginlimit.go).

// passwordAttempt is one password check let through the login limits.
type passwordAttempt struct{ a *origin.PasswordAttempt }

func (p passwordAttempt) check(hash, password string) bool { return p.a.Check(hash, password) }
func (p passwordAttempt) succeed()                         { p.a.Succeed() }
func (p passwordAttempt) end()                             { p.a.End() }

// beginPasswordCheck admits one check of a password for the account with
// email, from r's address, as origin.Logins.Begin does; the first refusal
// of each limit in a window is recorded in the audit log.
func (s *Server) beginPasswordCheck(r *http.Request, email string) (passwordAttempt, error) {
	a, err := s.logins.Begin(r.Context(), email, clientIP(r), func(f origin.Refusal) {
		ev := f.AuditEvent(email)
		s.auditAs(r, ev.Actor, "", ev.Event, ev.Details, ev.Properties)
	})
	return passwordAttempt{a}, err
}
