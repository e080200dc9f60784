// Package redis provides a storage.Store kept in Redis (7.0 or later), for
// installations that run several origin servers on one Redis or that
// already operate it. Every store lives under a key prefix, so several
// stores can share one Redis database.
//
// # Atomicity and revisions across processes
//
// Every write is one Lua script, which Redis runs without interleaving
// anything else: the script checks the expected revision and the unique
// keys, then takes the next revision with HINCRBY and writes the record, its
// keys and its feed entry. Revisions are therefore unique and committed in
// order across every process that shares the store, and a reader of the
// feed never sees revision N+1 before N. Checks come before the first
// write, so a refused write changes nothing; the scripts declare themselves
// with a shebang, which makes Redis refuse a writing script up front when it
// is out of memory instead of failing it halfway. A record's JSON holds its
// own revision, which only the script knows: Put sends the JSON cut in two
// where the revision goes, and the script joins the halves around it.
//
// A transaction of Update is optimistic: it WATCHes each hash before it
// reads it (a kind's records, or its unique keys), keeps its writes aside,
// and writes them with one script inside MULTI/EXEC. A write of any
// process to a hash it read makes Redis refuse the EXEC, and Update runs
// the transaction again (see update.go). A count of a kind's records is
// safe as any new record of the kind changes its hash.
//
// Writes are as durable as the server makes them: use appendonly yes (with
// appendfsync everysec or always) for a store that must survive a restart
// of Redis.
//
// # Keys
//
// All keys start with "{P}:", where P is Options.KeyPrefix; the braces make
// a Redis Cluster keep every key of a store in one slot, which scripts need.
//
//	{P}:meta        hash: format ("1"), epoch, revision, horizon,
//	                replica_epoch and replica_applied
//	{P}:feed        sorted set: the store's feed, one member "KIND/ID" per
//	                record, scored by the revision of its latest change
//	{P}:tombs       sorted set: the members of the feed that are
//	                tombstones, scored alike
//	{P}:rec:KIND    hash: id → the record's revision, a space, its JSON
//	{P}:keys:KIND   hash: id → the unique keys the record claimed, as a
//	                JSON array (absent when it claimed none)
//	{P}:uniq:KIND   hash: unique key → the id of the record holding it
//	{P}:audit       list: audit events as JSON; an event's id is its
//	                position plus one, as RPUSH returns it
//	{P}:tx          never written: the first key a transaction WATCHes,
//	                which picks the node of a Redis Cluster
//
// Kinds never contain "/", so a feed member splits at its first slash.
package redis

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/internal/driver"
)

var _ storage.Store = (*Store)(nil)

// Options configure Open.
type Options struct {
	// Hosts lists the servers, each "host:port" or "srv+name" to look up
	// host and port with Resolve. One host is a single server; several are
	// the seed nodes of a Redis Cluster. Empty means "localhost:6379".
	Hosts []string
	// Password logs in to the servers; empty sends no AUTH.
	Password string
	// DB is the database number of a single server; a cluster has only 0.
	DB int
	// KeyPrefix starts every key of the store (see the package doc). Empty
	// means "knot". It may not contain braces.
	KeyPrefix string
	// Resolve turns a "srv+name" host into "host:port"; it is called for
	// every new connection, so a changed SRV record is followed. nil means
	// hosts are used as they are, and a srv+ host is an error.
	Resolve func(ctx context.Context, host string) (string, error)
	// Logger receives feed entries that lost their record, at warn level.
	// nil means slog.Default().
	Logger *slog.Logger
}

// Store is a storage.Store kept in Redis. Open it with Open.
type Store struct {
	rdb   goredis.UniversalClient
	log   *slog.Logger
	addr  string // the servers as the user named them, for messages
	k     keyNames
	epoch string

	life driver.Life // fails every method after Close
}

// format is the key layout this package reads and writes.
const format = "1"

var prefixRe = regexp.MustCompile(`^[^{}]{1,200}$`)

// Open connects to Redis and returns the store under opts.KeyPrefix,
// creating its epoch when the prefix is new. It fails with EINVALID for bad
// options and EUNAVAILABLE when no server answers, the login is refused or
// the server is older than Redis 7.0. Open starts no goroutine.
func Open(ctx context.Context, opts Options) (*Store, error) {
	hosts := opts.Hosts
	if len(hosts) == 0 {
		hosts = []string{"localhost:6379"}
	}
	for _, h := range hosts {
		if strings.HasPrefix(h, "srv+") {
			if opts.Resolve == nil {
				return nil, shared.Errorf(shared.EINVALID, "redis: host %q is an SRV name, but no resolver was given", h)
			}
			continue
		}
		if _, port, err := net.SplitHostPort(h); err != nil || port == "" {
			return nil, shared.Errorf(shared.EINVALID, "redis: host %q is not host:port or srv+name", h)
		}
	}
	prefix := opts.KeyPrefix
	if prefix == "" {
		prefix = "knot"
	}
	if !prefixRe.MatchString(prefix) {
		return nil, shared.Errorf(shared.EINVALID, "redis: key prefix %.40q must be 1 to 200 characters without braces", prefix)
	}
	if opts.DB < 0 {
		return nil, shared.Errorf(shared.EINVALID, "redis: database number %d is negative", opts.DB)
	}
	if opts.DB != 0 && len(hosts) > 1 {
		return nil, shared.Errorf(shared.EINVALID, "redis: database %d given for a cluster of %d hosts; a Redis Cluster has only database 0", opts.DB, len(hosts))
	}
	addr := strings.Join(hosts, ", ")
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("store", "redis", "addr", addr, "prefix", prefix)

	dial := net.Dialer{KeepAlive: 30 * time.Second}
	s := &Store{log: log, addr: addr, k: newKeys(prefix)}
	s.rdb = goredis.NewUniversalClient(&goredis.UniversalOptions{
		Addrs:    hosts,
		DB:       opts.DB,
		Password: opts.Password,
		Protocol: 2,
		// A command whose reply was lost may have run: sending a write
		// script or RPUSH again could write twice.
		MaxRetries: -1,
		Dialer: func(ctx context.Context, network, host string) (net.Conn, error) {
			if strings.HasPrefix(host, "srv+") {
				target, err := opts.Resolve(ctx, host)
				if err != nil {
					return nil, driver.Unresolved("redis", host, err)
				}
				host = target
			}
			return dial.DialContext(ctx, network, host)
		},
		DialTimeout:              10 * time.Second,
		ReadTimeout:              30 * time.Second,
		WriteTimeout:             30 * time.Second,
		ContextTimeoutEnabled:    true,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	if err := s.init(ctx); err != nil {
		s.rdb.Close()
		return nil, err
	}
	return s, nil
}

// init checks the server's version, then writes the format and epoch of a
// new store or checks those of an existing one.
func (s *Store) init(ctx context.Context) error {
	info, err := s.rdb.Info(ctx, "server").Result()
	if err != nil {
		return s.fail(err, "connect")
	}
	version := infoField(info, "redis_version")
	if major, _, _ := strings.Cut(version, "."); major == "" || atoi(major) < 7 {
		return shared.Errorf(shared.EUNAVAILABLE, "redis: the server at %s runs Redis %q; knot needs Redis 7.0 or later", s.addr, version)
	}
	res, err := initScript.Run(ctx, s.rdb, []string{s.k.meta}, format, uuid.NewString()).StringSlice()
	if err != nil {
		return s.fail(err, "open the store %q", s.k.prefix)
	}
	if len(res) != 2 || res[0] != format {
		return shared.Errorf(shared.EINTERNAL, "redis: the store %q at %s has layout %q; this knot reads layout %q", s.k.prefix, s.addr, res[0], format)
	}
	if s.epoch = res[1]; s.epoch == "" {
		return shared.Errorf(shared.EINTERNAL, "redis: the store %q at %s has an empty epoch", s.k.prefix, s.addr)
	}
	return nil
}

// infoField returns the value of name in the text of INFO.
func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// Close closes the connections. Writes that returned before are in Redis.
func (s *Store) Close() error {
	return s.life.Close(func() error {
		if err := s.rdb.Close(); err != nil && !errors.Is(err, goredis.ErrClosed) {
			return shared.Wrap(shared.EINTERNAL, err, "redis: close the connections to %s", s.addr)
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
	return s.fail(s.rdb.Ping(ctx).Err(), "ping")
}
