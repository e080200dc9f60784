package mysql_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/mysql"
)

func benchSpace(i int) *shared.Space {
	return &shared.Space{
		Meta:   shared.Meta{ID: fmt.Sprintf("space-%06d", i)},
		UserID: "user-1", TemplateID: "template-1", Name: fmt.Sprintf("dev-%d", i),
		Location: "eu", Shell: "bash", State: shared.SpaceRunning,
		TemplateHash: "0123456789abcdef0123456789abcdef", ContainerID: "c0ffee",
	}
}

// filled returns a store holding n spaces.
func filled(b *testing.B, n int) *mysql.Store {
	b.Helper()
	s := mustOpen(b, newDatabase(b))
	for i := range n {
		if err := s.Put(context.Background(), benchSpace(i)); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func BenchmarkPut(b *testing.B) {
	s := filled(b, 0)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if err := s.Put(ctx, benchSpace(i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkPutUpdate(b *testing.B) {
	s := filled(b, 1)
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

func BenchmarkGet(b *testing.B) {
	s := filled(b, 1000)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := s.Get(ctx, shared.KindSpace, benchSpace(i%1000).ID); err != nil {
			b.Fatal(err)
		}
		i += 7
	}
}

func BenchmarkLookup(b *testing.B) {
	s := filled(b, 1000)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := s.Lookup(ctx, shared.KindSpace, benchSpace(i % 1000).UniqueKeys()[0]); err != nil {
			b.Fatal(err)
		}
		i += 7
	}
}

func BenchmarkList1000Spaces(b *testing.B) {
	s := filled(b, 1000)
	ctx := context.Background()
	for b.Loop() {
		cs, err := s.List(ctx, shared.KindSpace)
		if err != nil || len(cs) != 1000 {
			b.Fatalf("list: %d, %v", len(cs), err)
		}
	}
}

func BenchmarkChanges1000(b *testing.B) {
	s := filled(b, 1000)
	ctx := context.Background()
	for b.Loop() {
		cs, err := s.Changes(ctx, 0, 1000)
		if err != nil || len(cs) != 1000 {
			b.Fatalf("changes: %d, %v", len(cs), err)
		}
	}
}
