package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// Bench measures the store that open returns: writes of new and of
// existing records, reads by id and by unique key, and reads of a kind and
// of the feed of 1000 records. open must return a new, empty store on each
// call and close it when b ends.
func Bench(b *testing.B, open func(b *testing.B) storage.Store) {
	for _, bb := range []struct {
		name   string
		filled int
		fn     func(b *testing.B, s storage.Store)
	}{
		{"Put", 0, benchPut},
		{"PutUpdate", 1, benchPutUpdate},
		{"Get", 1000, benchGet},
		{"Lookup", 1000, benchLookup},
		{"List1000", 1000, benchList},
		{"Changes1000", 1000, benchChanges},
	} {
		b.Run(bb.name, func(b *testing.B) {
			s := open(b)
			for i := range bb.filled {
				mustPut(b, s, benchSpace(i))
			}
			bb.fn(b, s)
		})
	}
}

func benchSpace(i int) *shared.Space {
	return &shared.Space{
		Meta:   shared.Meta{ID: fmt.Sprintf("space-%06d", i)},
		UserID: "user-1", TemplateID: "template-1", Name: fmt.Sprintf("dev-%d", i),
		Location: "eu", Shell: "bash", State: shared.SpaceRunning,
		TemplateHash: "0123456789abcdef0123456789abcdef", ContainerID: "c0ffee",
	}
}

func benchPut(b *testing.B, s storage.Store) {
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if err := s.Put(ctx, benchSpace(i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func benchPutUpdate(b *testing.B, s storage.Store) {
	ctx := context.Background()
	sp, err := storage.Get[shared.Space](ctx, s, benchSpace(0).ID)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := s.Put(ctx, sp); err != nil {
			b.Fatal(err)
		}
	}
}

func benchGet(b *testing.B, s storage.Store) {
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := s.Get(ctx, shared.KindSpace, benchSpace(i%1000).ID); err != nil {
			b.Fatal(err)
		}
		i += 7
	}
}

func benchLookup(b *testing.B, s storage.Store) {
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := s.Lookup(ctx, shared.KindSpace, benchSpace(i % 1000).UniqueKeys()[0]); err != nil {
			b.Fatal(err)
		}
		i += 7
	}
}

func benchList(b *testing.B, s storage.Store) {
	ctx := context.Background()
	for b.Loop() {
		cs, err := s.List(ctx, shared.KindSpace)
		if err != nil || len(cs) != 1000 {
			b.Fatalf("list: %d, %v", len(cs), err)
		}
	}
}

func benchChanges(b *testing.B, s storage.Store) {
	ctx := context.Background()
	for b.Loop() {
		cs, err := s.Changes(ctx, 0, 1000)
		if err != nil || len(cs) != 1000 {
			b.Fatalf("changes: %d, %v", len(cs), err)
		}
	}
}
