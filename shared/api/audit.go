package api

import "time"

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
