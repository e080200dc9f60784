package memory

import (
	"context"
	"sort"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/internal/driver"
)

// Update runs fn in a transaction; see storage.Store and storage.Tx. It
// holds the store's one lock from the first read to the commit, so nothing
// can change what fn read and it never runs fn twice. The writes are kept
// aside (driver.Overlay) and written when fn returns nil.
func (s *Store) Update(ctx context.Context, fn func(tx storage.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(shared.KindUser); err != nil {
		return err
	}
	o := driver.NewOverlay(base{s})
	if err := fn(o); err != nil {
		return err
	}
	for _, w := range o.Writes() {
		s.rev++
		if w.Deleted {
			s.remove(w.Kind, w.ID)
			s.feedAt(s.rev, feedEntry{kind: w.Kind, id: w.ID, deleted: true})
			continue
		}
		s.store(shared.Change{Kind: w.Kind, ID: w.ID, Revision: s.rev, Data: w.Data(s.rev)}, w.Keys)
		s.feedAt(s.rev, feedEntry{kind: w.Kind, id: w.ID})
		w.Rec.SetRevision(s.rev)
	}
	return nil
}

// base reads the store beneath a transaction; its caller holds mu.
type base struct{ s *Store }

func (b base) Get(_ context.Context, kind shared.Kind, id string) (shared.Change, bool, error) {
	c, ok := b.s.recs[kind][id]
	return clone(c), ok, nil
}

func (b base) Holder(_ context.Context, kind shared.Kind, key string) (string, bool, error) {
	id, ok := b.s.uniq[kind][key]
	return id, ok, nil
}

func (b base) List(_ context.Context, kind shared.Kind) ([]shared.Change, error) {
	out := make([]shared.Change, 0, len(b.s.recs[kind]))
	for _, c := range b.s.recs[kind] {
		out = append(out, clone(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
