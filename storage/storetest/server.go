package storetest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/testenv"
	"github.com/knot-dev/knot/storage"
)

// Server describes, for RunServer, a driver that keeps its store in a
// server it reaches over TCP, and a running server for it.
type Server struct {
	// Port is the loopback port of the running server.
	Port int
	// NewBackend returns the name of a new, empty place on the server for
	// one store (a database, a key prefix), removed when t ends.
	NewBackend func(t *testing.T) string
	// Open opens the store kept in backend on the server at addr, which is
	// "127.0.0.1:port", or a "srv+" name when resolve is not nil; resolve
	// then turns the name into "host:port" and must be called for every
	// new connection.
	Open func(ctx context.Context, backend, addr string, resolve func(ctx context.Context, host string) (string, error)) (storage.Store, error)
}

// RunServer checks what a store kept in a server promises about the
// server: it answers EUNAVAILABLE, naming the server, while the server
// cannot be reached, and works again once the server is back; srv+ hosts
// are resolved for every connection; and stores opened at once on a new
// backend agree on one epoch.
func RunServer(t *testing.T, srv Server) {
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, srv Server)
	}{
		{"UnreachableServerIsUnavailable", unreachableServer},
		{"LostServerIsUnavailableUntilItIsBack", lostServer},
		{"SRVHostIsResolvedForEachConnection", srvHost},
		{"OpensOfANewBackendAtOnceAgreeOnTheEpoch", opensAtOnce},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, srv) })
	}
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// mustOpenAt opens the store in backend at addr and closes it when t ends.
func (srv Server) mustOpenAt(t *testing.T, backend, addr string) storage.Store {
	t.Helper()
	s, err := srv.Open(context.Background(), backend, addr, nil)
	if err != nil {
		t.Fatalf("open %s at %s: %v", backend, addr, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// wantUnavailable fails unless err is EUNAVAILABLE and names all of says.
func wantUnavailable(t *testing.T, what string, err error, says ...string) {
	t.Helper()
	wantCode(t, err, shared.EUNAVAILABLE, what)
	for _, s := range says {
		if !strings.Contains(shared.ErrorMessage(err), s) {
			t.Fatalf("%s says %q, which does not name %s", what, shared.ErrorMessage(err), s)
		}
	}
}

func unreachableServer(t *testing.T, srv Server) {
	addr := loopback(testenv.ClosedPort(t))
	s, err := srv.Open(context.Background(), srv.NewBackend(t), addr, nil)
	if err == nil {
		s.Close()
	}
	wantUnavailable(t, "open of a closed port", err, addr)
}

func lostServer(t *testing.T, srv Server) {
	p := testenv.NewProxy(t, srv.Port)
	addr := loopback(p.Port)
	s := srv.mustOpenAt(t, srv.NewBackend(t), addr)
	ctx := context.Background()
	g := newGroup("g", "dev")
	mustPut(t, s, g)

	p.Cut()
	for _, op := range []struct {
		name string
		call func() error
	}{
		{"Put", func() error { return s.Put(ctx, g) }},
		{"Get", func() error { _, err := s.Get(ctx, shared.KindGroup, "g"); return err }},
		{"Changes", func() error { _, err := s.Changes(ctx, 0, 0); return err }},
		{"AppendAudit", func() error { return s.AppendAudit(ctx, &shared.AuditEvent{Event: "x"}) }},
		{"ListAudit", func() error { _, _, err := s.ListAudit(ctx, 0, 0); return err }},
		{"PruneAudit", func() error { _, err := s.PruneAudit(ctx, time.Now()); return err }},
		{"Ping", func() error { return s.Ping(ctx) }},
	} {
		wantUnavailable(t, op.name+" while the server is away", op.call(), addr)
	}
	if g.Revision != 1 {
		t.Fatalf("failed put changed the revision to %d", g.Revision)
	}

	p.Restore(t)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping once the server is back: %v", err)
	}
	if err := s.Put(ctx, g); err != nil {
		t.Fatalf("put once the server is back: %v", err)
	}
	if got, err := storage.Get[shared.Group](ctx, s, "g"); err != nil || got.Revision != 2 {
		t.Fatalf("group once the server is back: %+v, %v; want revision 2", got, err)
	}
}

func srvHost(t *testing.T, srv Server) {
	const name = "srv+knot-store.service.consul"
	ctx := context.Background()
	backend := srv.NewBackend(t)
	var calls atomic.Int64
	s, err := srv.Open(ctx, backend, name, func(ctx context.Context, host string) (string, error) {
		calls.Add(1)
		if host != name {
			return "", fmt.Errorf("asked for %q", host)
		}
		return loopback(srv.Port), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustPut(t, s, newGroup("g", "dev"))
	if calls.Load() == 0 {
		t.Fatal("the resolver was never called")
	}

	s, err = srv.Open(ctx, backend, name, func(ctx context.Context, host string) (string, error) {
		return "", shared.Errorf(shared.ENOTFOUND, "no SRV records for %s", host)
	})
	if err == nil {
		s.Close()
	}
	wantUnavailable(t, "open when the SRV name does not resolve", err, name, "no SRV records")
}

func opensAtOnce(t *testing.T, srv Server) {
	const n = 4
	backend := srv.NewBackend(t)
	epochs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := srv.Open(context.Background(), backend, loopback(srv.Port), nil)
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			h, err := s.Head(context.Background())
			epochs[i], errs[i] = h.Epoch, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("open %d: %v", i, errs[i])
		}
		if epochs[i] != epochs[0] {
			t.Fatalf("stores opened at once have epochs %q", epochs)
		}
	}
}
