package origin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage/memory"
)

// model is a leaf's replica kept by hand from the frames a raw leaf reads.
type model struct {
	mu      sync.Mutex
	epoch   string
	applied int64
	recs    map[string]wire.Change
}

func (m *model) apply(cs []wire.Change) {
	for _, c := range cs {
		k := key(c.Kind, c.ID)
		if c.Deleted {
			delete(m.recs, k)
		} else {
			m.recs[k] = c
		}
	}
}

// asReplica returns the model in the form of expectedView.
func (m *model) asReplica(t testing.TB) map[string]string {
	out := map[string]string{}
	for _, c := range m.recs {
		out[fmt.Sprintf("%s/%s@%d", c.Kind, c.ID, c.Revision)] = normalise(t, c.Data)
	}
	return out
}

// leak returns what is wrong with a record a restricted leaf of owner
// received, "" when nothing.
func leak(c wire.Change, owner string) string {
	if c.Deleted {
		return ""
	}
	var r struct {
		ID             string `json:"id"`
		UserID         string `json:"user_id"`
		PasswordHash   string `json:"password_hash"`
		AgentTokenHash string `json:"agent_token_hash"`
		TOTPSecret     string `json:"totp_secret"`
		Local          bool   `json:"local"`
		Protected      bool   `json:"protected"`
		Restricted     bool   `json:"restricted"`
		Location       string `json:"location"`
	}
	if err := json.Unmarshal(c.Data, &r); err != nil {
		return err.Error()
	}
	switch c.Kind {
	case shared.KindUser:
		if r.ID != owner {
			return "the user record of " + r.ID
		}
		if r.PasswordHash != "" || r.TOTPSecret != "" {
			return "the owner's login secrets"
		}
	case shared.KindSpace:
		if r.UserID != owner {
			return "a space of " + r.UserID
		}
		if r.AgentTokenHash != "" {
			return "the agent credential of space " + r.ID
		}
	case shared.KindToken:
		if r.UserID != owner {
			return "an API token of " + r.UserID
		}
	case shared.KindTemplateVar:
		if r.Local || r.Protected || r.Restricted {
			return fmt.Sprintf("variable %s (local=%v protected=%v restricted=%v)", r.ID, r.Local, r.Protected, r.Restricted)
		}
		if r.Location != "" && !strings.EqualFold(r.Location, ownerLocation) {
			return fmt.Sprintf("variable %s of location %s", r.ID, r.Location)
		}
	}
	return ""
}

// inconsistent returns what in the model does not follow from the owner
// record it holds, "" when nothing.
func (m *model) inconsistent(owner string) string {
	oc, ok := m.recs[key(shared.KindUser, owner)]
	if !ok {
		return "the replica lacks its owner"
	}
	var o shared.User
	json.Unmarshal(oc.Data, &o)
	for _, c := range m.recs {
		switch c.Kind {
		case shared.KindGroup:
			if !slices.Contains(o.Groups, c.ID) {
				return fmt.Sprintf("group %s, but the owner is in %v", c.ID, o.Groups)
			}
		case shared.KindRole:
			if !slices.Contains(o.Roles, c.ID) {
				return fmt.Sprintf("role %s, but the owner has %v", c.ID, o.Roles)
			}
		case shared.KindTemplate:
			var tpl shared.Template
			json.Unmarshal(c.Data, &tpl)
			if !tpl.UsableBy(o.Groups) {
				return fmt.Sprintf("template %s for %v, but the owner is in %v", c.ID, tpl.Groups, o.Groups)
			}
		}
	}
	return ""
}

// TestRestrictedLeafNeverReceivesOtherUsersData is a property test: under a
// seeded random workload, with the link cut and resumed now and then, every
// record a restricted leaf receives is its owner's or open to its owner,
// never a protected, restricted or local variable nor one scoped to another
// location, never a login secret;
// after every frame the replica is the view of the owner record it holds;
// and at the end it equals the origin's view.
func TestRestrictedLeafNeverReceivesOtherUsersData(t *testing.T) {
	for _, seed := range seeds(t) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("reproduce with: go test ./origin -run TestRestrictedLeafNeverReceivesOtherUsersData -seed=%d", seed)
				}
			}()
			st := memory.New()
			w := &workload{t: t, rng: rand.New(rand.NewPCG(seed, 17)), ctx: context.Background()}
			w.seedCredentials(st)
			o := startOrigin(t, st, origin.Options{EnableLeafAPITokens: true})
			m := &model{recs: map[string]wire.Change{}}
			connect := func() (*rawLeaf, chan string) {
				r := mustDialRaw(t, o, ownerSecret)
				m.mu.Lock()
				h := hello("node-owner", ownerLocation, m.epoch, m.applied)
				m.mu.Unlock()
				wel := r.welcome(h)
				if !wel.Restricted || wel.Location != ownerLocation {
					t.Fatalf("welcome %+v", wel)
				}
				done := make(chan string, 1)
				go func() { done <- follow(r, m, wel) }()
				return r, done
			}
			for round := 0; round < 6; round++ {
				r, done := connect()
				for range 30 {
					w.write(st)
					o.hub().Notify()
				}
				// Wait until the leaf is at the head (reconnecting when the
				// hub says to start over), then cut the link.
				head, _ := st.Head(context.Background())
				deadline := time.Now().Add(5 * time.Second)
				for {
					select {
					case msg := <-done:
						if !strings.Contains(msg, "reconnect for a snapshot") {
							t.Fatalf("round %d: %s\nsteps: %v", round, msg, w.steps)
						}
						r, done = connect()
						continue
					default:
					}
					m.mu.Lock()
					at := m.applied
					m.mu.Unlock()
					if at == head.Revision {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("round %d: applied %d of %d", round, at, head.Revision)
					}
					time.Sleep(2 * time.Millisecond) // polling interval
				}
				r.c.CloseNow()
				if msg := <-done; msg != "closed" && !strings.Contains(msg, "reconnect for a snapshot") {
					t.Fatalf("round %d: %s\nsteps: %v", round, msg, w.steps)
				}
				if d := diff(expectedView(t, st, viewer{restricted: true, owner: ownerID, scope: ownerLocation}), m.asReplica(t)); d != "" {
					t.Fatalf("round %d: the replica differs from the origin's view: %s\nsteps: %v", round, d, w.steps)
				}
			}
		})
	}
}

// follow applies what the hub sends to m until the link ends, and returns
// "closed" then, or what was wrong.
func follow(r *rawLeaf, m *model, wel *wire.Welcome) string {
	var snap []wire.Change
	for {
		_, b, err := r.c.Read(context.Background())
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return "closed"
			}
			return "the link ended: " + err.Error()
		}
		f, err := wire.Decode(b)
		if err != nil {
			return err.Error()
		}
		switch f := f.(type) {
		case *wire.Snapshot:
			for _, c := range f.Records {
				if l := leak(c, ownerID); l != "" {
					return "the snapshot holds " + l
				}
			}
			snap = append(snap, f.Records...)
		case *wire.SnapshotEnd:
			m.mu.Lock()
			m.recs = map[string]wire.Change{}
			m.apply(snap)
			m.epoch, m.applied = wel.Epoch, f.Revision
			msg := m.inconsistent(ownerID)
			m.mu.Unlock()
			if msg != "" {
				return "after the snapshot the replica holds " + msg
			}
		case *wire.Changes:
			for _, c := range f.Changes {
				if l := leak(c, ownerID); l != "" {
					return fmt.Sprintf("revision %d holds %s", f.Revision, l)
				}
			}
			m.mu.Lock()
			if f.Prev != m.applied {
				m.mu.Unlock()
				return fmt.Sprintf("changes from %d, replica at %d", f.Prev, m.applied)
			}
			m.apply(f.Changes)
			m.applied = f.Revision
			msg := m.inconsistent(ownerID)
			m.mu.Unlock()
			if msg != "" {
				return fmt.Sprintf("after revision %d the replica holds %s", f.Revision, msg)
			}
			r.c.Write(context.Background(), websocket.MessageText, []byte(fmt.Sprintf(`{"type":"ack","applied":%d}`, f.Revision)))
		case *wire.KeepAlive:
		default:
			return "unexpected frame " + f.FrameType()
		}
	}
}
