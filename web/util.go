package web

import (
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
