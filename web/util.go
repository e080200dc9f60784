package web

import (
	"context"
	"hash/fnv"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/knot-dev/knot/shared"
)

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

func nameTaken(kind, name string) error {
	return shared.Errorf(shared.ECONFLICT, "a %s named %s already exists", kind, quote(name))
}

// validLocation reports whether s is a valid location of either namespace
// (see shared.RestrictedLocationPrefix).
func validLocation(s string) bool { return shared.ValidLocation(s) }

func checkLocation(field, s string) error { return shared.CheckLocation(field, s) }

// checkText is shared.CheckText.
func checkText(field, s string, max int) error { return shared.CheckText(field, s, max) }

// checkName is shared.CheckName with the value shortened in the message.
func checkName(field, s string) error {
	if !shared.ValidName(s) {
		return invalid("%s %s is invalid: it must start with a letter, hold 2 to 64 letters, digits or dashes, and not contain \"--\"", field, quote(s))
	}
	return nil
}

// keyedMutex serializes work per key with a fixed set of stripes.
type keyedMutex struct {
	stripes [64]sync.Mutex
}

func (k *keyedMutex) lock(key string) func() {
	h := fnv.New32a()
	h.Write([]byte(key))
	m := &k.stripes[h.Sum32()%uint32(len(k.stripes))]
	m.Lock()
	return m.Unlock
}

// dedupe is shared.Distinct.
func dedupe(ids []string) []string { return shared.Distinct(ids) }

// update reads a record with get, changes it with change and writes it with
// compare-and-set, retrying when the record changed meanwhile. change may
// return an error to abort; it is called again on each retry.
func update[T any, P interface {
	*T
	shared.Record
}](ctx context.Context, s *Server, get func() (P, error), change func(P) error) (P, error) {
	for attempt := 0; ; attempt++ {
		rec, err := get()
		if err != nil {
			return nil, err
		}
		if err := change(rec); err != nil {
			return nil, err
		}
		err = s.store.Put(ctx, rec)
		if err == nil {
			return rec, nil
		}
		if !isCode(err, shared.ECONFLICT) || attempt >= 4 {
			return nil, err
		}
		// A conflict is either a unique key held by another record or a
		// concurrent write to this one; only the latter is worth a retry.
		cur, gerr := get()
		if gerr != nil {
			return nil, gerr
		}
		if cur.GetRevision() == rec.GetRevision() {
			return nil, err
		}
	}
}
