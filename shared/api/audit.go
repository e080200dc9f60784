package api

import (
	"time"

	"github.com/knot-dev/knot/shared"
)

// AuditEntry is one audit event.
type AuditEntry struct {
	ID         int64             `json:"audit_log_id"`
	When       time.Time         `json:"when"`
	Actor      string            `json:"actor"`
	ActorType  string            `json:"actor_type"`
	Event      string            `json:"event"`
	Details    string            `json:"details"`
	Location   string            `json:"location"`
	Properties map[string]string `json:"properties"`
}

// AuditList is the answer of GET /api/audit-logs: a page of events, newest
// first, and the total count.
type AuditList struct {
	Count int          `json:"count"`
	Items []AuditEntry `json:"items"`
}

// NewAuditList returns the answer of GET /api/audit-logs for the page p.
func NewAuditList(p shared.Page[shared.AuditEvent]) AuditList {
	return AuditList{Count: p.Total, Items: mapped(p.Items, func(e shared.AuditEvent) AuditEntry {
		return AuditEntry{ID: e.ID, When: e.At, Actor: e.Actor, ActorType: e.ActorType, Event: e.Event,
			Details: e.Details, Location: e.Location, Properties: e.Properties}
	})}
}
