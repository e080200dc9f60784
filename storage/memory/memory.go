// Package memory provides an in-memory storage.Store for tests and for
// throw-away servers. Nothing survives Close.
//
// One mutex guards everything. A transaction (Update) holds it from its
// first read to its commit, so it is serializable and never runs twice.
package memory

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/internal/driver"
)

var _ storage.Store = (*Store)(nil)

type feedEntry struct {
	kind    shared.Kind
	id      string
	deleted bool
}

// Store is an in-memory storage.Store. The zero value is not usable; call New.
type Store struct {
	mu       sync.Mutex
	epoch    string                                   // guarded by mu
	rev      int64                                    // guarded by mu
	horizon  int64                                    // guarded by mu
	recs     map[shared.Kind]map[string]shared.Change // guarded by mu
	uniq     map[shared.Kind]map[string]string        // guarded by mu: unique key -> id
	keys     map[shared.Kind]map[string][]string      // guarded by mu: id -> unique keys
	feed     map[int64]feedEntry                      // guarded by mu: latest revisions only
	pos      map[shared.Kind]map[string]int64         // guarded by mu: id -> its revision in feed
	repEpoch string                                   // guarded by mu
	applied  int64                                    // guarded by mu
	audit    []shared.AuditEvent                      // guarded by mu
	auditID  int64                                    // guarded by mu: the latest audit id
	closed   bool                                     // guarded by mu
}

// New returns an empty store with a new epoch.
func New() *Store {
	s := &Store{
		epoch: uuid.NewString(),
		recs:  map[shared.Kind]map[string]shared.Change{},
		uniq:  map[shared.Kind]map[string]string{},
		keys:  map[shared.Kind]map[string][]string{},
		feed:  map[int64]feedEntry{},
		pos:   map[shared.Kind]map[string]int64{},
	}
	for _, k := range shared.Kinds {
		s.recs[k] = map[string]shared.Change{}
		s.uniq[k] = map[string]string{}
		s.keys[k] = map[string][]string{}
		s.pos[k] = map[string]int64{}
	}
	return s
}

func (s *Store) check(kind shared.Kind) error {
	if s.closed {
		return shared.Errorf(shared.EUNAVAILABLE, "store is closed")
	}
	if !kind.Valid() {
		return shared.Errorf(shared.EINVALID, "unknown record kind %q", kind)
	}
	return nil
}

func (s *Store) Put(ctx context.Context, rec shared.Record) error {
	kind, id := rec.RecordKind(), rec.RecordID()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(kind); err != nil {
		return err
	}
	if id == "" {
		return shared.Errorf(shared.EINVALID, "%s has no id", kind)
	}
	old, exists := s.recs[kind][id]
	if err := driver.CheckRevision(kind, id, rec.GetRevision(), old.Revision, exists); err != nil {
		return err
	}
	keys := rec.UniqueKeys()
	for _, k := range keys {
		if other, ok := s.uniq[kind][k]; ok && other != id {
			return shared.Errorf(shared.ECONFLICT, "another %s already has %s", kind, k)
		}
	}
	prev := rec.GetRevision()
	rec.SetRevision(s.rev + 1)
	c, err := storage.Encode(rec)
	if err != nil {
		rec.SetRevision(prev)
		return err
	}
	s.rev++
	s.store(c, keys)
	s.feedAt(c.Revision, feedEntry{kind: kind, id: id})
	return nil
}

// feedAt moves the feed entry of e's record, or its tombstone, to rev; the
// caller holds mu.
func (s *Store) feedAt(rev int64, e feedEntry) {
	s.unfeed(e.kind, e.id)
	s.feed[rev] = e
	s.pos[e.kind][e.id] = rev
}

// unfeed removes the feed entry of a record or its tombstone; the caller
// holds mu.
func (s *Store) unfeed(kind shared.Kind, id string) {
	if r, ok := s.pos[kind][id]; ok {
		delete(s.feed, r)
		delete(s.pos[kind], id)
	}
}

// store writes c and moves its unique keys; the caller holds mu.
func (s *Store) store(c shared.Change, keys []string) {
	s.dropKeys(c.Kind, c.ID)
	s.recs[c.Kind][c.ID] = c
	for _, k := range keys {
		s.uniq[c.Kind][k] = c.ID
	}
	s.keys[c.Kind][c.ID] = keys
}

// dropKeys removes the unique keys that id still holds; the caller holds mu.
func (s *Store) dropKeys(kind shared.Kind, id string) {
	for _, k := range s.keys[kind][id] {
		if s.uniq[kind][k] == id {
			delete(s.uniq[kind], k)
		}
	}
	delete(s.keys[kind], id)
}

func (s *Store) remove(kind shared.Kind, id string) {
	s.dropKeys(kind, id)
	delete(s.recs[kind], id)
}

func (s *Store) Delete(ctx context.Context, kind shared.Kind, id string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(kind); err != nil {
		return 0, err
	}
	if _, ok := s.recs[kind][id]; !ok {
		return 0, shared.Errorf(shared.ENOTFOUND, "%s %s not found", kind, id)
	}
	s.rev++
	s.remove(kind, id)
	s.feedAt(s.rev, feedEntry{kind: kind, id: id, deleted: true})
	return s.rev, nil
}

func (s *Store) Get(ctx context.Context, kind shared.Kind, id string) (shared.Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(kind); err != nil {
		return shared.Change{}, err
	}
	c, ok := s.recs[kind][id]
	if !ok {
		return shared.Change{}, shared.Errorf(shared.ENOTFOUND, "%s %s not found", kind, id)
	}
	return clone(c), nil
}

func (s *Store) Lookup(ctx context.Context, kind shared.Kind, key string) (shared.Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(kind); err != nil {
		return shared.Change{}, err
	}
	id, ok := s.uniq[kind][key]
	if !ok {
		return shared.Change{}, shared.Errorf(shared.ENOTFOUND, "no %s with %s", kind, key)
	}
	return clone(s.recs[kind][id]), nil
}

func (s *Store) List(ctx context.Context, kind shared.Kind) ([]shared.Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(kind); err != nil {
		return nil, err
	}
	out := make([]shared.Change, 0, len(s.recs[kind]))
	for _, c := range s.recs[kind] {
		out = append(out, clone(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]shared.Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(shared.KindUser); err != nil {
		return nil, err
	}
	var revs []int64
	for r := range s.feed {
		if r > after {
			revs = append(revs, r)
		}
	}
	slices.Sort(revs)
	if limit > 0 && len(revs) > limit {
		revs = revs[:limit]
	}
	out := make([]shared.Change, 0, len(revs))
	for _, r := range revs {
		e := s.feed[r]
		if e.deleted {
			out = append(out, shared.Change{Kind: e.kind, ID: e.id, Revision: r, Deleted: true})
			continue
		}
		out = append(out, clone(s.recs[e.kind][e.id]))
	}
	return out, nil
}

func (s *Store) Head(ctx context.Context) (storage.Head, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(shared.KindUser); err != nil {
		return storage.Head{}, err
	}
	return storage.Head{Epoch: s.epoch, Revision: s.rev, Horizon: s.horizon}, nil
}

func (s *Store) Compact(ctx context.Context, upTo int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(shared.KindUser); err != nil {
		return err
	}
	if upTo > s.rev {
		upTo = s.rev
	}
	for r, e := range s.feed {
		if r <= upTo && e.deleted {
			delete(s.feed, r)
			delete(s.pos[e.kind], e.id)
		}
	}
	if upTo > s.horizon {
		s.horizon = upTo
	}
	return nil
}

func (s *Store) Apply(ctx context.Context, b storage.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(shared.KindUser); err != nil {
		return err
	}
	// Validate everything first so that nothing is half-applied.
	keys, err := driver.CheckBatch(b.Changes)
	if err != nil {
		return err
	}
	for i, c := range b.Changes {
		s.unfeed(c.Kind, c.ID)
		if c.Deleted {
			s.remove(c.Kind, c.ID)
			continue
		}
		c.Data = slices.Clone(c.Data)
		s.store(c, keys[i])
	}
	s.repEpoch, s.applied = b.Epoch, b.Applied
	return nil
}

func (s *Store) Replica(ctx context.Context) (string, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(shared.KindUser); err != nil {
		return "", 0, err
	}
	return s.repEpoch, s.applied, nil
}

func (s *Store) AppendAudit(ctx context.Context, ev *shared.AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(shared.KindUser); err != nil {
		return err
	}
	s.auditID++
	ev.ID = s.auditID
	e := *ev
	e.Properties = cloneMap(ev.Properties)
	s.audit = append(s.audit, e)
	return nil
}

func (s *Store) ListAudit(ctx context.Context, offset, limit int) ([]shared.AuditEvent, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(shared.KindUser); err != nil {
		return nil, 0, err
	}
	n := len(s.audit)
	var out []shared.AuditEvent
	for i := n - 1 - max(offset, 0); i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		e := s.audit[i]
		e.Properties = cloneMap(e.Properties)
		out = append(out, e)
	}
	return out, n, nil
}

// PruneAudit deletes the oldest events up to the first at or after before;
// see storage.Store.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(shared.KindUser); err != nil {
		return 0, err
	}
	n := 0
	for n < len(s.audit) && s.audit[n].At.Before(before) {
		n++
	}
	s.audit = slices.Clone(s.audit[n:])
	return n, nil
}

// clone returns c with its own copy of Data, so callers cannot change what
// the store holds.
func clone(c shared.Change) shared.Change {
	c.Data = slices.Clone(c.Data)
	return c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (s *Store) Ping(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.check(shared.KindUser)
}

func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}
