package origin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/memory"
)

// logRecorder keeps the messages a logger got at WARN and above.
type logRecorder struct {
	mu    sync.Mutex
	warns []string
}

func (r *logRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	line := rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		line += fmt.Sprintf(" %s=%v", a.Key, a.Value)
		return true
	})
	r.warns = append(r.warns, line)
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// warned returns the first WARN message that holds every one of words.
func (r *logRecorder) warned(words ...string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
next:
	for _, w := range r.warns {
		for _, word := range words {
			if !strings.Contains(w, word) {
				continue next
			}
		}
		return w
	}
	return ""
}

// An origin whose store was made anew has a new epoch: the leaf keeps a
// copy of the replica the new snapshot replaces before it applies it, both
// sides log the change at WARN, and the fleet view and the leaf's status
// show it.
func TestANewEpochIsLoggedShownAndTheOldReplicaKept(t *testing.T) {
	oldStore := memory.New()
	originLog, leafLog := &logRecorder{}, &logRecorder{}
	o := startOrigin(t, oldStore, origin.Options{Logger: slog.New(originLog)})
	mustPut(t, o, &shared.User{Meta: shared.Meta{ID: "ann"}, Username: "ann", Email: "ann@example.com", Active: true})
	mustPut(t, o, &shared.Template{Meta: shared.Meta{ID: "tpl"}, Name: "byo", Kind: shared.TemplateManual})
	backups := t.TempDir()
	l := startLeaf(t, o, memory.New(), leaf.Options{Token: sharedToken, Location: "eu", NodeID: "node-eu", BackupDir: backups, Logger: slog.New(leafLog)})
	eventually(t, 10*time.Second, func() string { return converged(t, o, l, viewer{}) })
	ctx := context.Background()
	oldHead, err := oldStore.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if names, _ := filepath.Glob(filepath.Join(backups, "*")); len(names) != 0 {
		t.Fatalf("a leaf that got its first snapshot wrote %v", names)
	}

	// The origin starts again on a new, empty store: a new epoch.
	newStore := memory.New()
	o.restart(newStore)
	mustPut(t, o, &shared.User{Meta: shared.Meta{ID: "bob"}, Username: "bob", Email: "bob@example.com", Active: true})
	eventually(t, 10*time.Second, func() string { return converged(t, o, l, viewer{}) })
	newHead, err := newStore.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The copy holds the replica as it was, of the old epoch.
	names, _ := filepath.Glob(filepath.Join(backups, "knot-replica-"+oldHead.Epoch+"-*.json"))
	if len(names) != 1 {
		all, _ := filepath.Glob(filepath.Join(backups, "*"))
		t.Fatalf("the leaf kept %v; want one knot-replica-%s-TIME.json", all, oldHead.Epoch)
	}
	data, err := os.ReadFile(names[0])
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(names[0]); fi.Mode().Perm() != 0o600 {
		t.Errorf("the copy of the replica has mode %v, want 0600", fi.Mode().Perm())
	}
	var b leaf.ReplicaBackup
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatalf("the copy of the replica: %v\n%s", err, data)
	}
	held := map[string]bool{}
	for _, c := range b.Records {
		held[string(c.Kind)+"/"+c.ID] = true
	}
	if b.Epoch != oldHead.Epoch || b.AppliedRevision != oldHead.Revision || b.ReplacedBy != newHead.Epoch || b.Location != "eu" ||
		!held["user/ann"] || !held["template/tpl"] || held["user/bob"] {
		t.Fatalf("the copy of the replica holds epoch %s at %d (replaced by %s, location %s) and %v; want epoch %s at %d replaced by %s, with ann and tpl and without bob",
			b.Epoch, b.AppliedRevision, b.ReplacedBy, b.Location, held, oldHead.Epoch, oldHead.Revision, newHead.Epoch)
	}

	if w := leafLog.warned("new epoch", oldHead.Epoch, names[0]); w == "" {
		t.Errorf("the leaf logged no WARN naming the new epoch, the old one %s and the copy: %v", oldHead.Epoch, leafLog.warns)
	}
	if w := originLog.warned("another epoch", "node-eu", oldHead.Epoch, newHead.Epoch); w == "" {
		t.Errorf("the origin logged no WARN naming the leaf and both epochs: %v", originLog.warns)
	}
	st := l.uplink().Status()
	if st.PreviousEpoch != oldHead.Epoch || st.ReplicaBackup != names[0] || st.EpochChangedAt.IsZero() || st.Epoch != newHead.Epoch {
		t.Errorf("leaf status %+v; want epoch %s, previous epoch %s, the copy %s and when", st, newHead.Epoch, oldHead.Epoch, names[0])
	}
	ls := o.hub().Leaves()
	if len(ls) != 1 || ls[0].EpochChanges != 1 || ls[0].PreviousEpoch != oldHead.Epoch || ls[0].EpochChangedAt.IsZero() {
		t.Errorf("fleet view %s; want node-eu with 1 epoch change from %s", jsonString(ls), oldHead.Epoch)
	}

	// A reconnect in the same epoch is no change.
	l.cut()
	eventually(t, 10*time.Second, func() string {
		if ls := o.hub().Leaves(); len(ls) != 1 || !ls[0].Connected || ls[0].EpochChanges != 1 {
			return "fleet view after a reconnect: " + jsonString(ls)
		}
		return ""
	})
}

// A leaf that cannot keep a copy of its replica does not let a snapshot of
// a new epoch replace it, and says why in its status.
func TestALeafThatCannotKeepItsReplicaAppliesNoNewEpoch(t *testing.T) {
	oldStore := memory.New()
	o := startOrigin(t, oldStore, origin.Options{})
	mustPut(t, o, &shared.User{Meta: shared.Meta{ID: "ann"}, Username: "ann", Email: "ann@example.com", Active: true})
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	leafStore := memory.New()
	l := startLeaf(t, o, leafStore, leaf.Options{Token: sharedToken, Location: "eu", NodeID: "node-eu", BackupDir: notADir})
	eventually(t, 10*time.Second, func() string { return converged(t, o, l, viewer{}) })
	oldHead, _ := oldStore.Head(context.Background())

	o.restart(memory.New())
	eventually(t, 10*time.Second, func() string {
		if st := l.uplink().Status(); !strings.Contains(st.Reason, "could not keep a copy of its replica of epoch "+oldHead.Epoch) {
			return fmt.Sprintf("leaf status %+v; want the reason that it could not keep a copy", st)
		}
		return ""
	})
	epoch, applied, err := leafStore.Replica(context.Background())
	if err != nil || epoch != oldHead.Epoch || applied != oldHead.Revision {
		t.Fatalf("the leaf's replica is at %s/%d, %v; want it untouched at %s/%d", epoch, applied, err, oldHead.Epoch, oldHead.Revision)
	}
	if _, err := leafStore.Get(context.Background(), shared.KindUser, "ann"); err != nil {
		t.Fatalf("ann is gone from the leaf's replica: %v", err)
	}
}
