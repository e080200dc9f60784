package main_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/knot-dev/knot/shared/testenv"
)

// freeBytes returns the free space of dir's file system.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// fill writes a file of n bytes into dir.
func fill(t *testing.T, path string, n int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for n > 0 {
		w := min(n, int64(len(chunk)))
		if _, err := f.Write(chunk[:w]); err != nil {
			t.Fatalf("fill %s: %v", path, err)
		}
		n -= w
	}
}

// fillUp writes a file at path until the disk is full.
func fillUp(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for range 1 << 10 { // at most 1 GiB: the disk is 64 MiB
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatalf("fill %s: %v", path, err)
		}
	}
	t.Fatalf("%s did not fill up", path)
}

// On a disk that fills up, a server refuses writes with 507 and a body
// that says why, /ready fails, reads go on and the process lives; once
// space is freed writes go on, and everything written before is there,
// also after a restart.
func TestServerOnAFullDiskRefusesWritesAndKeepsReading(t *testing.T) {
	disk := testenv.SmallDisk(t)
	store := filepath.Join(disk, "badger")
	args := []string{"--listen", "127.0.0.1:0", "--badgerdb-path", store, "--badgerdb-min-free", "24MiB"}
	s := runKnotServer(t, t.TempDir(), args...)
	s.call("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"}, 201, nil)
	token := s.login()
	template := func(name string) map[string]any {
		return map[string]any{"name": name, "kind": "manual", "description": strings.Repeat("x", 2000)}
	}
	const before = 20
	for i := range before {
		s.call("POST", "/api/templates", token, template(fmt.Sprintf("before-%d", i)), 201, nil)
	}

	// Leave 16 MiB free: less than the 24 MiB the store keeps.
	filler := filepath.Join(disk, "filler")
	fill(t, filler, freeBytes(t, disk)-16<<20)

	status, body := s.fetch("POST", "/api/templates", token, template("refused"))
	if status != 507 || !strings.Contains(string(body), "disk is nearly full") || !strings.Contains(string(body), "24.0 MiB") {
		t.Fatalf("a write on a full disk: %d %s; want 507 saying the disk is nearly full and the 24 MiB kept free", status, body)
	}
	status, body = s.fetch("GET", "/ready", "", nil)
	if status != 503 || !strings.Contains(string(body), "disk is nearly full") {
		t.Fatalf("/ready on a full disk: %d %s; want 503 saying the disk is nearly full", status, body)
	}
	var list struct{ Count int }
	s.call("GET", "/api/templates", token, nil, 200, &list)
	if list.Count != before {
		t.Fatalf("reading on a full disk: %d templates, want %d", list.Count, before)
	}
	s.call("GET", "/health", "", nil, 200, nil)

	// With no byte left, writes are still refused before they reach the
	// store, which would otherwise die of SIGBUS.
	full := filepath.Join(disk, "filler-2")
	fillUp(t, full)
	for i := range 20 {
		status, body := s.fetch("POST", "/api/templates", token, template(fmt.Sprintf("refused-%d", i)))
		if status != 507 {
			t.Fatalf("write %d on a disk with %d bytes free: %d %s; want 507", i, freeBytes(t, disk), status, body)
		}
	}
	s.call("GET", "/api/templates", token, nil, 200, &list)
	if err := os.Remove(full); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		t.Fatalf("the server exited on a full disk: %v\n%s", err, s.log)
	default:
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	s.call("POST", "/api/templates", token, template("after"), 201, nil)
	s.call("GET", "/ready", "", nil, 200, nil)
	s.stop()
	if !strings.Contains(s.log.String(), "below the free space it keeps") {
		t.Errorf("the server did not log that its disk went below the watermark:\n%s", s.log)
	}

	s = runKnotServer(t, t.TempDir(), args...)
	token = s.login()
	s.call("GET", "/api/templates", token, nil, 200, &list)
	if list.Count != before+1 {
		t.Fatalf("after a restart: %d templates, want %d", list.Count, before+1)
	}
	s.stop()
}

// A server whose store's disk is below the free space it keeps does not
// start, and says where, how much is free and which key sets the limit.
func TestServerRefusesToStartOnAFullDisk(t *testing.T) {
	disk := testenv.SmallDisk(t)
	store := filepath.Join(disk, "badger")
	// The default keeps 256 MiB free, more than the 64 MiB disk holds.
	r := knot(t, nil, "", "server", "--listen", "127.0.0.1:0", "--badgerdb-path", store)
	if r.code == 0 {
		t.Fatalf("the server started on a full disk:\n%s", r.stderr)
	}
	for _, want := range []string{store, "MiB free", "256.0 MiB", "server.badgerdb.min_free"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, r.stderr)
		}
	}
	if entries, _ := os.ReadDir(store); len(entries) > 0 {
		t.Errorf("the refused start wrote into the store directory: %v", entries)
	}
}
