// Package badger provides a storage.Store kept in an embedded Badger
// database, knot's default store: it needs no setup and keeps everything in
// one directory, which one process at a time may open.
//
// Every method that writes does so in one Badger transaction, with synced
// writes, so a write that returned survives a crash. Writes that take a
// revision hold a mutex of the process from the moment they read the current
// revision until their transaction commits, so revisions are unique and
// committed in order. A transaction of Update (tx.go) holds that mutex from
// before its first read until it commits, which makes it serializable: no
// other write can come between its reads and its writes.
//
// # A store is never silently reset
//
// Badger takes a directory without a MANIFEST, or with one that lists no
// table, for a new database and deletes the table files it finds there; a
// table file cut short makes it panic in a goroutine of its own. On such a
// directory knot would start with a new epoch and no users, and an origin
// would then empty every leaf's replica. So Open checks the directory
// first (preflight.go), under the lock Badger takes, and refuses, deleting
// nothing, one that holds a store's files but a MANIFEST that is missing,
// cannot be read, lists no table or lists a table that is missing, and one
// with a table file that Badger cannot open. The one directory with tables
// and a MANIFEST that lists none that is not refused is the one a crash
// during the store's very first flush leaves: its memtable log still holds
// the store's first write (meta/format), so the table is a copy. Open keeps
// a hard link to every table file the MANIFEST does not list (a crash in a
// flush or compaction leaves them) in unlisted-tables/ before Badger
// deletes it; they may be removed once the store is known to be whole.
// Open reads every table's index once more for this check, as Badger
// does when it opens the table. Once a store has its epoch, Open writes the file KNOT into
// the directory; a directory with it whose store opens without a format is
// refused too.
//
// # A full disk is an error, not a crash
//
// Badger writes its logs and tables through memory mappings, and a full
// disk then kills the process with SIGBUS. The store keeps Options.MinFree
// (server.badgerdb.min_free) free on its disk: below it Open fails, writes
// fail with ENOSPACE before they begin and Ping fails, while reads go on;
// a batch from an origin must leave the watermark free after it is
// written three times over (space.go).
//
// # Key layout
//
// Keys are ASCII prefixes followed by names; numbers in keys are decimal,
// zero-padded to 20 digits so that byte order is numeric order. Numbers in
// values are 8-byte big-endian unless said otherwise.
//
//	meta/format         layout version of the directory, "1"
//	meta/epoch          the store's epoch, made when the directory is created
//	meta/revision       the latest revision given to a write
//	meta/horizon        the highest revision whose tombstones were compacted
//	meta/replica        applied revision, then the epoch last recorded by Apply
//	meta/audit          the latest audit event id
//	meta/audit_pruned   the id of the last audit event PruneAudit deleted
//	rec/KIND/ID         a record: see below
//	uniq/KIND/KEY       the id of the record of KIND that holds unique key KEY
//	feed/REV            the store's own feed: "r" or "t" (tombstone), the
//	                    kind, a NUL byte, the id; only the latest entry of each
//	                    record is kept
//	tomb/KIND/ID        the revision of the tombstone of a deleted record, while
//	                    that tombstone is in the feed
//	audit/ID            an audit event, as JSON
//
// A record's value is a format byte (1), then as signed varints the revision
// of the record and the revision of its feed entry (0 when Apply wrote it and
// it is not in the store's own feed), then an unsigned varint count of unique
// keys the record claimed, each as an unsigned varint length and its bytes,
// then the record's JSON. Kinds never contain "/" or NUL, so an id or a key is
// everything after the kind's prefix.
package badger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bdb "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/internal/driver"
)

var _ storage.Store = (*Store)(nil)

// Options configure Open.
type Options struct {
	// Path is the directory that holds the store. It is created when
	// missing. Required.
	Path string
	// Logger receives Badger's own messages: its warnings and errors at
	// warn level, everything else at debug level. nil means slog.Default().
	Logger *slog.Logger
	// GCInterval is how often Run collects garbage in the value log. 0 means
	// 10 minutes.
	GCInterval time.Duration
	// MinFree is the free space, in bytes, the store keeps on its disk:
	// below it Open fails and writes fail with ENOSPACE (space.go). 0 means
	// DefaultMinFree; a negative value turns the check off.
	MinFree int64
}

// Store is a storage.Store kept in a Badger database. Open it with Open.
type Store struct {
	db    *bdb.DB
	log   *slog.Logger
	path  string
	epoch string
	gcInt time.Duration
	done  chan struct{} // closed by Close

	minFree int64       // the free space writes need; 0: no check
	low     atomic.Bool // the disk was below minFree when last checked

	life driver.Life // fails every method after Close

	wmu sync.Mutex   // serialises writes to records, the feed and meta keys
	amu sync.Mutex   // serialises audit appends
	vis sync.RWMutex // held by readers, and by the replay of a big batch (journal.go)
}

// format is the layout version this package reads and writes.
const format = "1"

// memTable is the size of Badger's memtables. A memtable's arena is
// allocated whole on the Go heap, where the garbage collector counts it as
// live: the heap may hold as much again in garbage before a collection.
// With memtables of 32 MiB the arena was 42 MB. knot writes little, and
// small memtables do. A transaction holds at most 15% of a memtable: 1.2
// MiB, which a record of 1 MiB, the most the web layer takes, fits; a leaf
// writes a bigger batch from its origin through the journal (journal.go).
const memTable = 8 << 20

// memTableSize is memTable, or the size of the memtables whose logs dir
// holds, when bigger: Open replays those logs, and a log written with
// bigger memtables overflows a smaller one, which ends the process. A log
// file is twice its memtable. The logs are gone once Badger has flushed
// them, and the next Open uses memTable.
func memTableSize(dir string) int64 {
	size := int64(memTable)
	logs, _ := filepath.Glob(filepath.Join(dir, "*.mem"))
	for _, name := range logs {
		if fi, err := os.Stat(name); err == nil {
			size = max(size, fi.Size()/2)
		}
	}
	return size
}

// Open opens the store in opts.Path, creating it when the directory is empty.
// Open starts no goroutine; call Run for garbage collection. A directory that
// another process holds open fails with EUNAVAILABLE.
func Open(opts Options) (*Store, error) {
	if opts.Path == "" {
		return nil, shared.Errorf(shared.EINVALID, "badger: no path given for the store")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("store", "badger", "path", opts.Path)
	if err := os.MkdirAll(opts.Path, 0o700); err != nil {
		return nil, shared.Wrap(shared.EUNAVAILABLE, err, "badger: cannot create the store directory %q", opts.Path)
	}
	minFree := opts.MinFree
	if minFree == 0 {
		minFree = DefaultMinFree
	}
	if err := checkStartSpace(opts.Path, minFree); err != nil {
		return nil, err
	}
	marked, err := preflight(opts.Path, log)
	if err != nil {
		return nil, err
	}
	bo := bdb.DefaultOptions(opts.Path).
		WithSyncWrites(true).
		WithLogger(badgerLogger{log}).
		WithMetricsEnabled(false).
		WithNumVersionsToKeep(1).
		WithMemTableSize(memTableSize(opts.Path)).
		WithNumMemtables(3).
		WithBlockCacheSize(32 << 20).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2)
	db, err := bdb.Open(bo)
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, shared.Wrap(shared.EUNAVAILABLE, err, "badger: the store %q is in use by another process", opts.Path)
		}
		return nil, shared.Wrap(shared.EUNAVAILABLE, err, "badger: cannot open the store %q", opts.Path)
	}
	s := &Store{db: db, log: log, path: opts.Path, gcInt: opts.GCInterval, done: make(chan struct{}), minFree: max(minFree, 0)}
	if s.gcInt <= 0 {
		s.gcInt = 10 * time.Minute
	}
	if err := s.init(marked); err != nil {
		db.Close()
		return nil, err
	}
	if err := writeMarker(opts.Path, s.epoch); err != nil {
		db.Close()
		return nil, shared.Wrap(shared.EUNAVAILABLE, err, "badger: cannot write knot's marker into the store %q", opts.Path)
	}
	if err := s.recover(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// init writes the format and epoch of a new store, or checks those of an
// existing one. A directory with knot's marker (marked) holds a store that
// had its format and epoch: finding none there, init refuses to make a new
// one.
func (s *Store) init(marked bool) error {
	err := s.db.Update(func(txn *bdb.Txn) error {
		f, err := getBytes(txn, keyFormat)
		switch {
		case errors.Is(err, bdb.ErrKeyNotFound) && marked:
			return damaged("the store %q opens empty, but knot's marker %s says it held a store: its data is gone (a table file Badger dropped is linked in %s)", s.path, markerName, keptDir)
		case errors.Is(err, bdb.ErrKeyNotFound):
			if _, err := getBytes(txn, keyEpoch); !errors.Is(err, bdb.ErrKeyNotFound) {
				return shared.Errorf(shared.EINTERNAL, "badger: the store %q has an epoch but no format", s.path)
			}
			s.epoch = uuid.NewString()
			if err := txn.Set(keyFormat, []byte(format)); err != nil {
				return err
			}
			return txn.Set(keyEpoch, []byte(s.epoch))
		case err != nil:
			return err
		case string(f) != format:
			return shared.Errorf(shared.EINTERNAL, "badger: the store %q has layout %q; this knot reads layout %q", s.path, f, format)
		}
		e, err := getBytes(txn, keyEpoch)
		if err != nil {
			return err
		}
		s.epoch = string(e)
		return nil
	})
	return s.fail(err, "open the store %q", s.path)
}

// Run collects garbage in the value log every Options.GCInterval, and
// checks the free space of the store's disk every spaceInterval, until ctx
// ends or the store is closed. It returns nil then.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(s.gcInt)
	defer t.Stop()
	space := time.NewTicker(spaceInterval)
	defer space.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return nil
		case <-t.C:
			s.collect()
		case <-space.C:
			s.room()
		}
	}
}

// collect rewrites value log files until Badger finds none worth it.
func (s *Store) collect() {
	if s.life.Enter("") != nil {
		return
	}
	defer s.life.Exit()
	if s.room() != nil {
		return // a rewrite needs space before it frees any
	}
	for range 16 {
		err := s.db.RunValueLogGC(0.5)
		if err == nil {
			continue
		}
		if !errors.Is(err, bdb.ErrNoRewrite) && !errors.Is(err, bdb.ErrRejected) {
			s.log.Warn("value log garbage collection failed", "err", err)
		}
		return
	}
}

// Close closes the database. Writes that returned before are on disk.
func (s *Store) Close() error {
	return s.life.Close(func() error {
		close(s.done)
		if err := s.db.Close(); err != nil {
			return shared.Wrap(shared.EINTERNAL, err, "badger: close the store %q", s.path)
		}
		return nil
	})
}

// view runs fn in a read transaction, once no big batch is being replayed.
func (s *Store) view(fn func(txn *bdb.Txn) error) error {
	s.vis.RLock()
	defer s.vis.RUnlock()
	return s.db.View(fn)
}

// Ping reports whether the store is open and takes writes: ENOSPACE when
// its disk is below the free space it keeps.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.life.Enter(""); err != nil {
		return err
	}
	defer s.life.Exit()
	return s.room()
}

// fail turns err into a *shared.Error: coded errors pass through, Badger's
// are wrapped with what was being done.
func (s *Store) fail(err error, format string, args ...any) error {
	return driver.Fail(err, classify, format, args...)
}

// classify wraps an uncoded error of Badger with what was being done.
func classify(err error, what string) error {
	switch {
	case errors.Is(err, bdb.ErrTxnTooBig):
		return shared.Wrap(shared.ETOOLARGE, err, "badger: %s: too much for one transaction", what)
	case errors.Is(err, bdb.ErrDBClosed):
		return shared.Wrap(shared.EUNAVAILABLE, err, "badger: %s: the store is closed", what)
	case errors.Is(err, syscall.ENOSPC):
		return shared.Wrap(shared.ENOSPACE, err, "badger: %s: the server's disk is full", what)
	}
	return shared.Wrap(shared.EINTERNAL, err, "badger: %s", what)
}

// badgerLogger sends Badger's messages to slog: Badger is chatty, so only its
// warnings and errors are above debug level.
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(f string, args ...any)   { l.emit(slog.LevelWarn, f, args) }
func (l badgerLogger) Warningf(f string, args ...any) { l.emit(slog.LevelWarn, f, args) }
func (l badgerLogger) Infof(f string, args ...any)    { l.emit(slog.LevelDebug, f, args) }
func (l badgerLogger) Debugf(f string, args ...any)   { l.emit(slog.LevelDebug, f, args) }

func (l badgerLogger) emit(level slog.Level, f string, args []any) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	l.log.Log(ctx, level, strings.TrimSpace(fmt.Sprintf(f, args...)))
}
