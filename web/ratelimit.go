package web

import (
	"net/http"

	"github.com/knot-dev/knot/origin"
)

// beginPasswordCheck admits one check of a password for the account with
// email, from r's address, as origin.Logins.Begin does (the login limits
// and the bound on password hashing that the auth service shares); the
// first refusal of each limit in a window is recorded in the audit log.
func (s *Server) beginPasswordCheck(r *http.Request, email string) (*origin.PasswordAttempt, error) {
	return s.logins.Begin(r.Context(), email, clientIP(r), func(f origin.Refusal) {
		ev := f.AuditEvent(email)
		s.auditAs(r, ev.Actor, "", ev.Event, ev.Details, ev.Properties)
	})
}
