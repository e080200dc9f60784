package web

import (
	"bytes"
	"io"
	"net/http"
	"time"
)

// DecodeJSON runs the request body decoder on body, with the body limit of
// the API, for black-box tests.
func DecodeJSON(body []byte, v any) error {
	return decodeJSON(http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(body)), maxBody), v)
}

// SetPasswordCheck replaces how s checks passwords: at most slots at once,
// waiting up to wait for a free one, with check (given an empty hash for an
// unknown account). For tests that count checks or hold them.
func SetPasswordCheck(s *Server, slots int, wait time.Duration, check func(hash, password string) bool) {
	s.passwords = &passwordChecks{slots: make(chan struct{}, slots), wait: wait, check: check}
}

// CheckPasswordOrBurn is the password check servers use.
func CheckPasswordOrBurn(hash, password string) bool { return checkOrBurn(hash, password) }

// SetAuditPruneEvery sets how often s prunes the audit log while it runs.
func SetAuditPruneEvery(s *Server, d time.Duration) { s.auditPruneEvery = d }
