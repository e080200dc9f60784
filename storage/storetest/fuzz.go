package storetest

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// FuzzApply feeds Apply batches decoded from the fuzzer's bytes: changes of
// every kind (and an unknown one), with ids and unique names drawn from small
// sets so that they collide, as tombstones, valid records, records under
// another id, or raw bytes. After each batch the store must equal a model of
// the contract: the batch applied whole, or (when Apply failed) nothing
// changed. A driver calls it from its own fuzz test:
//
//	func FuzzApply(f *testing.F) { storetest.FuzzApply(f, open) }
func FuzzApply(f *testing.F, open func(t *testing.T) storage.Store) {
	for _, seed := range [][]byte{
		{},
		{2, 0, 1, 0, 0, 5, 1, 1, 1, 1, 6, 7}, // two users, then another batch
		{3, 1, 1, 0, 0, 9, 1, 1, 1, 0, 10, 1, 0, 0, 0, 11, 12},             // two groups claiming one name, then a tombstone
		{2, 8, 1, 0, 0, 1, 0, 1, 0, 0, 2, 3},                               // unknown kind after a valid change
		{2, 0, 3, 0, 0, 1, 4, '{', '"', 'i', 'd', 1, 1, 1, 1, 2, 3},        // raw bytes after a valid change
		{1, 0, 4, 1, 0, 1, 9},                                              // a record under another id
		{1, 0, 1, 4, 0, 1, 2},                                              // a record without id
		{4, 6, 1, 2, 0, 1, 6, 2, 2, 1, 2, 6, 0, 2, 0, 3, 6, 1, 2, 3, 4, 5}, // spaces replaced and deleted
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := open(t)
		m := newModel()
		for i, b := range decodeBatches(data) {
			err := s.Apply(context.Background(), b)
			valid := m.valid(b)
			switch {
			case err == nil && !valid:
				t.Fatalf("batch %d %s applied, but it holds a bad change", i, describe(b.Changes))
			case err != nil && valid:
				t.Fatalf("batch %d %s failed: %v", i, describe(b.Changes), err)
			case err != nil && shared.ErrorCode(err) != shared.EINVALID:
				t.Fatalf("batch %d %s failed with code %q, want %q: %v", i, describe(b.Changes), shared.ErrorCode(err), shared.EINVALID, err)
			case err == nil:
				m.apply(b)
			}
			m.check(t, s, i)
		}
	})
}

var (
	fuzzKinds = append(slices.Clone(shared.Kinds), "bogus")
	fuzzIDs   = []string{"a", "b", "c", "A", ""}
	fuzzNames = []string{"x", "y", "X", "z"}
)

type byteReader struct{ data []byte }

func (r *byteReader) next() byte {
	if len(r.data) == 0 {
		return 0
	}
	b := r.data[0]
	r.data = r.data[1:]
	return b
}

// decodeBatches turns fuzz input into at most 4 batches of at most 5 changes.
func decodeBatches(data []byte) []storage.Batch {
	r := &byteReader{data: data}
	var out []storage.Batch
	for len(r.data) > 0 && len(out) < 4 {
		n := int(r.next() % 6)
		b := storage.Batch{Epoch: "fuzz"}
		for range n {
			b.Changes = append(b.Changes, decodeChange(r))
		}
		b.Applied = int64(r.next())
		out = append(out, b)
	}
	return out
}

func decodeChange(r *byteReader) shared.Change {
	kind := fuzzKinds[int(r.next())%len(fuzzKinds)]
	mode := r.next() % 5
	id := fuzzIDs[int(r.next())%len(fuzzIDs)]
	name := fuzzNames[int(r.next())%len(fuzzNames)]
	c := shared.Change{Kind: kind, ID: id, Revision: int64(r.next())}
	record := func(id string) json.RawMessage {
		// Unknown fields are ignored, so one shape serves every kind.
		b, _ := json.Marshal(map[string]any{
			"id": id, "revision": c.Revision, "name": name, "username": name, "email": name,
			"user_id": "u", "location": "", "active": true,
		})
		return b
	}
	switch mode {
	case 0:
		c.Deleted = true
	case 1, 2:
		c.Data = record(id)
	case 3:
		n := int(r.next() % 48)
		for range n {
			c.Data = append(c.Data, r.next())
		}
	case 4:
		c.Data = record(id + "-other")
	}
	return c
}

// model is what a store should hold after a run of Apply calls.
type model struct {
	recs    map[shared.Kind]map[string]shared.Change
	keys    map[shared.Kind]map[string][]string // id -> the keys it claimed
	uniq    map[shared.Kind]map[string]string   // key -> id
	seen    map[shared.Kind]map[string]bool     // every key ever claimed
	epoch   string
	applied int64
}

func newModel() *model {
	m := &model{
		recs: map[shared.Kind]map[string]shared.Change{},
		keys: map[shared.Kind]map[string][]string{},
		uniq: map[shared.Kind]map[string]string{},
		seen: map[shared.Kind]map[string]bool{},
	}
	for _, k := range shared.Kinds {
		m.recs[k], m.keys[k], m.uniq[k], m.seen[k] = map[string]shared.Change{}, map[string][]string{}, map[string]string{}, map[string]bool{}
	}
	return m
}

func (m *model) valid(b storage.Batch) bool {
	for _, c := range b.Changes {
		if !c.Kind.Valid() || c.ID == "" {
			return false
		}
		if !c.Deleted {
			if _, err := shared.UniqueKeysOf(c); err != nil {
				return false
			}
		}
	}
	return true
}

func (m *model) apply(b storage.Batch) {
	for _, c := range b.Changes {
		for _, k := range m.keys[c.Kind][c.ID] {
			if m.uniq[c.Kind][k] == c.ID {
				delete(m.uniq[c.Kind], k)
			}
		}
		delete(m.keys[c.Kind], c.ID)
		if c.Deleted {
			delete(m.recs[c.Kind], c.ID)
			continue
		}
		keys, _ := shared.UniqueKeysOf(c)
		m.recs[c.Kind][c.ID] = c
		m.keys[c.Kind][c.ID] = keys
		for _, k := range keys {
			m.uniq[c.Kind][k] = c.ID
			m.seen[c.Kind][k] = true
		}
	}
	m.epoch, m.applied = b.Epoch, b.Applied
}

func (m *model) check(t *testing.T, s storage.Store, batch int) {
	t.Helper()
	ctx := context.Background()
	for _, kind := range shared.Kinds {
		got, err := s.List(ctx, kind)
		if err != nil {
			t.Fatalf("after batch %d: list %s: %v", batch, kind, err)
		}
		var want []shared.Change
		for _, id := range slices.Sorted(maps.Keys(m.recs[kind])) {
			want = append(want, m.recs[kind][id])
		}
		if !sameChanges(got, want) {
			t.Fatalf("after batch %d: %s records are %s, want %s", batch, kind, describe(got), describe(want))
		}
		for key := range m.seen[kind] {
			if id := lookupID(t, s, kind, key); id != m.uniq[kind][key] {
				t.Fatalf("after batch %d: %s %s belongs to %q, want %q", batch, kind, key, id, m.uniq[kind][key])
			}
		}
	}
	epoch, applied, err := s.Replica(ctx)
	if err != nil || epoch != m.epoch || applied != m.applied {
		t.Fatalf("after batch %d: replica is (%q, %d), %v; want (%q, %d)", batch, epoch, applied, err, m.epoch, m.applied)
	}
	if h := mustHead(t, s); h.Revision != 0 {
		t.Fatalf("after batch %d: apply moved the head to %d", batch, h.Revision)
	}
	if cs := mustChanges(t, s, 0, 0); len(cs) != 0 {
		t.Fatalf("after batch %d: apply wrote to the feed: %s", batch, describe(cs))
	}
}
