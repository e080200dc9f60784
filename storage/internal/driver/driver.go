// Package driver holds what the storage drivers share beneath the
// storage.Store contract: the guard that fails every call after Close, the
// checks of a Put's revision and of a batch's changes, and the first steps
// of turning a backend's errors into coded ones. Each driver keeps what is
// its own backend's.
package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"

	"github.com/knot-dev/knot/shared"
)

// Life guards a store against use after Close: every method enters it,
// and Close waits until the methods inside have left. The zero value is an
// open store.
type Life struct {
	mu     sync.RWMutex // held for reading by every method, for writing by Close
	closed bool         // guarded by mu
}

// Enter checks that the store is open and that kind, unless empty, is
// known: EUNAVAILABLE after Close, EINVALID for an unknown kind. On success
// the caller must call Exit when it is done.
func (l *Life) Enter(kind shared.Kind) error {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return shared.Errorf(shared.EUNAVAILABLE, "the store is closed")
	}
	if kind != "" && !kind.Valid() {
		l.mu.RUnlock()
		return shared.Errorf(shared.EINVALID, "unknown record kind %q", kind)
	}
	return nil
}

// Exit ends what Enter began.
func (l *Life) Exit() { l.mu.RUnlock() }

// Close marks the store closed and calls release once no method is inside;
// a second Close returns nil and does not call release.
func (l *Life) Close(release func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	return release()
}

// CheckRevision says whether a Put of the record of kind and id that
// expects revision want may go ahead, given that the stored record has
// revision cur when it exists (see storage.Store.Put).
func CheckRevision(kind shared.Kind, id string, want, cur int64, exists bool) error {
	switch {
	case want == 0 && exists:
		return shared.Errorf(shared.ECONFLICT, "%s %s already exists", kind, id)
	case want != 0 && !exists:
		return shared.Errorf(shared.ENOTFOUND, "%s %s not found", kind, id)
	case want != 0 && cur != want:
		return shared.Errorf(shared.ECONFLICT, "%s %s was changed meanwhile (revision %d, not %d)", kind, id, cur, want)
	}
	return nil
}

// CheckChange checks change i of a batch as storage.Store.Apply demands and
// returns the unique keys of its record (none for a tombstone). Errors name
// the change.
func CheckChange(i int, c shared.Change) ([]string, error) {
	if !c.Kind.Valid() {
		return nil, shared.Errorf(shared.EINVALID, "change %d: unknown record kind %q", i, c.Kind)
	}
	if c.ID == "" {
		return nil, shared.Errorf(shared.EINVALID, "change %d: %s has no id", i, c.Kind)
	}
	if c.Deleted {
		return nil, nil
	}
	keys, err := shared.UniqueKeysOf(c)
	if err != nil {
		var se *shared.Error
		if errors.As(err, &se) {
			return nil, shared.Wrap(se.Code, se.Cause, "change %d: %s", i, se.Message)
		}
		return nil, shared.Wrap(shared.EINVALID, err, "change %d: %s %s", i, c.Kind, c.ID)
	}
	return keys, nil
}

// EncodeAudit returns ev as JSON without its ID, for a backend that keeps
// the ID beside the event.
func EncodeAudit(ev *shared.AuditEvent) ([]byte, error) {
	e := *ev
	e.ID = 0
	data, err := json.Marshal(&e)
	if err != nil {
		return nil, shared.Wrap(shared.EINTERNAL, err, "encode an audit event")
	}
	return data, nil
}

// Fail turns err into a *shared.Error: nil stays nil, a coded error passes
// through, and anything else goes to classify with what was being done
// (format and args).
func Fail(err error, classify func(err error, what string) error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var se *shared.Error
	if errors.As(err, &se) {
		return se
	}
	return classify(err, fmt.Sprintf(format, args...))
}

// ConnectionError reports whether err means the connection to a server
// failed or the caller gave up waiting for it: a network error, a
// connection closed or refused, a cancelled context, or one of more (the
// client library's own).
func ConnectionError(err error, more ...error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	for _, target := range append([]error{
		io.EOF, io.ErrUnexpectedEOF,
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE,
		context.Canceled, context.DeadlineExceeded,
	}, more...) {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// CheckBatch checks every change of a batch with CheckChange, before any is
// written, and returns the unique keys of each.
func CheckBatch(changes []shared.Change) ([][]string, error) {
	keys := make([][]string, len(changes))
	for i, c := range changes {
		k, err := CheckChange(i, c)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	return keys, nil
}

// Unresolved is the error of a driver (named by prefix, "mysql") whose
// resolver could not turn the srv+ host into an address: EUNAVAILABLE,
// naming the host and the resolver's reason.
func Unresolved(prefix, host string, err error) error {
	reason := err.Error()
	var se *shared.Error
	if errors.As(err, &se) {
		reason = se.Message
	}
	return shared.Errorf(shared.EUNAVAILABLE, "%s: cannot resolve %s: %s", prefix, host, reason)
}

// PruneInBatches runs batch, which deletes some of the oldest audit events
// and reports how many and whether there may be more, until there are no
// more, ctx ends or batch fails; it returns how many were deleted in all.
// The error of a failed batch is returned as it is, for the driver to
// classify.
func PruneInBatches(ctx context.Context, batch func() (n int, more bool, err error)) (int, error) {
	total := 0
	for {
		n, more, err := batch()
		total += n
		if err != nil || !more {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}
