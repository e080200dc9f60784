package web

import (
	"context"
	"hash/fnv"
	"sync"

	"github.com/knot-dev/knot/shared"
)

// quote, nameTaken, checkName, checkQuotas, setIf and sameSet are shared's,
// which origin uses too.
var (
	quote       = shared.Quote
	nameTaken   = shared.NameTaken
	checkName   = shared.CheckName
	checkQuotas = shared.CheckQuotas
	sameSet     = shared.SameSet
	checkText   = shared.CheckText
	dedupe      = shared.Distinct
)

func setIf[T any](dst, src *T) { shared.SetIf(dst, src) }

// validLocation reports whether s is a valid location of either namespace
// (see shared.RestrictedLocationPrefix).
func validLocation(s string) bool { return shared.ValidLocation(s) }

func checkLocation(field, s string) error { return shared.CheckLocation(field, s) }

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
