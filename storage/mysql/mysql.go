// Package mysql provides a storage.Store kept in a MySQL or MariaDB database,
// for installations that run several origin servers on one database or that
// already operate MySQL. Open creates the database and its tables when they
// are missing.
//
// # Tables
//
//	meta         name → number and string: the schema version, the epoch,
//	             the revision counter, the horizon and the replica state
//	records      one row per record: kind, id, revision and the record's JSON
//	unique_keys  one row per claimed unique key: kind, key and the holder's id
//	feed         the store's own feed, one row per record at its latest
//	             revision: revision, kind, id and whether it is a tombstone
//	audit        audit events, numbered by an AUTO_INCREMENT id
//
// Ids, keys and kinds are VARBINARY, so they compare and sort byte by byte
// (List orders by id like every other driver) and trailing spaces count.
//
// # Revisions across processes
//
// Every write transaction begins by locking the revision row of meta: Put and
// Delete with "UPDATE meta SET num = LAST_INSERT_ID(num + 1)", which also
// returns the new revision, and Apply and Compact with SELECT … FOR UPDATE.
// InnoDB holds that row lock until the transaction ends, so writers of every
// process that shares the database run one at a time: revisions are unique,
// a rolled-back write gives its revision back, and revision N+1 cannot commit
// before revision N, so a reader of the feed never sees a later write before
// an earlier one. The server's default isolation level, REPEATABLE READ, is
// kept: InnoDB takes a transaction's snapshot at its first plain read, which
// comes after the lock is granted, so a writer sees every write committed
// before it (READ COMMITTED would do as well). Readers take no locks; each
// read is one statement, or a read-only transaction where it needs two.
//
// A transaction of Update takes the same lock first and reads after it, so
// it is serializable against every writer of the database: a count of a
// kind's records or the lookup of a unique name cannot change before it
// commits. Its writes take revisions one after the other, and it sets the
// revision row to the last one when it commits.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/internal/driver"
)

var _ storage.Store = (*Store)(nil)

// Options configure Open.
type Options struct {
	// Host is the server's host name or address, or "srv+name" to look up
	// host and port with Resolve. Empty means "localhost".
	Host string
	// Port is the server's port. 0 means 3306. A srv+ host takes its port
	// from the SRV record instead.
	Port int
	// User and Password log in to the server.
	User, Password string
	// Database is the database that holds the store. It is created when
	// missing (the user then needs the CREATE privilege). Required: 1 to 64
	// letters, digits, dashes, underscores or dollar signs.
	Database string
	// Resolve turns a "srv+name" host into "host:port"; it is called for
	// every new connection, so a changed SRV record is followed. nil means
	// hosts are used as they are, and a srv+ host is an error.
	Resolve func(ctx context.Context, host string) (string, error)
	// Logger receives the driver's own complaints at warn level. nil means
	// slog.Default().
	Logger *slog.Logger
	// MaxOpen and MaxIdle bound the connection pool. 0 means 100 and 10.
	MaxOpen, MaxIdle int
	// ConnMaxLifetime closes connections older than this. 0 means 5 minutes.
	ConnMaxLifetime time.Duration
}

// Store is a storage.Store kept in a MySQL database. Open it with Open.
type Store struct {
	db    *sql.DB
	log   *slog.Logger
	addr  string // the server as the user named it, for messages
	name  string // the database
	epoch string

	life driver.Life // fails every method after Close
}

// schemaVersion is the version of the tables this package reads and writes.
const schemaVersion = 1

var dbNameRe = regexp.MustCompile(`^[A-Za-z0-9_$-]{1,64}$`)

// Open connects to the server, creates the database and its tables when they
// are missing, and returns the store. It fails with EINVALID for bad options
// and EUNAVAILABLE when the server cannot be reached or refuses the login.
// Open starts no goroutine.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if !dbNameRe.MatchString(opts.Database) {
		return nil, shared.Errorf(shared.EINVALID, "mysql: database name %q must be 1 to 64 letters, digits, dashes, underscores or dollar signs", opts.Database)
	}
	host := opts.Host
	if host == "" {
		host = "localhost"
	}
	port := opts.Port
	if port == 0 {
		port = 3306
	}
	if port < 0 || port > 65535 {
		return nil, shared.Errorf(shared.EINVALID, "mysql: port %d is not between 1 and 65535", port)
	}
	if strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return nil, shared.Errorf(shared.EINVALID, "mysql: host %q carries a port; give the port on its own", host)
	}
	srv := strings.HasPrefix(host, "srv+")
	if srv && opts.Resolve == nil {
		return nil, shared.Errorf(shared.EINVALID, "mysql: host %q is an SRV name, but no resolver was given", host)
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	if srv {
		addr = host
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("store", "mysql", "addr", addr, "database", opts.Database)

	cfg := gomysql.NewConfig()
	cfg.User, cfg.Passwd = opts.User, opts.Password
	cfg.Net, cfg.Addr = "tcp", addr
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 10*time.Second, 60*time.Second, 60*time.Second
	cfg.InterpolateParams = true // one round trip per statement instead of three
	// Learn the server's max_allowed_packet on connect, so that a statement
	// too large for it fails here with ETOOLARGE instead of the server
	// dropping the connection.
	cfg.MaxAllowedPacket = 0
	cfg.Logger = driverLogger{log}
	cfg.Params = map[string]string{"sql_mode": "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"}
	if srv {
		dial := net.Dialer{}
		cfg.DialFunc = func(ctx context.Context, network, _ string) (net.Conn, error) {
			target, err := opts.Resolve(ctx, host)
			if err != nil {
				return nil, driver.Unresolved("mysql", host, err)
			}
			return dial.DialContext(ctx, network, target)
		}
	}

	s := &Store{log: log, addr: addr, name: opts.Database}
	if err := s.createDatabase(ctx, cfg.Clone()); err != nil {
		return nil, err
	}
	cfg.DBName = opts.Database
	conn, err := gomysql.NewConnector(cfg)
	if err != nil {
		return nil, shared.Wrap(shared.EINVALID, err, "mysql: bad connection settings for %s", addr)
	}
	s.db = sql.OpenDB(conn)
	s.db.SetMaxOpenConns(orDefault(opts.MaxOpen, 100))
	s.db.SetMaxIdleConns(orDefault(opts.MaxIdle, 10))
	s.db.SetConnMaxLifetime(orDefault(opts.ConnMaxLifetime, 5*time.Minute))
	if err := s.init(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// orDefault returns v, or def when v is zero or less.
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// createDatabase creates the database unless it exists. It asks first, so a
// user without the CREATE privilege can open a database made for it.
func (s *Store) createDatabase(ctx context.Context, cfg *gomysql.Config) error {
	conn, err := gomysql.NewConnector(cfg)
	if err != nil {
		return shared.Wrap(shared.EINVALID, err, "mysql: bad connection settings for %s", s.addr)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	var found string
	err = db.QueryRowContext(ctx, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", s.name).Scan(&found)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, sql.ErrNoRows):
		return s.fail(err, "connect")
	}
	// The name was checked against dbNameRe, which admits no backquote.
	_, err = db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+s.name+"` CHARACTER SET utf8mb4")
	return s.fail(err, "create the database %q", s.name)
}

// Close closes the connection pool. Writes that returned before are
// committed.
func (s *Store) Close() error {
	return s.life.Close(func() error {
		if err := s.db.Close(); err != nil {
			return shared.Wrap(shared.EINTERNAL, err, "mysql: close the connections to %s", s.addr)
		}
		return nil
	})
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.life.Enter(""); err != nil {
		return err
	}
	defer s.life.Exit()
	return s.fail(s.db.PingContext(ctx), "ping")
}

// driverLogger sends the driver's messages, which are all about failures,
// to slog at warn level.
type driverLogger struct{ log *slog.Logger }

func (l driverLogger) Print(v ...any) {
	l.log.Warn(strings.TrimSpace(fmt.Sprint(v...)))
}
