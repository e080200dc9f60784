package shared

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Only the web layer maps them to HTTP statuses.
const (
	EINVALID      = "invalid"      // the request is malformed or a value is out of range
	ENOTFOUND     = "not_found"    // the record does not exist or the caller may not see it
	ECONFLICT     = "conflict"     // a unique name is taken, or the record changed meanwhile
	EUNAUTHORIZED = "unauthorized" // no valid credential
	EFORBIDDEN    = "forbidden"    // a valid credential without the needed permission
	ELOCKED       = "locked"       // the record is in a state that forbids the change
	EQUOTA        = "quota"        // a quota would be exceeded
	ETOOLARGE     = "too_large"    // the body or a value is over its size limit
	EMEDIATYPE    = "media_type"   // the body is not of a type the endpoint accepts
	ERATELIMIT    = "rate_limited" // too many attempts; try later
	EUNAVAILABLE  = "unavailable"  // a dependency (origin, runtime, store) cannot be reached
	ENOSPACE      = "no_space"     // the store's disk is (nearly) full: writes are refused
	EINTERNAL     = "internal"     // anything else; the message is not shown to clients
)

// Error is an application error with a code and a message that is safe to show
// to the user. Cause, when set, keeps the underlying error for logs.
type Error struct {
	Code    string
	Message string
	Cause   error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Cause)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the given code that keeps cause for logs.
func Wrap(code string, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Cause: cause}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err: the message of its
// *Error, or "internal error" for anything else.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// RetryError is an error that says when to try again, which HTTP sends as
// Retry-After: a login limit's ERATELIMIT, or a refusal of the origin
// that a leaf passes on.
type RetryError struct {
	Err   error
	After time.Duration
}

func (e *RetryError) Error() string             { return e.Err.Error() }
func (e *RetryError) Unwrap() error             { return e.Err }
func (e *RetryError) RetryAfter() time.Duration { return e.After }
