package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

func putTests() []test {
	ctx := context.Background()
	return []test{
		{"CreateGetsNextRevision", func(t *testing.T, s storage.Store) {
			h := mustHead(t, s)
			u := newUser("u1", "ann")
			mustPut(t, s, u)
			if u.Revision != h.Revision+1 {
				t.Fatalf("created user has revision %d, want %d", u.Revision, h.Revision+1)
			}
			got := mustGetUser(t, s, "u1")
			if got.Revision != u.Revision || got.Username != "ann" {
				t.Fatalf("get returned revision %d username %q, want %d %q", got.Revision, got.Username, u.Revision, "ann")
			}
			if h2 := mustHead(t, s); h2.Revision != u.Revision {
				t.Fatalf("head revision is %d after the put, want %d", h2.Revision, u.Revision)
			}
		}},
		{"UpdateWithReadRevisionSucceeds", func(t *testing.T, s storage.Store) {
			mustPut(t, s, newUser("u1", "ann"))
			u := mustGetUser(t, s, "u1")
			first := u.Revision
			u.MaxSpaces = 5
			mustPut(t, s, u)
			if u.Revision != first+1 {
				t.Fatalf("updated user has revision %d, want %d", u.Revision, first+1)
			}
			got := mustGetUser(t, s, "u1")
			if got.MaxSpaces != 5 || got.Revision != u.Revision {
				t.Fatalf("get after update: max_spaces %d revision %d, want 5 and %d", got.MaxSpaces, got.Revision, u.Revision)
			}
		}},
		{"StaleRevisionConflictsAndChangesNothing", func(t *testing.T, s storage.Store) {
			mustPut(t, s, newUser("u1", "ann"))
			a, b := mustGetUser(t, s, "u1"), mustGetUser(t, s, "u1")
			a.MaxSpaces = 1
			mustPut(t, s, a)
			before := takeSnapshot(t, s, "user/username:ann", "user/username:bob")
			stale := b.Revision
			b.MaxSpaces = 2
			b.Username = "bob"
			wantCode(t, s.Put(ctx, b), shared.ECONFLICT, "put with a stale revision")
			if b.Revision != stale {
				t.Errorf("failed put changed the record's revision from %d to %d", stale, b.Revision)
			}
			wantUnchanged(t, s, before, "user/username:ann", "user/username:bob")
			if got := mustGetUser(t, s, "u1"); got.MaxSpaces != 1 {
				t.Fatalf("stored record has max_spaces %d, want the first writer's 1", got.MaxSpaces)
			}
		}},
		{"CreateOfExistingIDConflictsAndChangesNothing", func(t *testing.T, s storage.Store) {
			mustPut(t, s, newUser("u1", "ann"))
			before := takeSnapshot(t, s, "user/username:bob")
			dup := newUser("u1", "bob")
			wantCode(t, s.Put(ctx, dup), shared.ECONFLICT, "create of an existing id")
			if dup.Revision != 0 {
				t.Errorf("failed put set the record's revision to %d", dup.Revision)
			}
			wantUnchanged(t, s, before, "user/username:bob")
		}},
		{"UpdateOfMissingRecordIsNotFound", func(t *testing.T, s storage.Store) {
			mustPut(t, s, newUser("u1", "ann"))
			before := takeSnapshot(t, s)
			ghost := newUser("ghost", "casper")
			ghost.Revision = 1
			wantCode(t, s.Put(ctx, ghost), shared.ENOTFOUND, "update of a missing record")
			if ghost.Revision != 1 {
				t.Errorf("failed put changed the record's revision to %d", ghost.Revision)
			}
			wantUnchanged(t, s, before)
		}},
		{"UpdateOfDeletedRecordIsNotFound", func(t *testing.T, s storage.Store) {
			u := newUser("u1", "ann")
			mustPut(t, s, u)
			mustDelete(t, s, shared.KindUser, "u1")
			before := takeSnapshot(t, s)
			wantCode(t, s.Put(ctx, u), shared.ENOTFOUND, "update of a deleted record")
			wantUnchanged(t, s, before)
		}},
		{"RecordWithoutIDIsInvalid", func(t *testing.T, s storage.Store) {
			before := takeSnapshot(t, s)
			wantCode(t, s.Put(ctx, newGroup("", "dev")), shared.EINVALID, "put of a record without id")
			wantUnchanged(t, s, before)
		}},
		{"UnknownKindIsInvalid", func(t *testing.T, s storage.Store) {
			before := takeSnapshot(t, s)
			wantCode(t, s.Put(ctx, &bogus{Meta: shared.Meta{ID: "x"}}), shared.EINVALID, "put of an unknown kind")
			_, err := s.Get(ctx, "bogus", "x")
			wantCode(t, err, shared.EINVALID, "get of an unknown kind")
			_, err = s.Lookup(ctx, "bogus", "name:x")
			wantCode(t, err, shared.EINVALID, "lookup of an unknown kind")
			_, err = s.List(ctx, "bogus")
			wantCode(t, err, shared.EINVALID, "list of an unknown kind")
			_, err = s.Delete(ctx, "bogus", "x")
			wantCode(t, err, shared.EINVALID, "delete of an unknown kind")
			wantUnchanged(t, s, before)
		}},
		{"StoreKeepsItsOwnCopy", func(t *testing.T, s storage.Store) {
			u := newUser("u1", "ann")
			u.Roles = []string{"r1"}
			mustPut(t, s, u)
			u.Username, u.Roles[0] = "changed", "changed"
			c, err := s.Get(ctx, shared.KindUser, "u1")
			if err != nil {
				t.Fatal(err)
			}
			for i := range c.Data {
				c.Data[i] = 'X'
			}
			got := mustGetUser(t, s, "u1")
			if got.Username != "ann" || len(got.Roles) != 1 || got.Roles[0] != "r1" {
				t.Fatalf("stored record changed with the caller's copies: %+v", got)
			}
		}},
	}
}

func uniqueKeyTests() []test {
	ctx := context.Background()
	return []test{
		{"TakenKeyConflictsOnCreate", func(t *testing.T, s storage.Store) {
			mustPut(t, s, newUser("u1", "ann"))
			keys := []string{"user/username:ann", "user/email:ann@example.com"}
			before := takeSnapshot(t, s, keys...)
			for _, name := range []string{"ann", "ANN"} {
				u := newUser("u2", name)
				wantCode(t, s.Put(ctx, u), shared.ECONFLICT, "create with username "+name)
				if u.Revision != 0 {
					t.Errorf("failed put set the record's revision to %d", u.Revision)
				}
			}
			wantUnchanged(t, s, before, keys...)
		}},
		{"TakenKeyConflictsOnUpdate", func(t *testing.T, s storage.Store) {
			mustPut(t, s, newUser("u1", "ann"))
			bob := newUser("u2", "bob")
			mustPut(t, s, bob)
			keys := []string{"user/username:ann", "user/username:bob", "user/email:bob@example.com"}
			before := takeSnapshot(t, s, keys...)
			rev := bob.Revision
			bob.Username = "ann" // email stays bob's: one taken key is enough
			wantCode(t, s.Put(ctx, bob), shared.ECONFLICT, "rename to a taken username")
			if bob.Revision != rev {
				t.Errorf("failed put changed the record's revision from %d to %d", rev, bob.Revision)
			}
			wantUnchanged(t, s, before, keys...)
		}},
		{"UpdateKeepsOwnKeys", func(t *testing.T, s storage.Store) {
			u := newUser("u1", "ann")
			mustPut(t, s, u)
			u.MaxSpaces = 3
			mustPut(t, s, u)
			if id := lookupID(t, s, shared.KindUser, "username:ann"); id != "u1" {
				t.Fatalf("username:ann belongs to %q after an update that kept it, want u1", id)
			}
		}},
		{"UpdateFreesOldKeys", func(t *testing.T, s storage.Store) {
			u := newUser("u1", "ann")
			mustPut(t, s, u)
			u.Username, u.Email = "anne", "anne@example.com"
			mustPut(t, s, u)
			for key, want := range map[string]string{
				"username:ann": "", "email:ann@example.com": "",
				"username:anne": "u1", "email:anne@example.com": "u1",
			} {
				if id := lookupID(t, s, shared.KindUser, key); id != want {
					t.Errorf("lookup %s gives %q, want %q", key, id, want)
				}
			}
			mustPut(t, s, newUser("u2", "ann"))
			if id := lookupID(t, s, shared.KindUser, "username:ann"); id != "u2" {
				t.Fatalf("freed username:ann belongs to %q after u2 took it, want u2", id)
			}
		}},
		{"DeleteFreesKeys", func(t *testing.T, s storage.Store) {
			mustPut(t, s, newUser("u1", "ann"))
			mustDelete(t, s, shared.KindUser, "u1")
			if id := lookupID(t, s, shared.KindUser, "username:ann"); id != "" {
				t.Fatalf("username:ann still belongs to %q after delete", id)
			}
			mustPut(t, s, newUser("u2", "ann"))
		}},
		{"KeysDoNotClashAcrossKinds", func(t *testing.T, s storage.Store) {
			mustPut(t, s, newGroup("g1", "dev"))
			mustPut(t, s, newRole("r1", "dev"))
			mustPut(t, s, newTemplate("t1", "dev"))
			for kind, want := range map[shared.Kind]string{shared.KindGroup: "g1", shared.KindRole: "r1", shared.KindTemplate: "t1"} {
				if id := lookupID(t, s, kind, "name:dev"); id != want {
					t.Errorf("lookup %s name:dev gives %q, want %q", kind, id, want)
				}
			}
		}},
		{"LookupReturnsTheHolder", func(t *testing.T, s storage.Store) {
			u := newUser("u1", "ann")
			mustPut(t, s, u)
			got, err := storage.Lookup[shared.User](ctx, s, "email:ann@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != "u1" || got.Revision != u.Revision || got.Username != "ann" {
				t.Fatalf("lookup returned %s at revision %d (%q), want u1 at %d", got.ID, got.Revision, got.Username, u.Revision)
			}
		}},
		{"LookupOfFreeKeyIsNotFound", func(t *testing.T, s storage.Store) {
			mustPut(t, s, newUser("u1", "ann"))
			_, err := s.Lookup(ctx, shared.KindUser, "username:bob")
			wantCode(t, err, shared.ENOTFOUND, "lookup of a free key")
			_, err = s.Lookup(ctx, shared.KindGroup, "username:ann")
			wantCode(t, err, shared.ENOTFOUND, "lookup of another kind's key")
		}},
		{"KeysAndIDsCompareByteForByte", func(t *testing.T, s storage.Store) {
			// Database collations like to pad, fold accents or expand ß;
			// a store must not.
			names := map[string]string{"e": "dev", "x": "dev ", "x ": "dév", "é": "straße", "ë": "strasse"}
			for id, name := range names {
				mustPut(t, s, newGroup(id, name))
			}
			for id, name := range names {
				if got := lookupID(t, s, shared.KindGroup, "name:"+name); got != id {
					t.Errorf("lookup of name %q gives %q, want %q", name, got, id)
				}
				g := mustGetGroup(t, s, id)
				if g.Name != name {
					t.Errorf("group %q has name %q, want %q", id, g.Name, name)
				}
			}
			cs, err := s.List(ctx, shared.KindGroup)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range cs {
				ids = append(ids, c.ID)
			}
			if want := []string{"e", "x", "x ", "é", "ë"}; !slices.Equal(ids, want) {
				t.Fatalf("list gives ids %q, want %q in byte order", ids, want)
			}
		}},
		{"RecordsWithoutKeysNeverConflict", func(t *testing.T, s storage.Store) {
			for _, id := range []string{"a", "b", "c"} {
				mustPut(t, s, &shared.Token{Meta: shared.Meta{ID: id}, UserID: "u1", Name: "same"})
			}
		}},
	}
}

func deleteTests() []test {
	ctx := context.Background()
	return []test{
		{"ReturnsTombstoneRevision", func(t *testing.T, s storage.Store) {
			g := newGroup("g1", "dev")
			mustPut(t, s, g)
			rev := mustDelete(t, s, shared.KindGroup, "g1")
			if rev != g.Revision+1 {
				t.Fatalf("delete returned revision %d, want %d", rev, g.Revision+1)
			}
			if h := mustHead(t, s); h.Revision != rev {
				t.Fatalf("head revision is %d after delete, want %d", h.Revision, rev)
			}
			_, err := s.Get(ctx, shared.KindGroup, "g1")
			wantCode(t, err, shared.ENOTFOUND, "get after delete")
			if cs, err := s.List(ctx, shared.KindGroup); err != nil || len(cs) != 0 {
				t.Fatalf("list after delete: %s, %v; want none", describe(cs), err)
			}
		}},
		{"MissingRecordIsNotFound", func(t *testing.T, s storage.Store) {
			mustPut(t, s, newGroup("g1", "dev"))
			before := takeSnapshot(t, s)
			_, err := s.Delete(ctx, shared.KindGroup, "nope")
			wantCode(t, err, shared.ENOTFOUND, "delete of a missing record")
			_, err = s.Delete(ctx, shared.KindRole, "g1")
			wantCode(t, err, shared.ENOTFOUND, "delete of an id of another kind")
			wantUnchanged(t, s, before)
		}},
		{"SecondDeleteIsNotFound", func(t *testing.T, s storage.Store) {
			mustPut(t, s, newGroup("g1", "dev"))
			mustDelete(t, s, shared.KindGroup, "g1")
			before := takeSnapshot(t, s)
			_, err := s.Delete(ctx, shared.KindGroup, "g1")
			wantCode(t, err, shared.ENOTFOUND, "second delete")
			wantUnchanged(t, s, before)
		}},
		{"DeletedIDCanBeCreatedAgain", func(t *testing.T, s storage.Store) {
			mustPut(t, s, newGroup("g1", "dev"))
			mustDelete(t, s, shared.KindGroup, "g1")
			g := newGroup("g1", "dev")
			mustPut(t, s, g)
			got, err := storage.Get[shared.Group](ctx, s, "g1")
			if err != nil || got.Revision != g.Revision {
				t.Fatalf("get of the recreated group: %v, %v; want revision %d", got, err, g.Revision)
			}
		}},
	}
}

func readTests() []test {
	ctx := context.Background()
	return []test{
		{"GetReturnsWhatWasPut", func(t *testing.T, s storage.Store) {
			at := time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC)
			u := &shared.User{
				Meta:     shared.Meta{ID: "u1", CreatedAt: at, UpdatedAt: at},
				Username: "ann", Email: "ann@example.com", PasswordHash: "$2a$hash",
				TOTPSecret: "sealed-secret", TOTPLastStep: 58_712_345,
				Roles: []string{"r1", "r2"}, Groups: []string{"g1"}, Active: true,
				MaxSpaces: 3, Timezone: "Europe/Paris", PreferredShell: "zsh",
			}
			mustPut(t, s, u)
			c, err := s.Get(ctx, shared.KindUser, "u1")
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind != shared.KindUser || c.ID != "u1" || c.Revision != u.Revision || c.Deleted {
				t.Fatalf("get returned %s/%s@%d deleted=%v, want user/u1@%d", c.Kind, c.ID, c.Revision, c.Deleted, u.Revision)
			}
			got := mustGetUser(t, s, "u1")
			if !got.CreatedAt.Equal(at) || got.Username != u.Username || got.PasswordHash != u.PasswordHash ||
				got.TOTPSecret != u.TOTPSecret || got.TOTPLastStep != u.TOTPLastStep ||
				len(got.Roles) != 2 || got.Roles[1] != "r2" || got.Groups[0] != "g1" || !got.Active ||
				got.MaxSpaces != 3 || got.Timezone != u.Timezone || got.PreferredShell != "zsh" {
				t.Fatalf("get returned %+v, want %+v", got, u)
			}
		}},
		{"GetOfMissingIsNotFound", func(t *testing.T, s storage.Store) {
			_, err := s.Get(ctx, shared.KindUser, "nope")
			wantCode(t, err, shared.ENOTFOUND, "get of a missing record")
		}},
		{"IDsAreScopedByKind", func(t *testing.T, s storage.Store) {
			mustPut(t, s, newGroup("x", "dev"))
			mustPut(t, s, newRole("x", "dev"))
			_, err := s.Get(ctx, shared.KindUser, "x")
			wantCode(t, err, shared.ENOTFOUND, "get of an id that only other kinds have")
			mustDelete(t, s, shared.KindGroup, "x")
			if _, err := s.Get(ctx, shared.KindRole, "x"); err != nil {
				t.Fatalf("role x is gone after deleting group x: %v", err)
			}
		}},
		{"ListIsOrderedByID", func(t *testing.T, s storage.Store) {
			ids := []string{"c", "a", "B", "aa", "b", "0"}
			for i, id := range ids {
				mustPut(t, s, newSpace(id, "u1", "s"+string(rune('a'+i))))
			}
			cs, err := s.List(ctx, shared.KindSpace)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range cs {
				got = append(got, c.ID)
			}
			want := []string{"0", "B", "a", "aa", "b", "c"}
			if len(got) != len(want) {
				t.Fatalf("list returned %v, want %v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("list returned %v, want %v", got, want)
				}
			}
		}},
		{"ListHoldsOnlyThatKindAtLatestRevision", func(t *testing.T, s storage.Store) {
			g := newGroup("g1", "dev")
			mustPut(t, s, g)
			mustPut(t, s, newRole("r1", "dev"))
			g.MaxSpaces = 4
			mustPut(t, s, g)
			gs, err := storage.List[shared.Group](ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			if len(gs) != 1 || gs[0].ID != "g1" || gs[0].Revision != g.Revision || gs[0].MaxSpaces != 4 {
				t.Fatalf("list of groups returned %+v, want g1 at revision %d", gs, g.Revision)
			}
		}},
		{"ListOfEmptyKindIsEmpty", func(t *testing.T, s storage.Store) {
			mustPut(t, s, newGroup("g1", "dev"))
			cs, err := s.List(ctx, shared.KindTemplate)
			if err != nil || len(cs) != 0 {
				t.Fatalf("list of templates: %s, %v; want none", describe(cs), err)
			}
		}},
		{"PingAnswers", func(t *testing.T, s storage.Store) {
			if err := s.Ping(ctx); err != nil {
				t.Fatalf("ping of an open store: %v", err)
			}
		}},
	}
}
