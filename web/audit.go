package web

import (
	"net/http"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

func (s *Server) audit(r *http.Request, p *principal, event, details string, props map[string]string) {
	s.auditAs(r, p.user.Username, p.user.ID, event, details, props)
}

// auditAs records an event done by actor (a username, or the email given at
// a failed login). Failures to record are logged, not returned: the write the
// event describes has already happened.
func (s *Server) auditAs(r *http.Request, actor, userID, event, details string, props map[string]string) {
	props = shared.CallerProps(callerOf(r), props)
	if userID != "" {
		props["user_id"] = userID
	}
	ev := &shared.AuditEvent{Actor: actor, Event: event, Details: details, Properties: props}
	if err := s.audits.Record(r.Context(), ev); err != nil {
		s.log.ErrorContext(r.Context(), "append audit event", "event", event, "err", err)
	}
}

// handleAuditLogs serves GET /api/audit-logs: events newest first; count
// is the total number of events (that the query and location select).
func (s *Server) handleAuditLogs(r *http.Request, _ *principal) (api.AuditList, error) {
	o, err := api.AuditQuery(r.URL.Query())
	if err != nil {
		return api.AuditList{}, err
	}
	page, err := s.audits.List(r.Context(), o)
	return api.NewAuditList(page), err
}
