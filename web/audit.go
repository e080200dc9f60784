package web

import (
	"net/http"
	"strconv"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// audit records an event done by p.
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

// handleAuditLogs serves GET /api/audit-logs?start=&max_items=&q=&location=:
// events newest first; count is the total number of events (that the
// query and location select).
func (s *Server) handleAuditLogs(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := r.URL.Query()
	start, err := intParam(q.Get("start"), "start", 0, 0, 1<<31)
	if err != nil {
		return err
	}
	maxName, maxVal := "max_items", q.Get("max_items")
	if maxVal == "" && q.Get("max-items") != "" {
		maxName, maxVal = "max-items", q.Get("max-items")
	}
	limit, err := intParam(maxVal, maxName, 10, 1, shared.MaxAuditPage)
	if err != nil {
		return err
	}
	page, err := s.audits.List(r.Context(), shared.ListOptions{Offset: start, Limit: limit,
		Query: q.Get("q"), Location: q.Get("location"), Sort: q.Get("sort")})
	if err != nil {
		return err
	}
	out := api.AuditList{Count: page.Total, Items: make([]api.AuditEntry, 0, len(page.Items))}
	for _, e := range page.Items {
		out.Items = append(out.Items, api.AuditEntry{
			ID: e.ID, When: e.At, Actor: e.Actor, ActorType: e.ActorType, Event: e.Event,
			Details: e.Details, Location: e.Location, Properties: e.Properties,
		})
	}
	writeTaggedJSON(w, r, out)
	return nil
}

// intParam parses a query parameter: def when empty, else a whole number in
// [lo, hi].
func intParam(v, name string, def, lo, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, invalid("query parameter %s must be a whole number from %d to %d, not %q", name, lo, hi, v)
	}
	return n, nil
}
