package api

import (
	"time"

	"github.com/knot-dev/knot/shared"
)

// Session is one of the caller's own login sessions at this server, in the
// answer of GET /api/sessions. Its session_id is a public id: no secret,
// nor the id the server authenticates by.
type Session struct {
	ID         string    `json:"session_id"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	// Current is set on the session the request was made with.
	Current bool `json:"current"`
}

// NewSessions returns sessions as GET /api/sessions shows them, the one
// with the id current marked.
func NewSessions(sessions []*shared.SessionInfo, current string) []Session {
	return mapped(sessions, func(se *shared.SessionInfo) Session {
		return Session{ID: se.ID, IP: se.IP, UserAgent: se.UserAgent, CreatedAt: se.CreatedAt,
			LastUsedAt: se.LastUsedAt, ExpiresAt: se.ExpiresAt, Current: current != "" && se.SessionID == current}
	})
}
