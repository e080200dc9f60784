package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

// barrier lets n callers through once all n arrived, or after a few
// seconds.
type barrier struct {
	mu      sync.Mutex
	n, seen int
	all     chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, all: make(chan struct{})} }

func (b *barrier) wait() {
	b.mu.Lock()
	if b.seen++; b.seen == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-time.After(3 * time.Second):
	}
}

// userBarrier is a store whose Put and Delete of a user each return only
// when two such calls were made: it makes two servers on one database
// write their first users before either looks again, and look before
// either takes its user back.
type userBarrier struct {
	storage.Store
	put, del *barrier
}

func (b *userBarrier) Put(ctx context.Context, rec shared.Record) error {
	err := b.Store.Put(ctx, rec)
	if rec.RecordKind() == shared.KindUser {
		b.put.wait()
	}
	return err
}

func (b *userBarrier) Delete(ctx context.Context, kind shared.Kind, id string) (int64, error) {
	if kind == shared.KindUser {
		b.del.wait()
	}
	return b.Store.Delete(ctx, kind, id)
}

func TestFirstUserSetupHoldsAcrossServers(t *testing.T) {
	mem := memory.New()
	b := &userBarrier{Store: mem, put: newBarrier(2), del: newBarrier(2)}
	var urls []string
	for range 2 {
		srv, err := web.NewTest(web.TestOptions{Store: b, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Location: "home"})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv.Handler())
		t.Cleanup(hs.Close)
		urls = append(urls, hs.URL)
	}
	p := &pair{t: t, store: mem, urls: [2]string(urls)}
	var calls []burstCall
	for i := range 2 {
		name := fmt.Sprintf("first%d", i)
		calls = append(calls, burstCall{i, "/api/users", map[string]any{"username": name, "email": name + "@example.com", "password": testPassword}})
	}
	got := p.burst("", calls)
	users, err := mem.List(context.Background(), shared.KindUser)
	if err != nil {
		t.Fatal(err)
	}
	if got[http.StatusCreated] != 1 || got[http.StatusConflict] != 1 || len(users) != 1 {
		t.Fatalf("two servers' setups at once: answers %v and %d users; want one 201, one 409 and one user", got, len(users))
	}
}
