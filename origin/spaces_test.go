package origin_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
)

// fakeSpaces records the commands a leaf carries out; a space named in
// missing is not found.
type fakeSpaces struct {
	mu      sync.Mutex
	calls   []string
	missing string
}

func (f *fakeSpaces) do(action, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == f.missing {
		return shared.Errorf(shared.ENOTFOUND, "Space %s not found.", id)
	}
	f.calls = append(f.calls, action+" "+id)
	return nil
}

func (f *fakeSpaces) Start(ctx context.Context, id string) error  { return f.do("start", id) }
func (f *fakeSpaces) Stop(ctx context.Context, id string) error   { return f.do("stop", id) }
func (f *fakeSpaces) Delete(ctx context.Context, id string) error { return f.do("delete", id) }

func TestFakeSpacesRecordsCalls(t *testing.T) {
	f := &fakeSpaces{missing: "gone"}
	ctx := context.Background()
	f.Start(ctx, "a")
	f.Stop(ctx, "b")
	f.Delete(ctx, "c")
	if err := f.Stop(ctx, "gone"); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Errorf("missing space: %v", err)
	}
	if want := []string{"start a", "stop b", "delete c"}; !slices.Equal(f.calls, want) {
		t.Errorf("calls %v, want %v", f.calls, want)
	}
}

func waitConnected(t *testing.T, o *testOrigin, node string) {
	t.Helper()
	eventually(t, 5*time.Second, func() string {
		for _, in := range o.hub().Leaves() {
			if in.NodeID == node && in.Connected {
				return ""
			}
		}
		return node + " is not connected"
	})
}

// TestSpaceReportsReachTheOrigin checks invariant 6: every change to a
// leaf's space shows in the origin's store, and a leaf cannot report a space
// of another location.
func TestSpaceReportsReachTheOrigin(t *testing.T) {
	f := newFixture(t, origin.Options{})
	ctx := context.Background()
	ls := memory.New()
	l := startLeaf(t, f.o, ls, leaf.Options{Token: f.leafToken, Location: "us", NodeID: "n-us"})
	waitConnected(t, f.o, "n-us")

	originSpace := func(id string) (*shared.Space, error) { return storage.Get[shared.Space](ctx, f.o.Store(), id) }
	sp := &shared.Space{Meta: shared.Meta{ID: "s1"}, UserID: "ann", Name: "dev", Location: "us", State: shared.SpaceRunning}
	if err := ls.Put(ctx, sp); err != nil {
		t.Fatal(err)
	}
	l.uplink().Notify()
	eventually(t, 5*time.Second, func() string {
		got, err := originSpace("s1")
		if err != nil || got.State != shared.SpaceRunning || got.Location != "us" || got.Name != "dev" {
			return fmt.Sprintf("origin has %+v, %v", got, err)
		}
		return ""
	})

	sp.State = shared.SpaceStopped
	if err := ls.Put(ctx, sp); err != nil {
		t.Fatal(err)
	}
	// Another location's space in the leaf's store is refused by the origin.
	if err := ls.Put(ctx, &shared.Space{Meta: shared.Meta{ID: "s2"}, UserID: "ann", Name: "other", Location: "eu"}); err != nil {
		t.Fatal(err)
	}
	l.uplink().Notify()
	eventually(t, 5*time.Second, func() string {
		got, err := originSpace("s1")
		if err != nil || got.State != shared.SpaceStopped {
			return fmt.Sprintf("origin has %+v, %v", got, err)
		}
		if n := l.uplink().Status().PendingReports; n != 0 {
			return fmt.Sprintf("%d reports pending", n)
		}
		return ""
	})
	if _, err := originSpace("s2"); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Errorf("the origin stored a space of another location: %v", err)
	}

	if _, err := ls.Delete(ctx, shared.KindSpace, "s1"); err != nil {
		t.Fatal(err)
	}
	l.uplink().Notify()
	eventually(t, 5*time.Second, func() string {
		if _, err := originSpace("s1"); shared.ErrorCode(err) != shared.ENOTFOUND {
			return fmt.Sprintf("the origin still has s1: %v", err)
		}
		return ""
	})
}

// TestSpaceReportsAreIdempotent sends one report twice, over two links, and
// checks that the second one writes nothing.
func TestSpaceReportsAreIdempotent(t *testing.T) {
	f := newFixture(t, origin.Options{})
	ctx := context.Background()
	report := &wire.SpaceReport{LeafRevision: 7, SpaceID: "s1", Space: []byte(`{"id":"s1","revision":7,"user_id":"ann","name":"dev","location":"us","state":"running"}`)}
	var revs []int64
	for i := 0; i < 2; i++ {
		r := mustDialRaw(t, f.o, f.leafToken)
		r.welcome(hello("n-us", "us", "", 0))
		r.readSnapshot()
		r.send(report)
		for {
			if ack, ok := r.nextSkipping().(*wire.SpaceAck); ok {
				if ack.LeafRevision != 7 || ack.Code != "" {
					t.Fatalf("ack %+v", ack)
				}
				break
			}
		}
		got, err := storage.Get[shared.Space](ctx, f.o.Store(), "s1")
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, got.Revision)
		r.c.CloseNow()
		waitDisconnected(t, f.o, "n-us")
	}
	if revs[0] != revs[1] {
		t.Errorf("the same report wrote twice: revisions %v", revs)
	}
}

func waitDisconnected(t *testing.T, o *testOrigin, node string) {
	t.Helper()
	eventually(t, 5*time.Second, func() string {
		for _, in := range o.hub().Leaves() {
			if in.NodeID == node && in.Connected {
				return node + " is still connected"
			}
		}
		return ""
	})
}

func TestRestrictedLeafReportsOnlyItsOwnersSpaces(t *testing.T) {
	f := newFixture(t, origin.Options{EnableLeafAPITokens: true})
	r := mustDialRaw(t, f.o, apiSecret)
	r.welcome(hello("n-ann", "", "", 0))
	r.readSnapshot()
	r.send(&wire.SpaceReport{LeafRevision: 1, SpaceID: "s1", Space: []byte(`{"id":"s1","user_id":"bob","name":"dev","location":"user:ann"}`)})
	for {
		if ack, ok := r.nextSkipping().(*wire.SpaceAck); ok {
			if ack.Code != shared.EFORBIDDEN {
				t.Fatalf("report of another user's space: ack %+v, want %s", ack, shared.EFORBIDDEN)
			}
			break
		}
	}
	if _, err := f.o.Store().Get(context.Background(), shared.KindSpace, "s1"); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Errorf("the origin stored it: %v", err)
	}
}

func TestCommandsReachTheLeaf(t *testing.T) {
	f := newFixture(t, origin.Options{})
	ctx := context.Background()
	spaces := &fakeSpaces{missing: "s9"}
	startLeaf(t, f.o, memory.New(), leaf.Options{Token: f.leafToken, Location: "us", NodeID: "n-us", Spaces: spaces})
	waitConnected(t, f.o, "n-us")
	h := f.o.hub()
	for _, tt := range []struct {
		name     string
		location string
		cmd      wire.Command
		code     string
	}{
		{"StopIsCarriedOut", "us", wire.Command{Action: wire.ActionStop, SpaceID: "s1"}, ""},
		{"StartIsCarriedOut", "us", wire.Command{Action: wire.ActionStart, SpaceID: "s1"}, ""},
		{"DeleteIsCarriedOut", "us", wire.Command{Action: wire.ActionDelete, SpaceID: "s2"}, ""},
		{"TheLeafsErrorComesBack", "us", wire.Command{Action: wire.ActionStop, SpaceID: "s9"}, shared.ENOTFOUND},
		{"NoLeafForTheLocation", "nowhere", wire.Command{Action: wire.ActionStop, SpaceID: "s1"}, shared.EUNAVAILABLE},
		{"UnknownAction", "us", wire.Command{Action: "reboot", SpaceID: "s1"}, shared.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := h.Command(ctx, tt.location, tt.cmd)
			if shared.ErrorCode(err) != tt.code {
				t.Fatalf("Command = %v, want code %q", err, tt.code)
			}
			if tt.code == shared.ENOTFOUND && shared.ErrorMessage(err) != "Space s9 not found." {
				t.Errorf("message %q", shared.ErrorMessage(err))
			}
		})
	}
	if want := []string{"stop s1", "start s1", "delete s2"}; !slices.Equal(spaces.calls, want) {
		t.Errorf("the leaf carried out %v, want %v", spaces.calls, want)
	}
}
