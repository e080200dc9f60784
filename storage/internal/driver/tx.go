package driver

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/knot-dev/knot/shared"
)

// Base is what an Overlay reads beneath a transaction's own writes: the
// backend's records as the transaction sees them.
type Base interface {
	// Get returns the record of kind with id; ok is false when there is none.
	Get(ctx context.Context, kind shared.Kind, id string) (c shared.Change, ok bool, err error)
	// Holder returns the id of the record of kind that holds key; ok is
	// false when none does.
	Holder(ctx context.Context, kind shared.Kind, key string) (id string, ok bool, err error)
	// List returns every record of kind, in any order.
	List(ctx context.Context, kind shared.Kind) ([]shared.Change, error)
}

// Write is one write of a transaction, kept until it commits.
type Write struct {
	Kind    shared.Kind
	ID      string
	Deleted bool
	// Keys are the unique keys the record claims (none for a delete).
	Keys []string
	// Head and Tail are the record's JSON before and after its revision
	// (see SplitJSON), which the commit puts between them.
	Head, Tail []byte
	// Rec is the record that Put was given; the commit sets its revision.
	Rec shared.Record
}

// Data returns the record's JSON at revision rev.
func (w Write) Data(rev int64) []byte {
	return slices.Concat(w.Head, strconv.AppendInt(nil, rev, 10), w.Tail)
}

// Overlay is the view of a transaction whose writes are kept in memory
// until it commits: the records of Base under the writes made so far. It
// checks each write as storage.Store.Put and Delete do, against that view.
// The driver makes sure that what Base returned still holds at the commit,
// and then writes Writes in order.
type Overlay struct {
	base   Base
	writes []Write
	pos    map[string]int                    // kind/id → index in writes
	uniq   map[shared.Kind]map[string]string // unique key → holder, "" when freed
}

// NewOverlay returns the view of a transaction that has written nothing
// yet over base.
func NewOverlay(base Base) *Overlay {
	return &Overlay{base: base, pos: map[string]int{}, uniq: map[shared.Kind]map[string]string{}}
}

// Writes returns the transaction's writes in the order they were made.
func (o *Overlay) Writes() []Write { return o.writes }

func name(kind shared.Kind, id string) string { return string(kind) + "/" + id }

func checkKind(kind shared.Kind) error {
	if !kind.Valid() {
		return shared.Errorf(shared.EINVALID, "unknown record kind %q", kind)
	}
	return nil
}

// get returns the record of kind with id in the view.
func (o *Overlay) get(ctx context.Context, kind shared.Kind, id string) (shared.Change, bool, error) {
	if i, ok := o.pos[name(kind, id)]; ok {
		w := o.writes[i]
		if w.Deleted {
			return shared.Change{}, false, nil
		}
		return shared.Change{Kind: kind, ID: id, Data: w.Data(0)}, true, nil
	}
	return o.base.Get(ctx, kind, id)
}

// holder returns the id of the record that holds key in the view.
func (o *Overlay) holder(ctx context.Context, kind shared.Kind, key string) (string, bool, error) {
	if id, ok := o.uniq[kind][key]; ok {
		return id, id != "", nil
	}
	return o.base.Holder(ctx, kind, key)
}

// Get returns a record of the view; see storage.Tx.
func (o *Overlay) Get(ctx context.Context, kind shared.Kind, id string) (shared.Change, error) {
	if err := checkKind(kind); err != nil {
		return shared.Change{}, err
	}
	c, ok, err := o.get(ctx, kind, id)
	if err != nil {
		return shared.Change{}, err
	}
	if !ok {
		return shared.Change{}, shared.Errorf(shared.ENOTFOUND, "%s %s not found", kind, id)
	}
	return c, nil
}

// Lookup returns the record of the view holding key; see storage.Tx.
func (o *Overlay) Lookup(ctx context.Context, kind shared.Kind, key string) (shared.Change, error) {
	if err := checkKind(kind); err != nil {
		return shared.Change{}, err
	}
	id, ok, err := o.holder(ctx, kind, key)
	if err != nil {
		return shared.Change{}, err
	}
	var c shared.Change
	if ok {
		c, ok, err = o.get(ctx, kind, id)
		if err != nil {
			return shared.Change{}, err
		}
	}
	if !ok {
		return shared.Change{}, shared.Errorf(shared.ENOTFOUND, "no %s with %s", kind, key)
	}
	return c, nil
}

// List returns the records of kind in the view, ordered by id.
func (o *Overlay) List(ctx context.Context, kind shared.Kind) ([]shared.Change, error) {
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	base, err := o.base.List(ctx, kind)
	if err != nil {
		return nil, err
	}
	out := make([]shared.Change, 0, len(base))
	for _, c := range base {
		if _, ok := o.pos[name(kind, c.ID)]; !ok {
			out = append(out, c)
		}
	}
	for _, w := range o.writes {
		if w.Kind == kind && !w.Deleted {
			out = append(out, shared.Change{Kind: kind, ID: w.ID, Data: w.Data(0)})
		}
	}
	slices.SortFunc(out, func(a, b shared.Change) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Put checks rec against the view and keeps it as the transaction's next
// write; see storage.Tx.
func (o *Overlay) Put(ctx context.Context, rec shared.Record) error {
	kind, id := rec.RecordKind(), rec.RecordID()
	if err := o.writable(kind, id); err != nil {
		return err
	}
	cur, exists, err := o.base.Get(ctx, kind, id)
	if err != nil {
		return err
	}
	if err := CheckRevision(kind, id, rec.GetRevision(), cur.Revision, exists); err != nil {
		return err
	}
	keys := rec.UniqueKeys()
	for _, k := range keys {
		holder, ok, err := o.holder(ctx, kind, k)
		if err != nil {
			return err
		}
		if ok && holder != id {
			return shared.Errorf(shared.ECONFLICT, "another %s already has %s", kind, k)
		}
	}
	head, tail, err := SplitJSON(rec)
	if err != nil {
		return err
	}
	if exists {
		if err := o.release(ctx, cur); err != nil {
			return err
		}
	}
	o.claim(kind, id, keys)
	o.add(Write{Kind: kind, ID: id, Keys: keys, Head: head, Tail: tail, Rec: rec})
	return nil
}

// Delete checks that the record is in the view and keeps its removal as the
// transaction's next write; see storage.Tx.
func (o *Overlay) Delete(ctx context.Context, kind shared.Kind, id string) error {
	if err := o.writable(kind, id); err != nil {
		return err
	}
	cur, exists, err := o.base.Get(ctx, kind, id)
	if err != nil {
		return err
	}
	if !exists {
		return shared.Errorf(shared.ENOTFOUND, "%s %s not found", kind, id)
	}
	if err := o.release(ctx, cur); err != nil {
		return err
	}
	o.add(Write{Kind: kind, ID: id, Deleted: true})
	return nil
}

// writable refuses an unknown kind, a missing id and a record this
// transaction wrote already.
func (o *Overlay) writable(kind shared.Kind, id string) error {
	if err := checkKind(kind); err != nil {
		return err
	}
	if id == "" {
		return shared.Errorf(shared.EINVALID, "%s has no id", kind)
	}
	if _, ok := o.pos[name(kind, id)]; ok {
		return WrittenTwice(kind, id)
	}
	return nil
}

// WrittenTwice is the error of a second write of one record in a
// transaction.
func WrittenTwice(kind shared.Kind, id string) error {
	return shared.Errorf(shared.EINVALID, "%s %s is written twice in one transaction", kind, id)
}

// release frees, in the view, the unique keys that the stored record c
// still holds.
func (o *Overlay) release(ctx context.Context, c shared.Change) error {
	keys, err := shared.UniqueKeysOf(c)
	if err != nil {
		return err
	}
	for _, k := range keys {
		holder, ok, err := o.holder(ctx, c.Kind, k)
		if err != nil {
			return err
		}
		if ok && holder == c.ID {
			o.setHolder(c.Kind, k, "")
		}
	}
	return nil
}

func (o *Overlay) claim(kind shared.Kind, id string, keys []string) {
	for _, k := range keys {
		o.setHolder(kind, k, id)
	}
}

func (o *Overlay) setHolder(kind shared.Kind, key, id string) {
	if o.uniq[kind] == nil {
		o.uniq[kind] = map[string]string{}
	}
	o.uniq[kind][key] = id
}

func (o *Overlay) add(w Write) {
	o.pos[name(w.Kind, w.ID)] = len(o.writes)
	o.writes = append(o.writes, w)
}

// SplitJSON returns rec's JSON cut where its revision goes, for a commit
// that learns the revision only when it writes to join the halves around
// it. It encodes rec at revisions 1 and 2 and cuts at the one byte in which
// the two differ; rec keeps its revision.
func SplitJSON(rec shared.Record) (head, tail []byte, err error) {
	kind, id, prev := rec.RecordKind(), rec.RecordID(), rec.GetRevision()
	defer rec.SetRevision(prev)
	rec.SetRevision(1)
	one, err := json.Marshal(rec)
	if err != nil {
		return nil, nil, shared.Wrap(shared.EINTERNAL, err, "encode %s %s", kind, id)
	}
	rec.SetRevision(2)
	two, err := json.Marshal(rec)
	if err != nil {
		return nil, nil, shared.Wrap(shared.EINTERNAL, err, "encode %s %s", kind, id)
	}
	i := 0
	for i < len(one) && i < len(two) && one[i] == two[i] {
		i++
	}
	if len(one) != len(two) || i == len(one) || one[i] != '1' || !bytes.Equal(one[i+1:], two[i+1:]) {
		return nil, nil, shared.Errorf(shared.EINTERNAL, "%s %s does not write its revision once in its JSON", kind, id)
	}
	return one[:i], one[i+1:], nil
}

// Written remembers the records a transaction that writes as it goes
// (Badger, MySQL) wrote, to refuse a second write of one and to give each
// record that Put was given its revision once the transaction commits.
type Written struct {
	seen map[string]bool
	recs []shared.Record
	revs []int64
}

// Check fails with EINVALID when the record was written already.
func (w *Written) Check(kind shared.Kind, id string) error {
	if w.seen[name(kind, id)] {
		return WrittenTwice(kind, id)
	}
	return nil
}

// Add records a write of the record of kind and id; rec is the record Put
// was given and rev the revision it gets, or nil for a delete.
func (w *Written) Add(kind shared.Kind, id string, rec shared.Record, rev int64) {
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	w.seen[name(kind, id)] = true
	if rec != nil {
		w.recs = append(w.recs, rec)
		w.revs = append(w.revs, rev)
	}
}

// Count is the number of writes recorded.
func (w *Written) Count() int { return len(w.seen) }

// Commit gives each record Put was given its revision.
func (w *Written) Commit() {
	for i, rec := range w.recs {
		rec.SetRevision(w.revs[i])
	}
}
