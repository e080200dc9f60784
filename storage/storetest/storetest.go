// Package storetest is the conformance suite of storage.Store. Every driver
// runs it from its own tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storage.Store { return mustOpen(t) })
//	}
//
// Drivers that keep data across restarts also run RunPersistence, drivers
// that several processes may share (MySQL, Redis) also run RunShared, those
// that keep their data in a server (MySQL, Redis) also run RunServer, and
// every driver may run FuzzApply from a fuzz test and Bench from a
// benchmark. The subtests are named after the promise of storage/store.go
// they check, so a failure says which one broke.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// test is one subtest: it gets a new, empty store.
type test struct {
	name string
	fn   func(t *testing.T, s storage.Store)
}

// Run checks the store that open returns against every promise of
// storage.Store. open must return a new, empty store on each call and close it
// when t ends (t.Cleanup); the suite closes some stores itself first, so
// Close must accept a second call. Subtests do not run in parallel, so a
// driver may reuse one database for all of them as long as open empties it.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Put", putTests()},
		{"UniqueKeys", uniqueKeyTests()},
		{"Delete", deleteTests()},
		{"Read", readTests()},
		{"Changes", changesTests()},
		{"Head", headTests(open)},
		{"Compact", compactTests()},
		{"Apply", applyTests()},
		{"Audit", auditTests()},
		{"Concurrency", concurrencyTests()},
		{"Update", updateTests()},
		{"Close", closeTests()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) {
					s := open(t)
					if s == nil {
						t.Fatal("open returned a nil store")
					}
					tt.fn(t, s)
				})
			}
		})
	}
}

// bogus is a record of a kind that no store knows.
type bogus struct{ shared.Meta }

func (*bogus) RecordKind() shared.Kind { return "bogus" }
func (*bogus) UniqueKeys() []string    { return nil }

func newUser(id, name string) *shared.User {
	return &shared.User{
		Meta:     shared.Meta{ID: id},
		Username: name,
		Email:    name + "@example.com",
		Roles:    []string{shared.UserRoleID},
		Active:   true,
	}
}

func newGroup(id, name string) *shared.Group {
	return &shared.Group{Meta: shared.Meta{ID: id}, Name: name}
}

func newRole(id, name string) *shared.Role {
	return &shared.Role{Meta: shared.Meta{ID: id}, Name: name, Permissions: []shared.Permission{shared.PermUseSpaces}}
}

func newTemplate(id, name string) *shared.Template {
	return &shared.Template{Meta: shared.Meta{ID: id}, Name: name, Kind: shared.TemplateManual}
}

func newSpace(id, userID, name string) *shared.Space {
	return &shared.Space{Meta: shared.Meta{ID: id}, UserID: userID, Name: name, State: shared.SpaceStopped}
}

func mustPut(t testing.TB, s storage.Store, rec shared.Record) {
	t.Helper()
	if err := s.Put(context.Background(), rec); err != nil {
		t.Fatalf("put %s %s: %v", rec.RecordKind(), rec.RecordID(), err)
	}
}

func mustDelete(t testing.TB, s storage.Store, kind shared.Kind, id string) int64 {
	t.Helper()
	rev, err := s.Delete(context.Background(), kind, id)
	if err != nil {
		t.Fatalf("delete %s %s: %v", kind, id, err)
	}
	return rev
}

func mustHead(t testing.TB, s storage.Store) storage.Head {
	t.Helper()
	h, err := s.Head(context.Background())
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	return h
}

func mustChanges(t testing.TB, s storage.Store, after int64, limit int) []shared.Change {
	t.Helper()
	cs, err := s.Changes(context.Background(), after, limit)
	if err != nil {
		t.Fatalf("changes after %d limit %d: %v", after, limit, err)
	}
	return cs
}

func mustApply(t testing.TB, s storage.Store, b storage.Batch) {
	t.Helper()
	if err := s.Apply(context.Background(), b); err != nil {
		t.Fatalf("apply batch of %d changes: %v", len(b.Changes), err)
	}
}

func mustGetUser(t testing.TB, s storage.Store, id string) *shared.User {
	t.Helper()
	u, err := storage.Get[shared.User](context.Background(), s, id)
	if err != nil {
		t.Fatalf("get user %s: %v", id, err)
	}
	return u
}

// wantCode fails unless err carries code.
func wantCode(t testing.TB, err error, code, what string) {
	t.Helper()
	if got := shared.ErrorCode(err); got != code {
		t.Fatalf("%s: got error %v (code %q), want code %q", what, err, got, code)
	}
}

// lookupID returns the id of the record holding key, or "" when none does.
func lookupID(t testing.TB, s storage.Store, kind shared.Kind, key string) string {
	t.Helper()
	c, err := s.Lookup(context.Background(), kind, key)
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		return ""
	}
	if err != nil {
		t.Fatalf("lookup %s %s: %v", kind, key, err)
	}
	if c.Kind != kind {
		t.Fatalf("lookup %s %s: got a change of kind %q", kind, key, c.Kind)
	}
	return c.ID
}

// change returns the change that carries rec at revision rev, as an origin's
// feed would.
func change(t testing.TB, rec shared.Record, rev int64) shared.Change {
	t.Helper()
	rec.SetRevision(rev)
	c, err := storage.Encode(rec)
	if err != nil {
		t.Fatalf("encode %s %s: %v", rec.RecordKind(), rec.RecordID(), err)
	}
	return c
}

func tombstone(kind shared.Kind, id string, rev int64) shared.Change {
	return shared.Change{Kind: kind, ID: id, Revision: rev, Deleted: true}
}

// jsonEqual reports whether a and b hold the same JSON value; a backend may
// store JSON in another spelling.
func jsonEqual(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	if bytes.Equal(a, b) {
		return true
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func sameChange(a, b shared.Change) bool {
	return a.Kind == b.Kind && a.ID == b.ID && a.Revision == b.Revision && a.Deleted == b.Deleted && jsonEqual(a.Data, b.Data)
}

func sameChanges(a, b []shared.Change) bool {
	return slices.EqualFunc(a, b, sameChange)
}

func describe(cs []shared.Change) string {
	var b bytes.Buffer
	b.WriteString("[")
	for i, c := range cs {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s/%s@%d", c.Kind, c.ID, c.Revision)
		if c.Deleted {
			b.WriteString("(deleted)")
		}
	}
	b.WriteString("]")
	return b.String()
}

// snapshot is everything a reader can see of a store, for checking that a
// failed call changed nothing.
type snapshot struct {
	head     storage.Head
	feed     []shared.Change
	records  map[shared.Kind][]shared.Change
	lookups  map[string]string
	repEpoch string
	applied  int64
	audit    int
}

// takeSnapshot reads s; keys lists "kind/key" unique keys whose holders are
// recorded too.
func takeSnapshot(t testing.TB, s storage.Store, keys ...string) snapshot {
	t.Helper()
	ctx := context.Background()
	sn := snapshot{
		head:    mustHead(t, s),
		feed:    mustChanges(t, s, 0, 0),
		records: map[shared.Kind][]shared.Change{},
		lookups: map[string]string{},
	}
	for _, k := range shared.Kinds {
		cs, err := s.List(ctx, k)
		if err != nil {
			t.Fatalf("list %s: %v", k, err)
		}
		sn.records[k] = cs
	}
	for _, key := range keys {
		kind, k, _ := bytes.Cut([]byte(key), []byte("/"))
		sn.lookups[key] = lookupID(t, s, shared.Kind(kind), string(k))
	}
	var err error
	if sn.repEpoch, sn.applied, err = s.Replica(ctx); err != nil {
		t.Fatalf("replica: %v", err)
	}
	if _, sn.audit, err = s.ListAudit(ctx, 0, 1); err != nil {
		t.Fatalf("list audit: %v", err)
	}
	return sn
}

// wantUnchanged fails when s no longer looks like before.
func wantUnchanged(t testing.TB, s storage.Store, before snapshot, keys ...string) {
	t.Helper()
	after := takeSnapshot(t, s, keys...)
	if after.head != before.head {
		t.Errorf("head changed from %+v to %+v", before.head, after.head)
	}
	if !sameChanges(after.feed, before.feed) {
		t.Errorf("feed changed from %s to %s", describe(before.feed), describe(after.feed))
	}
	for _, k := range shared.Kinds {
		if !sameChanges(after.records[k], before.records[k]) {
			t.Errorf("%s records changed from %s to %s", k, describe(before.records[k]), describe(after.records[k]))
		}
	}
	if !maps.Equal(after.lookups, before.lookups) {
		t.Errorf("unique keys changed from %v to %v", before.lookups, after.lookups)
	}
	if after.repEpoch != before.repEpoch || after.applied != before.applied {
		t.Errorf("replica state changed from (%q, %d) to (%q, %d)", before.repEpoch, before.applied, after.repEpoch, after.applied)
	}
	if after.audit != before.audit {
		t.Errorf("audit log changed from %d to %d events", before.audit, after.audit)
	}
}
