package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/badger"
)

// A leaf process killed with SIGKILL while the origin streams changes to it
// starts again from what it had applied and converges: when both processes
// have stopped, their stores, opened here, hold the same replicated records
// at the same revisions. The kill lands after a random number of writes;
// the seed is in the log.
func TestLeafKilledMidStreamConverges(t *testing.T) {
	originDir, leafDir := t.TempDir(), t.TempDir()
	o := runKnotServer(t, originDir, "--listen", "127.0.0.1:"+loopbackPort(t), "--location", "hq", "--shared-token", fleetSharedToken)
	leafArgs := []string{"--listen", "127.0.0.1:0", "--location", "branch", "--shared-token", fleetSharedToken, "--origin-server", o.base}
	l := runKnotServer(t, leafDir, leafArgs...)
	o.call("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"}, 201, nil)
	var tok struct{ Token string }
	o.call("POST", "/api/tokens", o.login(), map[string]any{"name": "writer"}, 201, &tok)

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	var templates []string
	write := func(n int) {
		switch r := rng.IntN(10); {
		case r < 5 || len(templates) == 0:
			var tmpl struct {
				ID string `json:"template_id"`
			}
			o.call("POST", "/api/templates", tok.Token, map[string]any{"name": fmt.Sprintf("t-%d", n), "kind": "manual",
				"description": strings.Repeat("d", rng.IntN(4000))}, 201, &tmpl)
			templates = append(templates, tmpl.ID)
		case r < 8:
			id := templates[rng.IntN(len(templates))]
			o.call("PUT", "/api/templates/"+id, tok.Token, map[string]any{"description": fmt.Sprintf("changed at %d", n)}, 200, nil)
		default:
			i := rng.IntN(len(templates))
			o.call("DELETE", "/api/templates/"+templates[i], tok.Token, nil, 200, nil)
			templates = append(templates[:i], templates[i+1:]...)
		}
	}
	n := 0
	for round := range 4 {
		killAt := rng.IntN(60)
		for i := range 60 {
			if i == killAt {
				t.Logf("round %d: SIGKILL the leaf after %d writes", round, n)
				l.kill()
			}
			write(n)
			n++
		}
		l = runKnotServer(t, leafDir, leafArgs...)
	}
	var last struct {
		ID string `json:"template_id"`
	}
	o.call("POST", "/api/templates", tok.Token, map[string]any{"name": "last", "kind": "manual"}, 201, &last)
	waitUntil(t, 60*time.Second, func() string {
		if code, body := l.fetch("GET", "/api/templates/"+last.ID, tok.Token, nil); code != 200 {
			return "the leaf does not have the last template yet: " + string(body)
		}
		return ""
	})
	l.stop()
	o.stop()

	ctx := context.Background()
	// read returns the replicated records in the store of dir, the store's
	// head revision and the origin revision its replica holds.
	read := func(dir string) (map[string]string, int64, int64) {
		st, err := badger.Open(badger.Options{Path: filepath.Join(dir, "data", "badger")})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		out := map[string]string{}
		for _, k := range shared.Kinds {
			if !k.OriginOwned() {
				continue
			}
			cs, err := st.List(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				var m map[string]any
				if err := json.Unmarshal(c.Data, &m); err != nil {
					t.Fatal(err)
				}
				b, _ := json.Marshal(m)
				out[fmt.Sprintf("%s/%s@%d", c.Kind, c.ID, c.Revision)] = string(b)
			}
		}
		head, err := st.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, applied, err := st.Replica(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return out, head.Revision, applied
	}
	want, head, _ := read(originDir)
	got, _, applied := read(leafDir)
	if applied > head {
		t.Fatalf("the leaf applied revision %d, beyond the origin's head %d", applied, head)
	}
	var diffs []string
	for k, v := range want {
		if got[k] != v {
			diffs = append(diffs, "leaf lacks or differs: "+k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, "leaf has extra: "+k)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("after %d writes and 4 kills the leaf's replica (at %d) differs from the origin (at %d): %v", n+1, applied, head, diffs)
	}
	t.Logf("%d replicated records equal after %d writes and 4 kills", len(want), n+1)
}
