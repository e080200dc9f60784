package main_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/testenv"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/mysql"
	"github.com/knot-dev/knot/storage/mysql/mysqltest"
	"github.com/knot-dev/knot/storage/redis"
	"github.com/knot-dev/knot/storage/redis/redistest"
)

// storeServer is a real MariaDB or Redis server for knot to keep its store
// in.
type storeServer struct {
	port int
	// fresh empties the store or names a new one, and returns the flags
	// that select it on the server at addr ("host:port" or "srv+name").
	fresh func(t *testing.T) (flags func(addr string) []string)
	// open opens the store that the flags of the last fresh select.
	open func(t *testing.T) storage.Store
}

func mariaDB(t *testing.T) storeServer {
	srv := mysqltest.MustStart(t)
	var db string
	return storeServer{
		port: srv.Port,
		fresh: func(t *testing.T) func(string) []string {
			db = srv.NewDatabase(t)
			return func(addr string) []string {
				flags := []string{"--mysql-enabled", "--mysql-user", "root", "--mysql-database", db}
				if host, port, err := net.SplitHostPort(addr); err == nil {
					return append(flags, "--mysql-host", host, "--mysql-port", port)
				}
				return append(flags, "--mysql-host", addr)
			}
		},
		open: func(t *testing.T) storage.Store {
			s, err := mysql.Open(context.Background(), srv.Options(db))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

func redisServer(t *testing.T) storeServer {
	srv := redistest.MustStart(t)
	return storeServer{
		port: srv.Port,
		fresh: func(t *testing.T) func(string) []string {
			if err := srv.Admin.FlushAll(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
			return func(addr string) []string { return []string{"--redis-enabled", "--redis-hosts", addr} }
		},
		open: func(t *testing.T) storage.Store {
			s, err := redis.Open(context.Background(), srv.Options("knot"))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

// startDNS answers the SRV question for name with target db.knot.test and
// port, and that target's A question with 127.0.0.1, on a loopback UDP
// port; any other name does not exist. It returns the server's address and
// stops it when t ends.
func startDNS(t *testing.T, name string, port int) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const target = "db.knot.test."
	handler := mdns.HandlerFunc(func(w mdns.ResponseWriter, q *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		question := q.Question[0]
		hdr := mdns.RR_Header{Name: question.Name, Class: mdns.ClassINET, Ttl: 0, Rrtype: question.Qtype}
		switch {
		case question.Name == mdns.Fqdn(name) && question.Qtype == mdns.TypeSRV:
			m.Answer = append(m.Answer, &mdns.SRV{Hdr: hdr, Port: uint16(port), Target: target})
		case question.Name == target && question.Qtype == mdns.TypeA:
			m.Answer = append(m.Answer, &mdns.A{Hdr: hdr, A: net.IPv4(127, 0, 0, 1)})
		case question.Name == target:
		default:
			m.Rcode = mdns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	server := &mdns.Server{PacketConn: pc, Handler: handler}
	started := make(chan struct{})
	server.NotifyStartedFunc = func() { close(started) }
	done := make(chan struct{})
	go func() { defer close(done); server.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { server.Shutdown(); <-done })
	return pc.LocalAddr().String()
}

func TestAdminSetPasswordOnAServerStore(t *testing.T) {
	for _, server := range []struct {
		name  string
		start func(t *testing.T) storeServer
	}{
		{"MariaDB", mariaDB},
		{"Redis", redisServer},
	} {
		t.Run(server.name, func(t *testing.T) {
			st := server.start(t)
			const srvName = "knot-store.test"
			nameserver := startDNS(t, srvName, st.port)
			for _, via := range []struct {
				name, addr string
				env        map[string]string
			}{
				{"ByAddress", "127.0.0.1:" + strconv.Itoa(st.port), nil},
				{"BySRVName", "srv+" + srvName, map[string]string{"KNOT_RESOLVER_NAMESERVERS": nameserver}},
			} {
				t.Run(via.name, func(t *testing.T) {
					flags := st.fresh(t)(via.addr)
					s := st.open(t)
					err := s.Put(context.Background(), newUser())
					s.Close()
					if err != nil {
						t.Fatal(err)
					}

					args := append(append([]string{"admin", "set-password"}, flags...), "ann@example.com")
					r := knot(t, via.env, "correct horse\n", args...)
					if r.code != 0 || !strings.Contains(r.stdout, "ann@example.com") {
						t.Fatalf("knot %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
					}

					s = st.open(t)
					defer s.Close()
					ctx := context.Background()
					u, err := storage.Lookup[shared.User](ctx, s, "email:ann@example.com")
					if err != nil {
						t.Fatal(err)
					}
					if !crypt.CheckPassword(u.PasswordHash, "correct horse") || crypt.CheckPassword(u.PasswordHash, "old-password") {
						t.Error("the store does not hold the new password in place of the old one")
					}
					if u.TOTPSecret != "JBSWY3DPEHPK3PXP" || u.Username != "ann" || !u.Active {
						t.Errorf("other fields changed: %+v", u)
					}
					evs, _, err := s.ListAudit(ctx, 0, 10)
					if err != nil || len(evs) != 1 || evs[0].Event != "user.password_set" || evs[0].Properties["user_id"] != u.ID {
						t.Errorf("audit log %+v, %v; want one user.password_set event for %s", evs, err, u.ID)
					}
				})
			}
		})
	}
}

func TestAdminNamesAServerStoreItCannotReach(t *testing.T) {
	closed := "127.0.0.1:" + strconv.Itoa(testenv.ClosedPort(t))
	nameserver := startDNS(t, "knot-store.test", 1)
	noSRV := map[string]string{"KNOT_RESOLVER_NAMESERVERS": nameserver}
	for _, tt := range []struct {
		name  string
		flags []string
		env   map[string]string
		says  []string
	}{
		{"MySQLNotListening", []string{"--mysql-enabled", "--mysql-host", "127.0.0.1", "--mysql-port", strings.TrimPrefix(closed, "127.0.0.1:")}, nil, []string{"mysql", "cannot reach the server at " + closed}},
		{"RedisNotListening", []string{"--redis-enabled", "--redis-hosts", closed}, nil, []string{"redis", "cannot reach the server at " + closed}},
		{"MySQLSRVNameWithoutRecords", []string{"--mysql-enabled", "--mysql-host", "srv+nothing.knot.test"}, noSRV, []string{"srv+nothing.knot.test"}},
		{"RedisSRVNameWithoutRecords", []string{"--redis-enabled", "--redis-hosts", "srv+nothing.knot.test"}, noSRV, []string{"srv+nothing.knot.test"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"admin", "reset-totp"}, tt.flags...), "ann@example.com")
			r := knot(t, tt.env, "", args...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\nstderr: %s", r.code, r.stderr)
			}
			for _, s := range tt.says {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr does not say %q:\n%s", s, r.stderr)
				}
			}
		})
	}
}
