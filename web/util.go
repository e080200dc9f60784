package web

import (
	"time"

	"github.com/knot-dev/knot/shared"
)

// quote is shared.Quote: a value quoted for a message, shortened when long.
var quote = shared.Quote

// nonNil returns s, or an empty slice for nil: the API shows [] rather
// than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// timePtr returns nil for the zero time.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
