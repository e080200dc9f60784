package origin

import (
	"container/list"
	"context"
	"strconv"
	"sync"

	"github.com/knot-dev/knot/storage"
)

// The bounds of the audit index: the leaf stores it keeps a position for,
// per location and in all. The least recently reported are forgotten
// first; a forgotten store's events that a leaf sends again are then
// stored again (at least once still holds).
const (
	maxAuditStoresPerLocation = 8
	maxAuditStores            = 20000
)

// auditIndex holds, per location and leaf store, the highest leaf audit id
// the origin stored. It reads the newest auditScanLimit events of the
// audit log once, at its first use, and from then on learns of every event
// the hub stores: what an audit report costs does not grow with the number
// of stores the origin has seen. Its methods are safe for concurrent use.
type auditIndex struct {
	loadMu sync.Mutex // held while the audit log is read
	mu     sync.Mutex
	loaded bool                        // guarded by mu
	byKey  map[auditKey]*auditPosition // guarded by mu
	lru    list.List                   // guarded by mu: of *auditPosition, least recently set first
	byLoc  map[string]*list.List       // guarded by mu: the same, by location
}

type auditPosition struct {
	key     auditKey
	upto    int64
	inLRU   *list.Element
	inByLoc *list.Element
}

// load reads the audit log once; after an error it tries again at the
// next call.
func (x *auditIndex) load(ctx context.Context, st storage.Store) error {
	x.mu.Lock()
	loaded := x.loaded
	x.mu.Unlock()
	if loaded {
		return nil
	}
	x.loadMu.Lock()
	defer x.loadMu.Unlock()
	x.mu.Lock()
	loaded = x.loaded
	x.mu.Unlock()
	if loaded {
		return nil
	}
	type found struct {
		key  auditKey
		upto int64
	}
	var seen []found // newest first
	at := map[auditKey]int{}
	const page = 1000
	for off := 0; off < auditScanLimit; off += page {
		evs, _, err := st.ListAudit(ctx, off, page)
		if err != nil {
			return err
		}
		for _, e := range evs {
			store := e.Properties[PropLeafStore]
			if store == "" {
				continue
			}
			id, err := strconv.ParseInt(e.Properties[PropLeafEventID], 10, 64)
			if err != nil {
				continue
			}
			k := auditKey{e.Location, store}
			if i, ok := at[k]; ok {
				seen[i].upto = max(seen[i].upto, id)
				continue
			}
			at[k] = len(seen)
			seen = append(seen, found{k, id})
		}
		if len(evs) < page {
			break
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := len(seen) - 1; i >= 0; i-- { // the most recent last
		x.setLocked(seen[i].key, seen[i].upto)
	}
	x.loaded = true
	return nil
}

// get returns the highest id stored of the key's store, 0 if none.
func (x *auditIndex) get(key auditKey) int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	if p := x.byKey[key]; p != nil {
		return p.upto
	}
	return 0
}

// set records that the events of key's store up to upto are stored.
func (x *auditIndex) set(key auditKey, upto int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.setLocked(key, upto)
}

func (x *auditIndex) setLocked(key auditKey, upto int64) {
	if x.byKey == nil {
		x.byKey, x.byLoc = map[auditKey]*auditPosition{}, map[string]*list.List{}
	}
	if p := x.byKey[key]; p != nil {
		p.upto = max(p.upto, upto)
		x.lru.MoveToBack(p.inLRU)
		x.byLoc[key.location].MoveToBack(p.inByLoc)
		return
	}
	p := &auditPosition{key: key, upto: upto}
	x.byKey[key] = p
	p.inLRU = x.lru.PushBack(p)
	l := x.byLoc[key.location]
	if l == nil {
		l = list.New()
		x.byLoc[key.location] = l
	}
	p.inByLoc = l.PushBack(p)
	for l.Len() > maxAuditStoresPerLocation {
		x.drop(l.Front().Value.(*auditPosition))
	}
	for x.lru.Len() > maxAuditStores {
		x.drop(x.lru.Front().Value.(*auditPosition))
	}
}

func (x *auditIndex) drop(p *auditPosition) {
	delete(x.byKey, p.key)
	x.lru.Remove(p.inLRU)
	l := x.byLoc[p.key.location]
	l.Remove(p.inByLoc)
	if l.Len() == 0 {
		delete(x.byLoc, p.key.location)
	}
}

// len returns how many stores the index holds a position for.
func (x *auditIndex) len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.byKey)
}
