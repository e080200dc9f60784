package mysql_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/mysql"
)

func TestOpenRejectsBadOptions(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		opts mysql.Options
		says string
	}{
		{"NoDatabase", mysql.Options{}, "database name"},
		{"DatabaseWithBackquote", mysql.Options{Database: "knot`; DROP"}, "database name"},
		{"DatabaseTooLong", mysql.Options{Database: strings.Repeat("k", 65)}, "database name"},
		{"HostWithPort", mysql.Options{Database: "knot", Host: "db.example:3306"}, "db.example:3306"},
		{"PortOutOfRange", mysql.Options{Database: "knot", Port: 70000}, "70000"},
		{"SRVHostWithoutResolver", mysql.Options{Database: "knot", Host: "srv+mysql.service.consul"}, "srv+mysql.service.consul"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := mysql.Open(ctx, tt.opts)
			if err == nil {
				s.Close()
				t.Fatal("open succeeded")
			}
			if code := shared.ErrorCode(err); code != shared.EINVALID {
				t.Fatalf("code %q (%v), want %q", code, err, shared.EINVALID)
			}
			if !strings.Contains(shared.ErrorMessage(err), tt.says) {
				t.Fatalf("message %q does not mention %q", shared.ErrorMessage(err), tt.says)
			}
		})
	}
}

func TestOpenOfUnreachableServerIsUnavailable(t *testing.T) {
	port := closedPort(t)
	_, err := mysql.Open(context.Background(), mysql.Options{Host: "127.0.0.1", Port: port, User: "root", Database: "knot"})
	if code := shared.ErrorCode(err); code != shared.EUNAVAILABLE {
		t.Fatalf("open of a closed port: code %q (%v), want %q", code, err, shared.EUNAVAILABLE)
	}
	if addr := "127.0.0.1:" + strconv.Itoa(port); !strings.Contains(shared.ErrorMessage(err), addr) {
		t.Fatalf("message %q does not name %s", shared.ErrorMessage(err), addr)
	}
}

func TestOpenWithWrongPasswordIsUnavailable(t *testing.T) {
	opts := options(t, newDatabase(t))
	opts.Password = "wrong"
	_, err := mysql.Open(context.Background(), opts)
	if code := shared.ErrorCode(err); code != shared.EUNAVAILABLE {
		t.Fatalf("open with a wrong password: code %q (%v), want %q", code, err, shared.EUNAVAILABLE)
	}
	if msg := shared.ErrorMessage(err); !strings.Contains(msg, "refuses the login") || !strings.Contains(msg, "127.0.0.1:") {
		t.Fatalf("message %q does not say that the server at 127.0.0.1 refuses the login", msg)
	}
}

func TestOpenCreatesDatabaseAndTables(t *testing.T) {
	db := newDatabase(t)
	mustOpen(t, db)
	var tables []string
	rows, err := server.admin.Query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	if got := strings.Join(tables, " "); got != "audit feed meta records unique_keys" {
		t.Fatalf("database %s has tables %q", db, got)
	}
}

func TestOpenOfDatabaseMadeForAUserWithoutCreatePrivilege(t *testing.T) {
	db := newDatabase(t)
	user := db + "_user"
	admin(t, "CREATE DATABASE `"+db+"`")
	admin(t, "CREATE USER '"+user+"'@'127.0.0.1' IDENTIFIED BY 'secret'")
	t.Cleanup(func() { server.admin.Exec("DROP USER '" + user + "'@'127.0.0.1'") })
	admin(t, "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, INDEX ON `"+db+"`.* TO '"+user+"'@'127.0.0.1'")
	opts := options(t, db)
	opts.User, opts.Password = user, "secret"
	s, err := mysql.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("open as a user with rights on the database only: %v", err)
	}
	defer s.Close()
	g := &shared.Group{Meta: shared.Meta{ID: "g"}, Name: "dev"}
	if err := s.Put(context.Background(), g); err != nil {
		t.Fatal(err)
	}

	opts.Database = db + "_other"
	_, err = mysql.Open(context.Background(), opts)
	if code := shared.ErrorCode(err); code != shared.EUNAVAILABLE {
		t.Fatalf("open of a missing database the user may not create: code %q (%v), want %q", code, err, shared.EUNAVAILABLE)
	}
}

func TestOpenRejectsAnotherSchema(t *testing.T) {
	db := newDatabase(t)
	mustOpen(t, db).Close()
	admin(t, "UPDATE `"+db+"`.meta SET num = 99 WHERE name = 'schema'")
	_, err := mysql.Open(context.Background(), options(t, db))
	if err == nil || !strings.Contains(err.Error(), "schema 99") || !strings.Contains(err.Error(), db) {
		t.Fatalf("open of a database with schema 99: %v; want an error naming the schema and the database", err)
	}
}

func TestOpensOfANewDatabaseAtOnceAgreeOnTheEpoch(t *testing.T) {
	const n = 4
	db := newDatabase(t)
	epochs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := mysql.Open(context.Background(), options(t, db))
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

func TestSRVHostIsResolvedForEachConnection(t *testing.T) {
	port := server.start(t)
	var calls atomic.Int64
	opts := options(t, newDatabase(t))
	opts.Host, opts.Port = "srv+mysql.service.consul", 0
	opts.Resolve = func(ctx context.Context, host string) (string, error) {
		calls.Add(1)
		if host != "srv+mysql.service.consul" {
			return "", fmt.Errorf("asked for %q", host)
		}
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
	}
	s, err := mysql.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(context.Background(), &shared.Group{Meta: shared.Meta{ID: "g"}, Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	if calls.Load() == 0 {
		t.Fatal("Resolve was never called")
	}

	opts.Resolve = func(ctx context.Context, host string) (string, error) {
		return "", shared.Errorf(shared.ENOTFOUND, "no SRV records for %s", host)
	}
	_, err = mysql.Open(context.Background(), opts)
	if code := shared.ErrorCode(err); code != shared.EUNAVAILABLE {
		t.Fatalf("open when the SRV name does not resolve: code %q (%v), want %q", code, err, shared.EUNAVAILABLE)
	}
	if msg := shared.ErrorMessage(err); !strings.Contains(msg, "srv+mysql.service.consul") || !strings.Contains(msg, "no SRV records") {
		t.Fatalf("message %q does not name the host and the resolver's answer", msg)
	}
}

func TestLostServerIsUnavailableUntilItIsBack(t *testing.T) {
	p := newProxy(t, server.start(t))
	opts := options(t, newDatabase(t))
	opts.Port = p.port
	s, err := mysql.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	g := &shared.Group{Meta: shared.Meta{ID: "g"}, Name: "dev"}
	if err := s.Put(ctx, g); err != nil {
		t.Fatal(err)
	}

	p.cut()
	addr := "127.0.0.1:" + strconv.Itoa(p.port)
	for _, op := range []struct {
		name string
		call func() error
	}{
		{"Put", func() error { return s.Put(ctx, g) }},
		{"Get", func() error { _, err := s.Get(ctx, shared.KindGroup, "g"); return err }},
		{"Changes", func() error { _, err := s.Changes(ctx, 0, 0); return err }},
		{"AppendAudit", func() error { return s.AppendAudit(ctx, &shared.AuditEvent{Event: "x"}) }},
		{"Ping", func() error { return s.Ping(ctx) }},
	} {
		err := op.call()
		if code := shared.ErrorCode(err); code != shared.EUNAVAILABLE {
			t.Fatalf("%s while the server is away: code %q (%v), want %q", op.name, code, err, shared.EUNAVAILABLE)
		}
		if !strings.Contains(shared.ErrorMessage(err), addr) {
			t.Fatalf("%s while the server is away says %q, which does not name %s", op.name, shared.ErrorMessage(err), addr)
		}
	}

	p.restore(t)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping once the server is back: %v", err)
	}
	if err := s.Put(ctx, g); err != nil {
		t.Fatalf("put once the server is back: %v", err)
	}
	if got, err := storage.Get[shared.Group](ctx, s, "g"); err != nil || got.Revision != g.Revision {
		t.Fatalf("group once the server is back: %+v, %v; want revision %d", got, err, g.Revision)
	}
}

func TestTooLongIDsAndKeysAreInvalid(t *testing.T) {
	s := mustOpen(t, newDatabase(t))
	ctx := context.Background()
	long := strings.Repeat("x", 600)
	err := s.Put(ctx, &shared.Group{Meta: shared.Meta{ID: long}, Name: "dev"})
	if code := shared.ErrorCode(err); code != shared.EINVALID || !strings.Contains(shared.ErrorMessage(err), "600 bytes") {
		t.Fatalf("put with a 600-byte id: %v; want %s naming the length", err, shared.EINVALID)
	}
	err = s.Put(ctx, &shared.Group{Meta: shared.Meta{ID: "g"}, Name: strings.Repeat("n", 2000)})
	if code := shared.ErrorCode(err); code != shared.EINVALID {
		t.Fatalf("put with a 2000-byte name: %v; want %s", err, shared.EINVALID)
	}
	err = s.Apply(ctx, storage.Batch{Epoch: "e", Applied: 1, Changes: []shared.Change{{Kind: shared.KindGroup, ID: long, Revision: 1, Deleted: true}}})
	if code := shared.ErrorCode(err); code != shared.EINVALID || !strings.Contains(shared.ErrorMessage(err), "change 0") {
		t.Fatalf("apply with a 600-byte id: %v; want %s naming the change", err, shared.EINVALID)
	}
}

// closedPort returns a loopback port that nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// proxy forwards a loopback port to the server; cut closes the port and
// every connection through it, as a server that went away; restore opens
// the port again.
type proxy struct {
	port, target int
	mu           sync.Mutex
	l            net.Listener // guarded by mu
	conns        []net.Conn   // guarded by mu
	wg           sync.WaitGroup
}

func newProxy(t *testing.T, target int) *proxy {
	p := &proxy{target: target}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.port = l.Addr().(*net.TCPAddr).Port
	p.serve(l)
	t.Cleanup(func() {
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) serve(l net.Listener) {
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.target)))
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Go(func() { io.Copy(up, c); up.Close() })
			p.wg.Go(func() { io.Copy(c, up); c.Close() })
		}
	})
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) restore(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p.port))
	if err != nil {
		t.Fatalf("listen again on port %d: %v", p.port, err)
	}
	p.serve(l)
}

func TestRecordOverMaxAllowedPacketIsTooLarge(t *testing.T) {
	s := mustOpen(t, newDatabase(t)) // the test server allows 4 MiB
	ctx := context.Background()
	key := strings.Repeat("k", 5<<20)
	err := s.Put(ctx, &shared.User{Meta: shared.Meta{ID: "u1"}, Username: "ann", SSHPublicKey: key})
	if code := shared.ErrorCode(err); code != shared.ETOOLARGE {
		t.Fatalf("put of a 5 MiB record: code %q (%v), want %q", code, err, shared.ETOOLARGE)
	}
	data := []byte(`{"id":"u1","revision":1,"username":"ann","ssh_public_key":"` + key + `"}`)
	err = s.Apply(ctx, storage.Batch{Epoch: "e", Applied: 1, Changes: []shared.Change{{Kind: shared.KindUser, ID: "u1", Revision: 1, Data: data}}})
	if code := shared.ErrorCode(err); code != shared.ETOOLARGE {
		t.Fatalf("apply of a 5 MiB record: code %q (%v), want %q", code, err, shared.ETOOLARGE)
	}
	if h, err := s.Head(ctx); err != nil || h.Revision != 0 {
		t.Fatalf("head after the refused writes: %+v, %v; want revision 0", h, err)
	}
	if _, applied, err := s.Replica(ctx); err != nil || applied != 0 {
		t.Fatalf("replica after the refused apply: %d, %v; want 0", applied, err)
	}
}
