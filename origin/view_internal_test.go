package origin

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage/memory"
)

// TestReevaluateDropsWhatWasDeletedAfterItsPage: a restricted view is
// re-evaluated for a page of the feed, but from a listing of the store made
// after it. A template deleted after the page is not listed, while the leaf
// may hold it: the re-evaluation must bring its tombstone, or the leaf is
// left with a template its owner may no longer use. When a compaction took
// that tombstone, the leaf must start over.
func TestReevaluateDropsWhatWasDeletedAfterItsPage(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	owner := &shared.User{Meta: shared.Meta{ID: "owner"}, Username: "owner", Email: "owner@example.com", Groups: []string{"g1"}, Active: true}
	for _, r := range []shared.Record{
		owner,
		&shared.Group{Meta: shared.Meta{ID: "g1"}, Name: "g1"},
		&shared.Template{Meta: shared.Meta{ID: "kept"}, Name: "kept", Kind: shared.TemplateManual, Groups: []string{"g1"}},
		&shared.Template{Meta: shared.Meta{ID: "gone"}, Name: "gone", Kind: shared.TemplateManual, Groups: []string{"g1"}},
	} {
		if err := st.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// The owner leaves g1: the page the leaf gets ends here.
	owner.Groups = nil
	if err := st.Put(ctx, owner); err != nil {
		t.Fatal(err)
	}
	pageEnd := owner.Revision
	// Before the listing, a template is deleted.
	if _, err := st.Delete(ctx, shared.KindTemplate, "gone"); err != nil {
		t.Fatal(err)
	}

	v := &view{restricted: true, owner: owner}
	ws, err := v.reevaluate(ctx, st, pageEnd)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, w := range ws {
		got[string(w.Kind)+"/"+w.ID] = w.Deleted
	}
	for _, id := range []string{"template/kept", "template/gone", "group/g1"} {
		if deleted, ok := got[id]; !ok || !deleted {
			t.Errorf("re-evaluation %v: want a tombstone for %s", got, id)
		}
	}

	// A compaction takes the tombstone: the leaf cannot be told, and must
	// start over.
	head, err := st.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Compact(ctx, head.Revision); err != nil {
		t.Fatal(err)
	}
	_, err = v.reevaluate(ctx, st, pageEnd)
	var ce *closeError
	if !errors.As(err, &ce) || int(ce.code) != wire.CloseStartOver {
		t.Fatalf("re-evaluation after the compaction: %v, want a close with %d", err, wire.CloseStartOver)
	}
}

// TestRestrictedViewHoldsOnlyItsLocationsVariables: a restricted leaf gets
// the variables that are unscoped or scoped to its own location (in any
// case), and a tombstone for one scoped elsewhere, which it may hold from
// before the variable moved; a trusted view holds them all.
func TestRestrictedViewHoldsOnlyItsLocationsVariables(t *testing.T) {
	owner := &shared.User{Meta: shared.Meta{ID: "owner"}, Username: "owner", Active: true}
	restricted := &view{restricted: true, owner: owner, location: "user:owner"}
	trusted := &view{}
	for _, tt := range []struct {
		location string
		in       bool
	}{
		{"", true},
		{"user:owner", true},
		{"USER:Owner", true},
		{"owner", false},
		{"user:other", false},
		{"eu", false},
	} {
		data, _ := json.Marshal(&shared.TemplateVar{Meta: shared.Meta{ID: "v"}, Name: "v", Value: "x", Location: tt.location})
		c := shared.Change{Kind: shared.KindTemplateVar, ID: "v", Revision: 3, Data: data}
		w, ok, err := restricted.filter(c)
		if err != nil || !ok || w.Deleted == tt.in {
			t.Errorf("variable of location %q: restricted view gives %+v, %v, %v; want it in the view: %v", tt.location, w, ok, err, tt.in)
		}
		if w, ok, err := trusted.filter(c); err != nil || !ok || w.Deleted {
			t.Errorf("variable of location %q: trusted view gives %+v, %v, %v", tt.location, w, ok, err)
		}
	}
}
