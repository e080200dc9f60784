package web_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/storage/memory"
)

// When the origin's store is made anew, GET /api/leaves and the origin's
// metrics show that the leaf got a snapshot of a new epoch, and the leaf's
// GET /api/leaf/status names the epoch it left and the copy it kept.
func TestTheFleetAndTheLeafShowANewEpoch(t *testing.T) {
	f := newFleet(t)
	ob, lb := f.originSW.srv.URL, f.leafSrv.URL
	f.waitConnected(true)
	admin := map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", "", admin, nil)
	oldHead, err := f.originStore.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() string {
		if e, _, _ := f.leafStore.Replica(context.Background()); e != oldHead.Epoch {
			return "the leaf has no replica of epoch " + oldHead.Epoch
		}
		return ""
	})

	f.stopOrigin()
	f.originStore = memory.New()
	f.startOrigin()
	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", "", admin, nil)
	newHead, _ := f.originStore.Head(context.Background())
	originSession := f.login(ob)

	var leaves struct {
		Leaves []struct {
			NodeID         string     `json:"node_id"`
			EpochChanges   int        `json:"epoch_changes"`
			PreviousEpoch  string     `json:"previous_epoch"`
			EpochChangedAt *time.Time `json:"epoch_changed_at"`
		}
	}
	eventually(t, 5*time.Second, func() string {
		mustCall(t, http.StatusOK, ob, "GET", "/api/leaves", originSession, nil, &leaves)
		if len(leaves.Leaves) != 1 || leaves.Leaves[0].EpochChanges != 1 || leaves.Leaves[0].PreviousEpoch != oldHead.Epoch || leaves.Leaves[0].EpochChangedAt == nil {
			return "leaves " + jsonOf(leaves) + ", want node-away with 1 epoch change from " + oldHead.Epoch
		}
		return ""
	})
	om := string(mustCall(t, http.StatusOK, ob, "GET", "/metrics", "", nil, nil).body)
	if want := `knot_leaf_epoch_changes{location="away",node="node-away"} 1`; !strings.Contains(om, want) {
		t.Errorf("origin metrics lack %q", want)
	}

	var st struct {
		Epoch          string     `json:"epoch"`
		PreviousEpoch  string     `json:"previous_epoch"`
		EpochChangedAt *time.Time `json:"epoch_changed_at"`
		ReplicaBackup  string     `json:"replica_backup"`
	}
	eventually(t, 5*time.Second, func() string {
		mustCall(t, http.StatusOK, lb, "GET", "/api/leaf/status", f.login(lb), nil, &st)
		if st.Epoch != newHead.Epoch || st.PreviousEpoch != oldHead.Epoch || st.EpochChangedAt == nil || filepath.Dir(st.ReplicaBackup) != f.backups {
			return "leaf status " + jsonOf(st)
		}
		return ""
	})
	if _, err := os.Stat(st.ReplicaBackup); err != nil {
		t.Fatalf("the copy the leaf status names: %v", err)
	}
}
