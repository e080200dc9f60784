package badger

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	bdb "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/ristretto/v2/z"

	"github.com/knot-dev/knot/shared"
)

// What Open checks before Badger opens a directory (see the package doc):
// Badger takes a directory without a MANIFEST, or with one that lists no
// table, for a new database, and deletes every table file the MANIFEST does
// not list; a table file cut short makes it panic in a goroutine of its own,
// which ends the process.

// markerName is the file knot keeps in the store's directory once the store
// has its epoch: a directory with it is never taken for a new store.
const markerName = "KNOT"

// keptDir is the subdirectory where Open keeps a link to each table file
// that the MANIFEST does not list, before Badger deletes it.
const keptDir = "unlisted-tables"

// dirFiles is what a store's directory holds, as Badger names its files.
type dirFiles struct {
	manifest bool
	tables   map[uint64]string // table id → file name
	vlogs    []string
	mems     []string
	marker   bool
}

// data reports whether the directory holds anything of a store.
func (f dirFiles) data() bool {
	return len(f.tables) > 0 || len(f.vlogs) > 0 || len(f.mems) > 0 || f.marker
}

// describe lists what the directory holds, for an error.
func (f dirFiles) describe() string {
	var parts []string
	if n := len(f.tables); n > 0 {
		names := make([]string, 0, n)
		for _, name := range f.tables {
			names = append(names, name)
		}
		slices.Sort(names)
		if len(names) > 5 {
			names = append(names[:5], "…")
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", shared.Count(n, "table file"), strings.Join(names, ", ")))
	}
	if n := len(f.vlogs); n > 0 {
		parts = append(parts, shared.Count(n, "value log file"))
	}
	if n := len(f.mems); n > 0 {
		parts = append(parts, shared.Count(n, "memtable log"))
	}
	if f.marker {
		parts = append(parts, "knot's marker "+markerName)
	}
	return strings.Join(parts, ", ")
}

// listDir sorts the files of dir by what they hold.
func listDir(dir string) (dirFiles, error) {
	f := dirFiles{tables: map[uint64]string{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return f, err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
		case name == bdb.ManifestFilename:
			f.manifest = true
		case name == markerName:
			f.marker = true
		case strings.HasSuffix(name, ".sst"):
			if id, ok := table.ParseFileID(name); ok {
				f.tables[id] = name
			}
		case strings.HasSuffix(name, ".vlog"):
			f.vlogs = append(f.vlogs, name)
		case strings.HasSuffix(name, ".mem"):
			f.mems = append(f.mems, name)
		}
	}
	return f, nil
}

// recovery is what every refusal of a damaged store tells the operator.
const recovery = "knot deleted nothing. Restore the directory from a backup; " +
	"or, to give up what it holds, move it aside and start again with an empty one " +
	"(a leaf then fetches everything from its origin again)"

// damaged is the error of a directory Open refuses.
func damaged(format string, args ...any) error {
	return shared.Errorf(shared.EUNAVAILABLE, "badger: "+format+". "+recovery, args...)
}

// preflight checks dir before Badger opens it, under the directory's lock
// (the one Badger takes): it refuses a directory Badger would take for a
// new store although it holds a store's files, one whose MANIFEST cannot be
// read or lists a table that is missing, and one with a table file that
// cannot be opened. It keeps a link to every table file the MANIFEST does
// not list, which Badger deletes, in keptDir. It reports whether the
// directory holds knot's marker.
func preflight(dir string, log *slog.Logger) (marked bool, err error) {
	unlock, err := lockDir(dir)
	if err != nil {
		return false, err
	}
	defer unlock()
	files, err := listDir(dir)
	if err != nil {
		return false, shared.Wrap(shared.EUNAVAILABLE, err, "badger: cannot list the store directory %q", dir)
	}
	if !files.manifest {
		if files.data() {
			return false, damaged("the store %q holds %s but no %s, the file that lists its tables: "+
				"Badger would take it for a new store, delete its tables and start empty", dir, files.describe(), bdb.ManifestFilename)
		}
		return false, nil
	}
	mf, size, err := readManifest(dir, log)
	if err != nil {
		return false, damaged("the %s of the store %q (%d bytes) cannot be read: %v", bdb.ManifestFilename, dir, size, err)
	}
	var missing []string
	for id := range mf.Tables {
		if _, ok := files.tables[id]; !ok {
			missing = append(missing, table.IDToFilename(id))
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return false, damaged("the %s of the store %q lists table files that are missing: %s", bdb.ManifestFilename, dir, strings.Join(missing, ", "))
	}
	var unlisted []string
	for id, name := range files.tables {
		if _, ok := mf.Tables[id]; !ok {
			unlisted = append(unlisted, name)
		}
	}
	slices.Sort(unlisted)
	if len(mf.Tables) == 0 && len(unlisted) > 0 && !firstFlushLeft(dir, files.mems) {
		return false, damaged("the %s of the store %q (%d bytes) lists no table, but the directory holds %s: "+
			"the %s is damaged, and Badger would delete the tables and start empty", bdb.ManifestFilename, dir, size, files.describe(), bdb.ManifestFilename)
	}
	for id, tm := range mf.Tables {
		if err := checkTable(filepath.Join(dir, files.tables[id]), tm); err != nil {
			return false, damaged("the table file %q of the store %q is damaged: %v", filepath.Join(dir, files.tables[id]), dir, err)
		}
	}
	if len(unlisted) > 0 {
		kept, err := keepTables(dir, unlisted)
		if err != nil {
			return false, shared.Wrap(shared.EUNAVAILABLE, err, "badger: cannot keep the table files of the store %q that its %s does not list (%s)", dir, bdb.ManifestFilename, strings.Join(unlisted, ", "))
		}
		log.Warn("badger: the MANIFEST does not list some table files, which a flush or compaction that a crash cut short leaves; Badger deletes them, and a link to each is kept",
			"tables", unlisted, "kept_in", kept)
	}
	return files.marker, nil
}

// lockDir takes the lock Badger takes on dir, so that nothing is checked
// while another process writes there.
func lockDir(dir string) (func(), error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, shared.Wrap(shared.EUNAVAILABLE, err, "badger: cannot open the store directory %q", dir)
	}
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		d.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, shared.Wrap(shared.EUNAVAILABLE, err, "badger: the store %q is in use by another process", dir)
		}
		return nil, shared.Wrap(shared.EUNAVAILABLE, err, "badger: cannot lock the store directory %q", dir)
	}
	return func() { d.Close() }, nil
}

// readManifest reads the MANIFEST of dir as Badger does, without changing
// it, and returns it with its size.
func readManifest(dir string, log *slog.Logger) (bdb.Manifest, int64, error) {
	fp, err := os.Open(filepath.Join(dir, bdb.ManifestFilename))
	if err != nil {
		return bdb.Manifest{}, 0, err
	}
	defer fp.Close()
	var size int64
	if fi, err := fp.Stat(); err == nil {
		size = fi.Size()
	}
	mf, _, err := bdb.ReplayManifestFile(fp, 0, bdb.DefaultOptions(dir).WithLogger(badgerLogger{log}))
	return mf, size, err
}

// checkTable opens a table file as Badger will, and turns Badger's panic on
// a file cut short into an error.
func checkTable(path string, tm bdb.TableManifest) (err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if tm.KeyID != 0 {
		return nil // encrypted: knot writes none, and has no key to read one
	}
	if fi.Size() < 16 {
		return fmt.Errorf("it holds %d bytes, too few for a table", fi.Size())
	}
	mf, err := z.OpenMmapFile(path, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			mf.Close(-1)
			err = fmt.Errorf("its index cannot be read (%d bytes): it is cut short or overwritten", fi.Size())
		}
	}()
	t, err := table.OpenTable(mf, table.Options{
		ReadOnly:    true,
		BlockSize:   4 << 10,
		Compression: tm.Compression,
		ChkMode:     options.NoVerification,
	})
	if err != nil {
		mf.Close(-1)
		return fmt.Errorf("it cannot be read (%d bytes): %w", fi.Size(), err)
	}
	return t.MmapFile.Close(-1)
}

// metaFormat is the key of the store's layout version, which knot writes
// once, when it creates the store.
var metaFormat = []byte("meta/format")

// firstFlushLeft reports whether a memtable log still holds the store's
// first write, the one of meta/format: the store's first flush has not
// been recorded then, and a table file the MANIFEST does not list is what
// that flush left when a crash cut it short. Its records are in the log.
func firstFlushLeft(dir string, mems []string) bool {
	for _, name := range mems {
		if fileHolds(filepath.Join(dir, name), metaFormat) {
			return true
		}
	}
	return false
}

// fileHolds reports whether the file at path holds b.
func fileHolds(path string, b []byte) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	buf := make([]byte, 0, 2<<20)
	chunk := make([]byte, 1<<20)
	for {
		n, err := io.ReadFull(r, chunk)
		buf = append(buf, chunk[:n]...)
		if bytes.Contains(buf, b) {
			return true
		}
		if err != nil {
			return false
		}
		// Keep the tail, in case b spans two chunks.
		buf = append(buf[:0], buf[len(buf)-len(b)+1:]...)
	}
}

// keepTables links each of the table files names of dir into keptDir,
// under a name with the time, and returns that directory.
func keepTables(dir string, names []string) (string, error) {
	kept := filepath.Join(dir, keptDir)
	if err := os.MkdirAll(kept, 0o700); err != nil {
		return "", err
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	for _, name := range names {
		if err := os.Link(filepath.Join(dir, name), filepath.Join(kept, stamp+"-"+name)); err != nil && !errors.Is(err, os.ErrExist) {
			return "", err
		}
	}
	return kept, nil
}

// writeMarker writes knot's marker into dir, unless it is there.
func writeMarker(dir, epoch string) error {
	path := filepath.Join(dir, markerName)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp := path + ".tmp"
	body := fmt.Sprintf("This directory holds a knot store (epoch %s). Open refuses it when its data is gone.\n", epoch)
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		return err
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncFile(dir)
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
