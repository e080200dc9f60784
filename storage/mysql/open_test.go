package mysql_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/mysql"
	"github.com/knot-dev/knot/storage/mysql/mysqltest"
	"github.com/knot-dev/knot/storage/storetest"
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
	rows, err := mysqltest.Shared(t).Admin.Query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", db)
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
	t.Cleanup(func() { mysqltest.Shared(t).Admin.Exec("DROP USER '" + user + "'@'127.0.0.1'") })
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

func TestServer(t *testing.T) {
	srv := mysqltest.Shared(t)
	storetest.RunServer(t, storetest.Server{
		Port:       srv.Port,
		NewBackend: func(t *testing.T) string { return srv.NewDatabase(t) },
		Open: func(ctx context.Context, db, addr string, resolve func(context.Context, string) (string, error)) (storage.Store, error) {
			opts := srv.Options(db)
			opts.Host, opts.Port, opts.Resolve = addr, 0, resolve
			if resolve == nil {
				host, port, _ := net.SplitHostPort(addr)
				opts.Host, opts.Port = host, atoi(port)
			}
			return mysql.Open(ctx, opts)
		},
	})
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
