package badger_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bdb "github.com/dgraph-io/badger/v4"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/badger"
)

// The test binary doubles as a second process that holds a store open or
// writes to it and dies without closing it.
const (
	helperMode = "KNOT_BADGER_HELPER"
	helperDir  = "KNOT_BADGER_DIR"
	crashCount = 20
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperMode) {
	case "":
		os.Exit(m.Run())
	case "hold":
		s, err := badger.Open(badger.Options{Path: os.Getenv(helperDir)})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
		s.Close()
		os.Exit(0)
	case "crash":
		s, err := badger.Open(badger.Options{Path: os.Getenv(helperDir)})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		for i := range crashCount {
			u := &shared.User{Meta: shared.Meta{ID: fmt.Sprintf("u%d", i)}, Username: fmt.Sprintf("user%d", i), Email: fmt.Sprintf("user%d@example.com", i)}
			if err := s.Put(context.Background(), u); err != nil {
				fmt.Println("error:", err)
				os.Exit(1)
			}
		}
		fmt.Println("ready")
		syscall.Kill(os.Getpid(), syscall.SIGKILL) // no Close, no flush
		select {}
	case "crash-big-memtable":
		// What a store opened with 32 MiB memtables, as knot's were, holds
		// after a crash: a memtable log of more than the memtables it now
		// opens with.
		db, err := bdb.Open(bdb.DefaultOptions(os.Getenv(helperDir)).WithSyncWrites(true).WithLogger(nil).WithMemTableSize(32 << 20))
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		value := make([]byte, 40<<10)
		for i := range bigMemtableKeys {
			err := db.Update(func(txn *bdb.Txn) error { return txn.Set(fmt.Appendf(nil, "old/%04d", i), value) })
			if err != nil {
				fmt.Println("error:", err)
				os.Exit(1)
			}
		}
		fmt.Println("ready")
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
}

// bigMemtableKeys values of 40 KiB are 20 MiB, all in one memtable of 32
// MiB.
const bigMemtableKeys = 500

// helper starts the test binary in mode on dir and waits until it prints
// "ready".
func helper(t *testing.T, mode, dir string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperMode+"="+mode, helperDir+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(l)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-line:
		if l != "ready" {
			t.Fatalf("helper process %s said %q", mode, l)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("helper process %s did not get ready in 60s", mode)
	}
	return cmd, stdin
}

func TestOpenRejectsBadPaths(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, path, code string
	}{
		{"EmptyPathIsInvalid", "", shared.EINVALID},
		{"PathUnderAFileIsUnavailable", filepath.Join(file, "store"), shared.EUNAVAILABLE},
		{"PathThatIsAFileIsUnavailable", file, shared.EUNAVAILABLE},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := badger.Open(badger.Options{Path: tt.path})
			if err == nil {
				s.Close()
				t.Fatalf("open %q succeeded", tt.path)
			}
			if code := shared.ErrorCode(err); code != tt.code {
				t.Fatalf("open %q: code %q (%v), want %q", tt.path, code, err, tt.code)
			}
			if tt.path != "" && !strings.Contains(shared.ErrorMessage(err), tt.path) {
				t.Fatalf("open %q: message %q does not name the path", tt.path, shared.ErrorMessage(err))
			}
		})
	}
}

func TestOpenOfStoreHeldByAnotherProcessFails(t *testing.T) {
	dir := t.TempDir()
	cmd, stdin := helper(t, "hold", dir)
	_, err := badger.Open(badger.Options{Path: dir})
	if code := shared.ErrorCode(err); code != shared.EUNAVAILABLE {
		t.Fatalf("open of a held store: code %q (%v), want %q", code, err, shared.EUNAVAILABLE)
	}
	msg := shared.ErrorMessage(err)
	if !strings.Contains(msg, dir) || !strings.Contains(msg, "another process") {
		t.Fatalf("open of a held store says %q; want the path and that another process uses it", msg)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper process: %v", err)
	}
	s := mustOpen(t, dir)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("store released by the other process: %v", err)
	}
}

func TestOpenTwiceInOneProcessFails(t *testing.T) {
	dir := t.TempDir()
	mustOpen(t, dir)
	if _, err := badger.Open(badger.Options{Path: dir}); shared.ErrorCode(err) != shared.EUNAVAILABLE {
		t.Fatalf("second open: %v, want %s", err, shared.EUNAVAILABLE)
	}
}

func TestWritesSurviveACrash(t *testing.T) {
	dir := t.TempDir()
	cmd, _ := helper(t, "crash", dir)
	cmd.Wait()
	s := mustOpen(t, dir)
	ctx := context.Background()
	h, err := s.Head(ctx)
	if err != nil || h.Revision != crashCount {
		t.Fatalf("head after crash: %+v, %v; want revision %d", h, err, crashCount)
	}
	for i := range crashCount {
		u, err := storage.Lookup[shared.User](ctx, s, fmt.Sprintf("username:user%d", i))
		if err != nil || u.ID != fmt.Sprintf("u%d", i) {
			t.Fatalf("user %d after crash: %v, %v", i, u, err)
		}
	}
}

// A store whose memtable log was written with bigger memtables than Open
// now uses opens, and keeps what the log holds.
func TestOpenReplaysTheLogOfABiggerMemtable(t *testing.T) {
	dir := t.TempDir()
	cmd, _ := helper(t, "crash-big-memtable", dir)
	cmd.Wait()
	// A replay that overflows a memtable ends the process: open in another.
	cmd, stdin := helper(t, "hold", dir)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the process that opened the store: %v", err)
	}
	db, err := bdb.Open(bdb.DefaultOptions(dir).WithLogger(nil).WithReadOnly(true))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(txn *bdb.Txn) error {
		for i := range bigMemtableKeys {
			item, err := txn.Get(fmt.Appendf(nil, "old/%04d", i))
			if err != nil {
				return fmt.Errorf("old/%04d: %w", i, err)
			}
			if item.ValueSize() != 40<<10 {
				return fmt.Errorf("old/%04d holds %d bytes", i, item.ValueSize())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after the replay: %v", err)
	}
}

func TestOpenRejectsAnotherLayout(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	s.Close()
	db, err := bdb.Open(bdb.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(txn *bdb.Txn) error { return txn.Set([]byte("meta/format"), []byte("99")) })
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = badger.Open(badger.Options{Path: dir})
	if err == nil || !strings.Contains(err.Error(), `"99"`) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("open of a store with layout 99: %v; want an error naming the layout and path", err)
	}
}

// recorder keeps the records of a slog handler.
type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func TestBadgerChatterStaysAtDebugLevel(t *testing.T) {
	rec := &recorder{}
	s, err := badger.Open(badger.Options{Path: t.TempDir(), Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.recs) == 0 {
		t.Fatal("badger logged nothing through the given logger on open and close")
	}
	for _, r := range rec.recs {
		if r.Level != slog.LevelDebug {
			t.Errorf("a quiet open and close logged %q at level %s, want debug", r.Message, r.Level)
		}
		if strings.HasSuffix(r.Message, "\n") {
			t.Errorf("message %q ends in a newline", r.Message)
		}
	}
}

func TestRunStopsWithContextOrClose(t *testing.T) {
	for _, tt := range []struct {
		name string
		stop func(cancel context.CancelFunc, s *badger.Store)
	}{
		{"ContextEnds", func(cancel context.CancelFunc, _ *badger.Store) { cancel() }},
		{"StoreCloses", func(_ context.CancelFunc, s *badger.Store) { s.Close() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := badger.Open(badger.Options{Path: t.TempDir(), GCInterval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			// Writes go on while garbage collection runs.
			for i := range 50 {
				g := &shared.Group{Meta: shared.Meta{ID: fmt.Sprint(i)}, Name: fmt.Sprint("g", i)}
				if err := s.Put(ctx, g); err != nil {
					t.Fatalf("put while Run collects: %v", err)
				}
			}
			tt.stop(cancel, s)
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run returned %v, want nil", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return within 30s")
			}
		})
	}
}
