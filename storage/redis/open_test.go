package redis_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/redis"
)

func TestOpenRejectsBadOptions(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts redis.Options
		says string
	}{
		{"HostWithoutPort", redis.Options{Hosts: []string{"localhost"}}, `"localhost"`},
		{"SRVHostWithoutResolver", redis.Options{Hosts: []string{"127.0.0.1:6379", "srv+redis.service.consul"}}, "srv+redis.service.consul"},
		{"PrefixWithBrace", redis.Options{KeyPrefix: "knot}"}, "braces"},
		{"NegativeDatabase", redis.Options{DB: -1}, "-1"},
		{"DatabaseOfACluster", redis.Options{Hosts: []string{"127.0.0.1:7000", "127.0.0.1:7001"}, DB: 2}, "only database 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := redis.Open(context.Background(), tt.opts)
			if err == nil {
				s.Close()
				t.Fatal("open succeeded")
			}
			if code := shared.ErrorCode(err); code != shared.EINVALID {
				t.Fatalf("code %q (%v), want %q", code, err, shared.EINVALID)
			}
			if !strings.Contains(shared.ErrorMessage(err), tt.says) {
				t.Fatalf("message %q does not mention %s", shared.ErrorMessage(err), tt.says)
			}
		})
	}
}

func TestOpenFailsWhenTheServerCannotServe(t *testing.T) {
	closed := "127.0.0.1:" + strconv.Itoa(closedPort(t))
	for _, tt := range []struct {
		name string
		opts func(redis.Options) redis.Options
		says string
	}{
		{"NothingListens", func(o redis.Options) redis.Options { o.Hosts = []string{closed}; return o }, "cannot reach the server at " + closed},
		{"NoSuchDatabase", func(o redis.Options) redis.Options { o.DB = 99; return o }, "has no such database"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := redis.Open(context.Background(), tt.opts(options(t, newPrefix(t))))
			if code := shared.ErrorCode(err); code != shared.EUNAVAILABLE {
				t.Fatalf("code %q (%v), want %q", code, err, shared.EUNAVAILABLE)
			}
			if !strings.Contains(shared.ErrorMessage(err), tt.says) {
				t.Fatalf("message %q does not say %q", shared.ErrorMessage(err), tt.says)
			}
		})
	}
}

func TestOpenWithPasswords(t *testing.T) {
	r := mustStartRedis(t, "--requirepass", "secret")
	opts := redis.Options{Hosts: []string{"127.0.0.1:" + strconv.Itoa(r.port)}, KeyPrefix: "knot"}
	for _, tt := range []struct {
		name, password, says string
	}{
		{"NoPasswordIsUnavailable", "", "wants a password"},
		{"WrongPasswordIsUnavailable", "wrong", "refuses the login"},
		{"RightPasswordOpens", "secret", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts.Password = tt.password
			s, err := redis.Open(context.Background(), opts)
			if tt.says == "" {
				if err != nil {
					t.Fatalf("open with the right password: %v", err)
				}
				s.Close()
				return
			}
			if code := shared.ErrorCode(err); code != shared.EUNAVAILABLE {
				t.Fatalf("code %q (%v), want %q", code, err, shared.EUNAVAILABLE)
			}
			if !strings.Contains(shared.ErrorMessage(err), tt.says) {
				t.Fatalf("message %q does not say %q", shared.ErrorMessage(err), tt.says)
			}
		})
	}
}

func TestPrefixesAndDatabasesKeepStoresApart(t *testing.T) {
	ctx := context.Background()
	p := newPrefix(t)
	a, b := mustOpen(t, p), mustOpen(t, newPrefix(t))
	otherDB := options(t, p)
	otherDB.DB = 1
	c, err := redis.Open(ctx, otherDB)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Cleanup(func() {
		db1 := goredis.NewClient(&goredis.Options{Addr: otherDB.Hosts[0], DB: 1, Protocol: 2})
		defer db1.Close()
		keys, _ := db1.Keys(ctx, "{"+p+"}:*").Result()
		if len(keys) > 0 {
			db1.Del(ctx, keys...)
		}
	})
	if err := a.Put(ctx, &shared.Group{Meta: shared.Meta{ID: "g"}, Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	heads := map[string]bool{}
	for name, s := range map[string]storage.Store{"prefix": b, "database": c} {
		if _, err := s.Get(ctx, shared.KindGroup, "g"); shared.ErrorCode(err) != shared.ENOTFOUND {
			t.Fatalf("store under another %s sees the group: %v", name, err)
		}
		if err := s.Put(ctx, &shared.Group{Meta: shared.Meta{ID: "g2"}, Name: "dev"}); err != nil {
			t.Fatalf("store under another %s: name dev is taken: %v", name, err)
		}
		h, err := s.Head(ctx)
		if err != nil || h.Revision != 1 {
			t.Fatalf("head of the store under another %s: %+v, %v; want revision 1", name, h, err)
		}
		heads[h.Epoch] = true
	}
	ha, _ := a.Head(ctx)
	if heads[ha.Epoch] || len(heads) != 2 {
		t.Fatalf("stores apart share epochs: %v and %s", heads, ha.Epoch)
	}
}

func TestEveryKeyIsUnderTheHashTaggedPrefix(t *testing.T) {
	ctx := context.Background()
	p := newPrefix(t)
	s := mustOpen(t, p)
	u := &shared.User{Meta: shared.Meta{ID: "u1"}, Username: "ann", Email: "ann@example.com"}
	if err := s.Put(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, &shared.Group{Meta: shared.Meta{ID: "g"}, Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, shared.KindGroup, "g"); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, &shared.AuditEvent{Event: "x"}); err != nil {
		t.Fatal(err)
	}
	keys, err := server.admin.Keys(ctx, "*"+p+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 6 {
		t.Fatalf("the store made only keys %v", keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "{"+p+"}:") {
			t.Errorf("key %q is not under {%s}:", k, p)
		}
	}
}

func TestOpenRejectsAnotherLayout(t *testing.T) {
	p := newPrefix(t)
	mustOpen(t, p).Close()
	if err := server.admin.HSet(context.Background(), "{"+p+"}:meta", "format", "99").Err(); err != nil {
		t.Fatal(err)
	}
	_, err := redis.Open(context.Background(), options(t, p))
	if err == nil || !strings.Contains(err.Error(), `"99"`) || !strings.Contains(err.Error(), p) {
		t.Fatalf("open of a store with layout 99: %v; want an error naming the layout and the prefix", err)
	}
}

func TestOpensOfANewPrefixAtOnceAgreeOnTheEpoch(t *testing.T) {
	const n = 4
	p := newPrefix(t)
	epochs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := redis.Open(context.Background(), options(t, p))
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

func TestWritesWorkAfterTheServerForgetsItsScripts(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, newPrefix(t))
	g := &shared.Group{Meta: shared.Meta{ID: "g"}, Name: "dev"}
	if err := s.Put(ctx, g); err != nil {
		t.Fatal(err)
	}
	// A restarted Redis knows no scripts.
	if err := server.admin.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, g); err != nil {
		t.Fatalf("put after SCRIPT FLUSH: %v", err)
	}
	if _, err := s.Delete(ctx, shared.KindGroup, "g"); err != nil {
		t.Fatalf("delete after SCRIPT FLUSH: %v", err)
	}
	if cs, err := s.Changes(ctx, 0, 0); err != nil || len(cs) != 1 || !cs[0].Deleted {
		t.Fatalf("changes after SCRIPT FLUSH: %v, %v", cs, err)
	}
}

func TestSRVHostIsResolvedForEachConnection(t *testing.T) {
	ctx := context.Background()
	port := server.start(t)
	var calls atomic.Int64
	opts := options(t, newPrefix(t))
	opts.Hosts = []string{"srv+redis.service.consul"}
	opts.Resolve = func(ctx context.Context, host string) (string, error) {
		calls.Add(1)
		if host != "srv+redis.service.consul" {
			return "", fmt.Errorf("asked for %q", host)
		}
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
	}
	s, err := redis.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(ctx, &shared.Group{Meta: shared.Meta{ID: "g"}, Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	if calls.Load() == 0 {
		t.Fatal("Resolve was never called")
	}

	opts.Resolve = func(ctx context.Context, host string) (string, error) {
		return "", shared.Errorf(shared.ENOTFOUND, "no SRV records for %s", host)
	}
	_, err = redis.Open(ctx, opts)
	if code := shared.ErrorCode(err); code != shared.EUNAVAILABLE {
		t.Fatalf("open when the SRV name does not resolve: code %q (%v), want %q", code, err, shared.EUNAVAILABLE)
	}
	if msg := shared.ErrorMessage(err); !strings.Contains(msg, "srv+redis.service.consul") || !strings.Contains(msg, "no SRV records") {
		t.Fatalf("message %q does not name the host and the resolver's answer", msg)
	}
}

func TestLostServerIsUnavailableUntilItIsBack(t *testing.T) {
	p := newProxy(t, server.start(t))
	opts := options(t, newPrefix(t))
	opts.Hosts = []string{"127.0.0.1:" + strconv.Itoa(p.port)}
	ctx := context.Background()
	s, err := redis.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g := &shared.Group{Meta: shared.Meta{ID: "g"}, Name: "dev"}
	if err := s.Put(ctx, g); err != nil {
		t.Fatal(err)
	}

	p.cut()
	for _, op := range []struct {
		name string
		call func() error
	}{
		{"Put", func() error { return s.Put(ctx, g) }},
		{"Get", func() error { _, err := s.Get(ctx, shared.KindGroup, "g"); return err }},
		{"Changes", func() error { _, err := s.Changes(ctx, 0, 0); return err }},
		{"AppendAudit", func() error { return s.AppendAudit(ctx, &shared.AuditEvent{Event: "x"}) }},
		{"ListAudit", func() error { _, _, err := s.ListAudit(ctx, 0, 0); return err }},
		{"Ping", func() error { return s.Ping(ctx) }},
	} {
		err := op.call()
		if code := shared.ErrorCode(err); code != shared.EUNAVAILABLE {
			t.Fatalf("%s while the server is away: code %q (%v), want %q", op.name, code, err, shared.EUNAVAILABLE)
		}
		if !strings.Contains(shared.ErrorMessage(err), opts.Hosts[0]) {
			t.Fatalf("%s while the server is away says %q, which does not name %s", op.name, shared.ErrorMessage(err), opts.Hosts[0])
		}
	}
	if g.Revision != 1 {
		t.Fatalf("failed put changed the revision to %d", g.Revision)
	}

	p.restore(t)
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

func TestHugeBatchIsTooLarge(t *testing.T) {
	s := mustOpen(t, newPrefix(t))
	data := []byte(`{"id":"u1","revision":1,"username":"ann","ssh_public_key":"` + strings.Repeat("k", 65<<20) + `"}`)
	err := s.Apply(context.Background(), storage.Batch{Epoch: "e", Applied: 1, Changes: []shared.Change{{Kind: shared.KindUser, ID: "u1", Revision: 1, Data: data}}})
	if code := shared.ErrorCode(err); code != shared.ETOOLARGE {
		t.Fatalf("apply of a 65 MiB batch: code %q (%v), want %q", code, err, shared.ETOOLARGE)
	}
}
