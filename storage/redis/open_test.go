package redis_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/testenv"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/redis"
	"github.com/knot-dev/knot/storage/redis/redistest"
	"github.com/knot-dev/knot/storage/storetest"
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
	closed := "127.0.0.1:" + strconv.Itoa(testenv.ClosedPort(t))
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
	opts := redistest.MustStart(t, "--requirepass", "secret").Options("knot")
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
	keys, err := redistest.Shared(t).Admin.Keys(ctx, "*"+p+"*").Result()
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
	if err := redistest.Shared(t).Admin.HSet(context.Background(), "{"+p+"}:meta", "format", "99").Err(); err != nil {
		t.Fatal(err)
	}
	_, err := redis.Open(context.Background(), options(t, p))
	if err == nil || !strings.Contains(err.Error(), `"99"`) || !strings.Contains(err.Error(), p) {
		t.Fatalf("open of a store with layout 99: %v; want an error naming the layout and the prefix", err)
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
	if err := redistest.Shared(t).Admin.ScriptFlush(ctx).Err(); err != nil {
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

func TestHugeBatchIsTooLarge(t *testing.T) {
	s := mustOpen(t, newPrefix(t))
	data := []byte(`{"id":"u1","revision":1,"username":"ann","ssh_public_key":"` + strings.Repeat("k", 65<<20) + `"}`)
	err := s.Apply(context.Background(), storage.Batch{Epoch: "e", Applied: 1, Changes: []shared.Change{{Kind: shared.KindUser, ID: "u1", Revision: 1, Data: data}}})
	if code := shared.ErrorCode(err); code != shared.ETOOLARGE {
		t.Fatalf("apply of a 65 MiB batch: code %q (%v), want %q", code, err, shared.ETOOLARGE)
	}
}

func TestServer(t *testing.T) {
	srv := redistest.Shared(t)
	storetest.RunServer(t, storetest.Server{
		Port:       srv.Port,
		NewBackend: func(t *testing.T) string { return srv.NewPrefix(t) },
		Open: func(ctx context.Context, prefix, addr string, resolve func(context.Context, string) (string, error)) (storage.Store, error) {
			opts := srv.Options(prefix)
			opts.Hosts, opts.Resolve = []string{addr}, resolve
			return redis.Open(ctx, opts)
		},
	})
}
