package client

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// codeOf maps an HTTP status back to the code web maps to it. A status
// that two codes share (507: EQUOTA and ENOSPACE) maps to the one a caller
// can act on.
var codeOf = map[int]string{
	http.StatusBadRequest:            shared.EINVALID,
	http.StatusUnauthorized:          shared.EUNAUTHORIZED,
	http.StatusForbidden:             shared.EFORBIDDEN,
	http.StatusNotFound:              shared.ENOTFOUND,
	http.StatusMethodNotAllowed:      shared.EINVALID,
	http.StatusConflict:              shared.ECONFLICT,
	http.StatusRequestEntityTooLarge: shared.ETOOLARGE,
	http.StatusUnsupportedMediaType:  shared.EMEDIATYPE,
	http.StatusLocked:                shared.ELOCKED,
	http.StatusTooManyRequests:       shared.ERATELIMIT,
	http.StatusServiceUnavailable:    shared.EUNAVAILABLE,
	http.StatusBadGateway:            shared.EUNAVAILABLE,
	http.StatusGatewayTimeout:        shared.EUNAVAILABLE,
	http.StatusInsufficientStorage:   shared.EQUOTA,
	http.StatusInternalServerError:   shared.EINTERNAL,
}

// ResponseError is an answer with a status of 400 or more. It unwraps to
// the *shared.Error of its code and the server's message.
type ResponseError struct {
	StatusCode int
	Header     http.Header
	Body       []byte // the whole answer, for fields beyond "error"
	// RetryAfter is the wait a 429 or 503 asked for in its Retry-After
	// header; 0 when it gave none.
	RetryAfter time.Duration
	Err        *shared.Error
}

// CodeOf returns the error code of an answer with status: the code web
// answers status for, EINVALID for another 4xx and EINTERNAL for another
// 5xx.
func CodeOf(status int) string {
	if code, ok := codeOf[status]; ok {
		return code
	}
	if status < 500 {
		return shared.EINVALID
	}
	return shared.EINTERNAL
}

func newResponseError(resp *http.Response, body []byte) *ResponseError {
	e := &ResponseError{StatusCode: resp.StatusCode, Header: resp.Header, Body: body,
		Err: &shared.Error{Code: CodeOf(resp.StatusCode), Message: errorMessage(resp.StatusCode, body)}}
	if secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && secs >= 0 {
		e.RetryAfter = time.Duration(secs) * time.Second
	}
	return e
}

// errorMessage is the {"error": ...} of body, or a description of a body
// that carried none.
func errorMessage(status int, body []byte) string {
	var eb api.ErrorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
		return eb.Error
	}
	msg := "the server answered " + http.StatusText(status)
	if http.StatusText(status) == "" {
		msg = "the server answered an error"
	}
	if text := strings.TrimSpace(string(body)); text != "" && !strings.HasPrefix(text, "<") {
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		msg += ": " + strings.Join(strings.Fields(text), " ")
	}
	return msg
}

// Error returns the server's message and the status, as "message (HTTP
// 404)".
func (e *ResponseError) Error() string {
	return e.Err.Message + " (HTTP " + strconv.Itoa(e.StatusCode) + ")"
}

// Unwrap returns the *shared.Error of the answer.
func (e *ResponseError) Unwrap() error { return e.Err }

// StatusOf returns the HTTP status of the *ResponseError in err's chain, or
// 0.
func StatusOf(err error) int {
	var re *ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// RetryAfter returns the wait the server asked for with the answer in
// err's chain (a 429's Retry-After), or 0.
func RetryAfter(err error) time.Duration {
	var re *ResponseError
	if errors.As(err, &re) {
		return re.RetryAfter
	}
	return 0
}

// Enrolment returns the TOTP secret of a login that the server refused
// (401) until the user adds it to an authenticator app, and whether err is
// such a refusal.
func Enrolment(err error) (api.EnrolmentBody, bool) {
	var re *ResponseError
	var en api.EnrolmentBody
	if !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized {
		return en, false
	}
	if json.Unmarshal(re.Body, &en) != nil || en.TOTPSecret == "" {
		return en, false
	}
	return en, true
}

// TransportError is a request that got no answer: the server could not be
// reached, the connection broke, or the client's timeout passed. It is an
// EUNAVAILABLE *shared.Error, and it unwraps to the cause too, so that
// errors.As finds, say, a refused certificate.
type TransportError struct {
	Address string
	Err     error
	what    string // "" means "cannot reach"
}

func (e *TransportError) Error() string {
	if errors.Is(e.Err, context.DeadlineExceeded) || isTimeout(e.Err) {
		return e.Address + " did not answer in time"
	}
	what := e.what
	if what == "" {
		what = "cannot reach"
	}
	return what + " " + e.Address + ": " + shortCause(e.Err).Error()
}

// Unwrap returns the EUNAVAILABLE *shared.Error and the cause.
func (e *TransportError) Unwrap() []error {
	return []error{&shared.Error{Code: shared.EUNAVAILABLE, Message: e.Error()}, e.Err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// shortCause drops the "Get "http://...":" prefix of a *url.Error, which
// repeats the address, and the "dial tcp ...:" of a *net.OpError.
func shortCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		// "dial tcp 127.0.0.1:1: connect: connection refused" → "connection refused"
		var se interface{ Unwrap() error }
		if errors.As(oe.Err, &se) && se.Unwrap() != nil {
			return se.Unwrap()
		}
		return oe.Err
	}
	return err
}
