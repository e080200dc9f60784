package badger_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bdb "github.com/dgraph-io/badger/v4"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/badger"
)

const resetUsers = 50

// storeWithTables makes a store in a new directory with resetUsers users,
// and closes it, so that its records are in table files. It returns the
// directory and the store's head.
func storeWithTables(t *testing.T) (string, storage.Head) {
	t.Helper()
	dir := t.TempDir()
	s, err := badger.Open(badger.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range resetUsers {
		u := &shared.User{Meta: shared.Meta{ID: fmt.Sprintf("u%d", i)}, Username: fmt.Sprintf("user%d", i), Email: fmt.Sprintf("user%d@example.com", i)}
		if err := s.Put(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if tables, _ := filepath.Glob(filepath.Join(dir, "*.sst")); len(tables) == 0 {
		t.Fatalf("the closed store holds no table file: %v", listing(t, dir))
	}
	return dir, h
}

// listing returns every file under dir with its size.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out = append(out, fmt.Sprintf("%s %d", rel, fi.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// checkIntact opens the store in dir and checks that it holds what
// storeWithTables wrote.
func checkIntact(t *testing.T, dir string, want storage.Head) {
	t.Helper()
	s := mustOpen(t, dir)
	ctx := context.Background()
	h, err := s.Head(ctx)
	if err != nil || h.Epoch != want.Epoch || h.Revision != want.Revision {
		t.Fatalf("head of the repaired store: %+v, %v; want %+v", h, err, want)
	}
	for i := range resetUsers {
		if _, err := storage.Lookup[shared.User](ctx, s, fmt.Sprintf("username:user%d", i)); err != nil {
			t.Fatalf("user%d in the repaired store: %v", i, err)
		}
	}
	s.Close()
}

// A directory that Badger would take for a new store, or that would make
// it panic, is refused with a message that says what was found and how to
// recover, and nothing in it is deleted: put back what was damaged, and the
// store opens with everything it held.
func TestOpenRefusesADamagedStoreAndDeletesNothing(t *testing.T) {
	for _, tt := range []struct {
		name   string
		damage func(t *testing.T, dir string) (repair func())
		says   []string
	}{
		{"MissingManifest", func(t *testing.T, dir string) func() {
			return moveAside(t, filepath.Join(dir, "MANIFEST"))
		}, []string{"no MANIFEST", "000001.sst", "delete its tables"}},
		{"ManifestCutAfterItsMagic", func(t *testing.T, dir string) func() {
			return cutShort(t, filepath.Join(dir, "MANIFEST"), 8)
		}, []string{"MANIFEST", "(8 bytes) lists no table", "000001.sst", "damaged"}},
		{"ManifestCutWithinItsMagic", func(t *testing.T, dir string) func() {
			return cutShort(t, filepath.Join(dir, "MANIFEST"), 3)
		}, []string{"MANIFEST", "cannot be read", "bad magic"}},
		{"TableFileCutShort", func(t *testing.T, dir string) func() {
			return cutShort(t, filepath.Join(dir, "000001.sst"), 1000)
		}, []string{"000001.sst", "is damaged", "cut short"}},
		{"TableFileMissing", func(t *testing.T, dir string) func() {
			return moveAside(t, filepath.Join(dir, "000001.sst"))
		}, []string{"lists table files that are missing: 000001.sst"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, head := storeWithTables(t)
			repair := tt.damage(t, dir)
			before := listing(t, dir)
			s, err := badger.Open(badger.Options{Path: dir})
			if err == nil {
				s.Close()
				t.Fatalf("open of the damaged store succeeded; it held %v, and now holds %v", before, listing(t, dir))
			}
			msg := err.Error()
			for _, want := range append(tt.says, dir, "knot deleted nothing", "Restore the directory from a backup", "move it aside") {
				if !strings.Contains(msg, want) {
					t.Errorf("the refusal %q does not say %q", msg, want)
				}
			}
			if after := listing(t, dir); !slices.Equal(before, after) {
				t.Fatalf("the refused open changed the directory:\nbefore %v\nafter  %v", before, after)
			}
			repair()
			checkIntact(t, dir, head)
		})
	}
}

// moveAside moves the file at path out of its directory and returns what
// puts it back.
func moveAside(t *testing.T, path string) func() {
	t.Helper()
	aside := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.Rename(path, aside); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.Rename(aside, path); err != nil {
			t.Fatal(err)
		}
	}
}

// cutShort truncates the file at path to size bytes and returns what
// restores it.
func cutShort(t *testing.T, path string, size int64) func() {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// A store whose data files are gone but for knot's marker, which says it
// held a store, is refused, not made anew.
func TestOpenRefusesAMarkedDirectoryWithoutItsData(t *testing.T) {
	dir, _ := storeWithTables(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "KNOT" {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	before := listing(t, dir)
	s, err := badger.Open(badger.Options{Path: dir})
	if err == nil {
		s.Close()
		t.Fatal("open of a marked directory without data succeeded")
	}
	if !strings.Contains(err.Error(), "knot's marker") || !strings.Contains(err.Error(), "no MANIFEST") {
		t.Fatalf("refusal %q does not name the marker and the missing MANIFEST", err)
	}
	if after := listing(t, dir); !slices.Equal(before, after) {
		t.Fatalf("the refused open changed the directory:\nbefore %v\nafter  %v", before, after)
	}
}

// A crash during the store's first flush leaves a table file that the
// MANIFEST does not list yet, while the memtable log still holds its
// records: the store opens with them, and a link to the table is kept.
func TestOpenAfterACrashInTheFirstFlush(t *testing.T) {
	dir := t.TempDir()
	cmd, _ := helper(t, "crash", dir)
	cmd.Wait()
	donor, _ := storeWithTables(t)
	tbl, err := os.ReadFile(filepath.Join(donor, "000001.sst"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "000001.sst"), tbl, 0o600); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, dir)
	h, err := s.Head(context.Background())
	if err != nil || h.Revision != crashCount {
		t.Fatalf("head after the crash: %+v, %v; want revision %d", h, err, crashCount)
	}
	kept, _ := filepath.Glob(filepath.Join(dir, "unlisted-tables", "*-000001.sst"))
	if len(kept) != 1 {
		t.Fatalf("no link to the unlisted table was kept: %v", listing(t, dir))
	}
}

// A directory with knot's marker whose Badger database opens without
// knot's data (its files were replaced by an empty database) is refused,
// not given a new epoch.
func TestOpenRefusesAMarkedDirectoryThatOpensEmpty(t *testing.T) {
	dir, _ := storeWithTables(t)
	marker, err := os.ReadFile(filepath.Join(dir, "KNOT"))
	if err != nil {
		t.Fatalf("the store has no marker: %v", err)
	}
	empty := t.TempDir()
	db, err := bdb.Open(bdb.DefaultOptions(empty).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.WriteFile(filepath.Join(empty, "KNOT"), marker, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := badger.Open(badger.Options{Path: empty})
	if err == nil {
		h, _ := s.Head(context.Background())
		s.Close()
		t.Fatalf("open of a marked directory that opens empty succeeded, with epoch %s", h.Epoch)
	}
	if !strings.Contains(err.Error(), "opens empty") || !strings.Contains(err.Error(), "marker") || !strings.Contains(err.Error(), empty) {
		t.Fatalf("refusal %q does not say that the marked store %s opens empty", err, empty)
	}
}
