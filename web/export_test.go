package web

import (
	"time"

	"github.com/knot-dev/knot/origin"
)

// SetPasswordCheck replaces how s checks passwords: at most slots at once,
// waiting up to wait for a free one, with check (given an empty hash for an
// unknown account). For tests that count checks or hold them.
func SetPasswordCheck(s *Server, slots int, wait time.Duration, check func(hash, password string) bool) {
	s.logins = origin.NewLogins(origin.LoginsOptions{Now: s.now, Slots: slots, Wait: wait, Check: check})
	s.auth = s.authService()
}

// CheckPasswordOrBurn is the password check servers use.
func CheckPasswordOrBurn(hash, password string) bool {
	return origin.CheckPasswordOrBurn(hash, password)
}

// SetAuditPruneEvery sets how often s prunes the audit log while it runs.
func SetAuditPruneEvery(s *Server, d time.Duration) { s.auditPruneEvery = d }
