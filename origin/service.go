package origin

import (
	"context"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// ServiceOptions configures the services of this package.
type ServiceOptions struct {
	// Now returns the current time, for the timestamps of records; nil
	// means time.Now.
	Now func() time.Time
}

func (o ServiceOptions) now() time.Time {
	if o.Now == nil {
		return time.Now().UTC()
	}
	return o.Now().UTC()
}

// writeContext is the context of a write: it is not cancelled with the
// caller's (a client that hangs up does not cut a write short), and keeps
// its values.
func writeContext(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// quote returns s quoted for a message, shortened when long.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

func invalid(format string, args ...any) error {
	return shared.Errorf(shared.EINVALID, format, args...)
}

func forbidden(format string, args ...any) error {
	return shared.Errorf(shared.EFORBIDDEN, format, args...)
}

func isCode(err error, code string) bool { return err != nil && shared.ErrorCode(err) == code }

func nameTaken(kind, name string) error {
	return shared.Errorf(shared.ECONFLICT, "a %s named %s already exists", kind, quote(name))
}

// checkName checks a group or role name, shortening the value in the
// message.
func checkName(field, s string) error {
	if !shared.ValidName(s) {
		return invalid("%s %s is invalid: it must start with a letter, hold 2 to 64 letters, digits or dashes, and not contain \"--\"", field, quote(s))
	}
	return nil
}

// checkQuotas checks max_spaces, compute_units, storage_units and
// max_tunnels, in that order.
func checkQuotas(vals ...int) error {
	names := []string{"max_spaces", "compute_units", "storage_units", "max_tunnels"}
	for i, v := range vals {
		if v < 0 || v > 1_000_000 {
			return invalid("%s must be from 0 to 1000000, not %d", names[i], v)
		}
	}
	return nil
}

func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

func newID() string { return shared.NewID() }

// get returns the record of type T with id, or the ENOTFOUND error what
// gives.
func get[T any, P storage.RecordPtr[T]](ctx context.Context, r storage.Reader, id string, what func() error) (P, error) {
	rec, err := storage.Get[T, P](ctx, r, id)
	if isCode(err, shared.ENOTFOUND) {
		return nil, what()
	}
	return rec, err
}
