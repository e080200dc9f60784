package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A server whose store lost its MANIFEST does not start as a new, empty
// store (where the next POST /api/users would make an admin): it exits
// saying what it found and how to recover, and deletes nothing.
func TestServerRefusesAStoreThatLostItsManifest(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "badger")
	seedUser(t, store, newUser())
	if err := os.Remove(filepath.Join(store, "MANIFEST")); err != nil {
		t.Fatal(err)
	}
	before := dirNames(t, store)
	r := knotIn(t, dir, nil, "", "server", "--listen", "127.0.0.1:0", "--badgerdb-path", store)
	if r.code == 0 {
		t.Fatalf("the server started on a store without its MANIFEST:\n%s", r.stderr)
	}
	for _, want := range []string{store, "no MANIFEST", ".sst", "knot deleted nothing", "Restore the directory from a backup"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, r.stderr)
		}
	}
	if after := dirNames(t, store); !slices.Equal(before, after) {
		t.Fatalf("the refused start changed the store directory:\nbefore %v\nafter  %v", before, after)
	}
}

// dirNames lists the files of dir with their sizes.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %d %s", e.Name(), fi.Size(), fi.ModTime()))
	}
	return out
}
