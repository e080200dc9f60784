package web

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// statusOf maps error codes to HTTP statuses. This is the only place in knot
// that does so.
var statusOf = map[string]int{
	shared.EINVALID:      http.StatusBadRequest,
	shared.EUNAUTHORIZED: http.StatusUnauthorized,
	shared.EFORBIDDEN:    http.StatusForbidden,
	shared.ENOTFOUND:     http.StatusNotFound,
	shared.ECONFLICT:     http.StatusConflict,
	shared.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	shared.EMEDIATYPE:    http.StatusUnsupportedMediaType,
	shared.ELOCKED:       http.StatusLocked,
	shared.ERATELIMIT:    http.StatusTooManyRequests,
	shared.EUNAVAILABLE:  http.StatusServiceUnavailable,
	shared.EQUOTA:        http.StatusInsufficientStorage,
	shared.ENOSPACE:      http.StatusInsufficientStorage,
	shared.EINTERNAL:     http.StatusInternalServerError,
}

// httpStatus returns the status of err's code; 500 for an error without a
// known code.
func httpStatus(err error) int {
	if status, ok := statusOf[shared.ErrorCode(err)]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// writeError writes err as {"error": message} with the status of its code.
// Internal errors are logged with their cause and shown as "internal error".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := httpStatus(err)
	msg := shared.ErrorMessage(err)
	switch {
	case status == http.StatusInternalServerError:
		s.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error"
	case status == http.StatusServiceUnavailable:
		s.log.ErrorContext(r.Context(), "dependency unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		secs := int(math.Ceil(ra.RetryAfter().Seconds()))
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	writeJSON(w, status, api.ErrorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Every response type marshals; this is a last resort.
		b = []byte(`{"error":"internal error"}`)
		status = http.StatusInternalServerError
	}
	writeRaw(w, status, append(b, '\n'))
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(body)
}

var okResp = api.OK{Status: true}

func invalid(format string, args ...any) error {
	return shared.Errorf(shared.EINVALID, format, args...)
}
func forbidden(format string, args ...any) error {
	return shared.Errorf(shared.EFORBIDDEN, format, args...)
}
func notFound(format string, args ...any) error {
	return shared.Errorf(shared.ENOTFOUND, format, args...)
}

func isCode(err error, code string) bool { return err != nil && shared.ErrorCode(err) == code }

// quote is shared.Quote: a value quoted for a message, shortened when long.
var quote = shared.Quote
