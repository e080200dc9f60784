package leafsim_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf/leafsim"
	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage/memory"
)

// marked returns a matcher of the change to template id whose spec names
// mark.
func marked(id, mark string) func(wire.Change) bool {
	want := []byte("KNOT_BENCH_MARK=" + mark + `\n`)
	return func(c wire.Change) bool {
		return c.Kind == shared.KindTemplate && c.ID == id && bytes.Contains(c.Data, want)
	}
}

func TestEveryLeafConvergesOnEveryUpdate(t *testing.T) {
	const leaves, updates = 200, 20
	o := startOrigin(t, memory.New())
	for i := range 10 {
		o.put(template(i, 2048))
	}
	sim := runSim(t, o, leafsim.Options{Leaves: leaves})
	if err := sim.WaitCurrent(within(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	for i := range leaves {
		if st := sim.Leaf(i); st.Applied != o.head().Revision || st.Epoch != o.head().Epoch || st.Snapshots != 1 {
			t.Fatalf("leaf %d after connecting: %+v; origin at %+v", i, st, o.head())
		}
	}

	for u := range updates {
		mark := fmt.Sprintf("u%02d", u)
		start := time.Now()
		rev := o.updateSpec("tpl-00003", 2048, mark)
		c, err := sim.FindChange(within(t, 10*time.Second), marked("tpl-00003", mark))
		if err != nil {
			t.Fatal(err)
		}
		if c.Revision != rev {
			t.Fatalf("update %d: the probe saw it at revision %d, the store wrote %d", u, c.Revision, rev)
		}
		last, err := sim.WaitApplied(within(t, 10*time.Second), rev)
		if err != nil {
			t.Fatal(err)
		}
		if last.Before(start) || time.Since(last) < 0 {
			t.Fatalf("update %d: all applied at %s, which is outside the update (began %s)", u, last, start)
		}
		for i := range leaves {
			at, ok := sim.AppliedAt(i, rev)
			if !ok || at.Before(start) || at.After(last) {
				t.Fatalf("update %d: leaf %d applied it at %s (known %v), want between %s and %s", u, i, at, ok, start, last)
			}
		}
	}

	// The origin knows every leaf acknowledged the last update.
	head := o.head().Revision
	ctx := within(t, 10*time.Second)
	for {
		n := 0
		for _, in := range o.hub().Leaves() {
			if in.Connected && in.Applied == head {
				n++
			}
		}
		if n == leaves {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the origin shows %d of %d leaves at revision %d", n, leaves, head)
		case <-time.After(10 * time.Millisecond): // polling interval
		}
	}
	st := sim.Stats()
	if st.Connected != leaves || st.Current != leaves || st.MinApplied != head || st.Snapshots != leaves || st.Sessions != leaves {
		t.Fatalf("stats %+v, want every leaf connected once and current at %d", st, head)
	}
}

// FindChange finds a change the probe applied before the call, and one it
// applies while FindChange waits, after it matched every change logged so
// far.
func TestFindChangeFindsEarlierAndLaterChanges(t *testing.T) {
	o := startOrigin(t, memory.New())
	o.put(template(0, 2048))
	sim := runSim(t, o, leafsim.Options{Leaves: 2})
	if err := sim.WaitCurrent(within(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	// Each update is applied before the next: the feed keeps only a
	// record's last change, so a leaf that was behind sees only that.
	update := func(mark string) int64 {
		rev := o.updateSpec("tpl-00000", 2048, mark)
		if _, err := sim.WaitApplied(within(t, 10*time.Second), rev); err != nil {
			t.Fatal(err)
		}
		return rev
	}
	early := update("early")
	for range 5 {
		update("between")
	}
	c, err := sim.FindChange(within(t, 10*time.Second), marked("tpl-00000", "early"))
	if err != nil || c.Revision != early {
		t.Fatalf("FindChange for a change applied before the call: %+v, %v; want revision %d", c, err, early)
	}

	type found struct {
		c   wire.Change
		err error
	}
	got := make(chan found, 1)
	go func() {
		c, err := sim.FindChange(within(t, 10*time.Second), marked("tpl-00000", "late"))
		got <- found{c, err}
	}()
	// Changes that do not match arrive first, so that FindChange has
	// matched them before the one it waits for.
	for range 3 {
		update("filler")
	}
	late := o.updateSpec("tpl-00000", 2048, "late")
	f := <-got
	if f.err != nil || f.c.Revision != late {
		t.Fatalf("FindChange for a change applied while it waited: %+v, %v; want revision %d", f.c, f.err, late)
	}
}

func TestVerifyingLeavesAcceptEveryFrame(t *testing.T) {
	o := startOrigin(t, memory.New())
	o.put(template(0, 4096))
	sim := runSim(t, o, leafsim.Options{Leaves: 20, Verify: true})
	if err := sim.WaitCurrent(within(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	for u := range 5 {
		rev := o.updateSpec("tpl-00000", 4096, fmt.Sprintf("v%d", u))
		if _, err := sim.WaitApplied(within(t, 10*time.Second), rev); err != nil {
			t.Fatal(err)
		}
	}
	if st := sim.Stats(); st.Errors != 0 || st.Sessions != 20 {
		t.Fatalf("stats %+v: the links broke", st)
	}
}

// catchUp pauses a leaf, makes k changes of specSize bytes each to distinct
// templates, resumes the leaf, and returns the bytes of change frames it
// received to catch up.
func catchUp(t *testing.T, o *testOrigin, sim *leafsim.Sim, leaf, first, k, specSize int) int64 {
	t.Helper()
	sim.Pause(leaf)
	before := sim.Leaf(leaf)
	for i := range k {
		o.updateSpec(fmt.Sprintf("tpl-%05d", first+i), specSize, fmt.Sprintf("away-%d", i))
	}
	start := time.Now()
	sim.Resume(leaf)
	rev := o.head().Revision
	if _, err := sim.WaitApplied(within(t, 10*time.Second), rev); err != nil {
		t.Fatal(err)
	}
	after := sim.Leaf(leaf)
	t.Logf("leaf %d caught up with %d changes in %s: %d bytes in %d frames", leaf, k, time.Since(start), after.ChangeBytes-before.ChangeBytes, after.ChangeFrames-before.ChangeFrames)
	if after.Snapshots != before.Snapshots || after.SnapshotBytes != before.SnapshotBytes {
		t.Fatalf("leaf %d took a snapshot to catch up: %+v", leaf, after)
	}
	return after.ChangeBytes - before.ChangeBytes
}

func TestCatchUpBytesGrowWithTheChangesNotTheData(t *testing.T) {
	const templates, specSize = 600, 2048
	o := startOrigin(t, memory.New())
	for i := range templates {
		o.put(template(i, specSize))
	}
	sim := runSim(t, o, leafsim.Options{Leaves: 10})
	if err := sim.WaitCurrent(within(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	data := sim.Leaf(5).SnapshotBytes
	if data < templates*specSize {
		t.Fatalf("the snapshot was %d bytes, less than the %d bytes of specs", data, templates*specSize)
	}

	few := catchUp(t, o, sim, 5, 0, 10, specSize)
	many := catchUp(t, o, sim, 5, 100, 100, specSize)
	// A change carries the template's JSON: its spec and a few hundred bytes.
	for _, c := range []struct {
		k     int
		bytes int64
	}{{10, few}, {100, many}} {
		if lo, hi := int64(c.k*specSize), int64(c.k*(specSize+1024)+1024); c.bytes < lo || c.bytes > hi {
			t.Errorf("catching up with %d changes took %d bytes, want %d to %d", c.k, c.bytes, lo, hi)
		}
	}
	if ratio := float64(many) / float64(few); ratio < 8 || ratio > 12 {
		t.Errorf("10 times the changes took %.1f times the bytes (%d and %d)", ratio, few, many)
	}
	if many*4 > data {
		t.Errorf("catching up with 100 of %d records took %d bytes; the whole data set is %d", templates, many, data)
	}
	// The others did not miss anything and got each change once.
	if err := sim.WaitCurrent(within(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

func TestLeavesResumeAfterAnOriginRestart(t *testing.T) {
	const leaves = 200
	o := startOrigin(t, memory.New())
	o.put(template(0, 2048))
	sim := runSim(t, o, leafsim.Options{Leaves: leaves, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err := sim.WaitCurrent(within(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	mark := sim.Mark()
	o.restart()
	// A write while they reconnect reaches them too.
	rev := o.updateSpec("tpl-00000", 2048, "after-restart")
	start := time.Now()
	if err := sim.WaitReconnected(within(t, 30*time.Second), mark); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.WaitApplied(within(t, 10*time.Second), rev); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d leaves current again %s after the restart", leaves, time.Since(start))
	for i := range leaves {
		if st := sim.Leaf(i); st.Snapshots != 1 || st.Sessions < 2 {
			t.Fatalf("leaf %d after the restart: %+v; want it resumed, not a new snapshot", i, st)
		}
	}
}

func TestANewEpochMeansANewSnapshot(t *testing.T) {
	o := startOrigin(t, memory.New())
	o.put(template(0, 512))
	sim := runSim(t, o, leafsim.Options{Leaves: 5})
	if err := sim.WaitCurrent(within(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	old := o.head().Epoch
	mark := sim.Mark()
	o.stop()
	o.store = memory.New()
	o.start()
	o.put(template(1, 512))
	if err := sim.WaitReconnected(within(t, 20*time.Second), mark); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if st := sim.Leaf(i); st.Epoch != o.head().Epoch || st.Epoch == old || st.Snapshots != 2 || st.Applied != o.head().Revision {
			t.Fatalf("leaf %d: %+v; want a second snapshot of epoch %s at %d", i, st, o.head().Epoch, o.head().Revision)
		}
	}
}

func TestARefusedCredentialIsReported(t *testing.T) {
	o := startOrigin(t, memory.New())
	sim, err := leafsim.New(leafsim.Options{OriginURL: o.srv.URL, Token: "not-the-token", Leaves: 3, Logger: quiet(), MinBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sim.Run(ctx) }()
	defer func() { cancel(); <-done }()
	err = sim.WaitCurrent(within(t, 300*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "not a valid token") {
		t.Fatalf("WaitCurrent = %v; want the 401 and its reason", err)
	}
}

func TestNewChecksOptions(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts leafsim.Options
		want string
	}{
		{"NoOrigin", leafsim.Options{Token: "t", Leaves: 1}, "origin URL is required"},
		{"NoToken", leafsim.Options{OriginURL: "http://127.0.0.1:1", Leaves: 1}, "token"},
		{"NoLeaves", leafsim.Options{OriginURL: "http://127.0.0.1:1", Token: "t"}, "from 1 to 100000, not 0"},
		{"TooManyLeaves", leafsim.Options{OriginURL: "http://127.0.0.1:1", Token: "t", Leaves: 100001}, "not 100001"},
		{"BadScheme", leafsim.Options{OriginURL: "ftp://x", Token: "t", Leaves: 1}, "must start with http://"},
		{"NoHost", leafsim.Options{OriginURL: "http://", Token: "t", Leaves: 1}, "has no host"},
		{"PrefixWithSpace", leafsim.Options{OriginURL: "http://127.0.0.1:1", Token: "t", Leaves: 1, Prefix: "a b"}, "prefix"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := leafsim.New(tt.opts)
			if shared.ErrorCode(err) != shared.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v; want EINVALID containing %q", err, tt.want)
			}
		})
	}
}

func TestContainerSpecIsValidAndOfTheSize(t *testing.T) {
	for _, size := range []int{100, 2048, 10000} {
		spec := leafsim.ContainerSpec(size, "m-1.2")
		if len(spec) < size || len(spec) > size+100 {
			t.Errorf("ContainerSpec(%d) is %d bytes", size, len(spec))
		}
		tp := &shared.Template{Name: "bench", Kind: shared.TemplateContainer, Spec: spec}
		if err := runtime.ValidateTemplate(tp); err != nil {
			t.Errorf("ContainerSpec(%d) is refused: %v", size, err)
		}
		if !strings.Contains(spec, "KNOT_BENCH_MARK=m-1.2\n") || leafsim.ContainerSpec(size, "other") == spec {
			t.Errorf("ContainerSpec(%d) does not carry its mark", size)
		}
	}
}

func TestSummarize(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		var out []time.Duration
		for _, v := range vs {
			out = append(out, time.Duration(v)*time.Millisecond)
		}
		return out
	}
	twenty := ms(20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(100-i) * time.Millisecond
	}
	for _, tt := range []struct {
		name string
		in   []time.Duration
		want leafsim.Summary
	}{
		{"NoValuesIsZero", nil, leafsim.Summary{}},
		{"OneValueIsEveryPercentile", ms(7), leafsim.Summary{N: 1, Min: 7e6, P50: 7e6, P99: 7e6, Max: 7e6, Mean: 7e6}},
		{"TwentyUpdatesP99IsTheMax", twenty, leafsim.Summary{N: 20, Min: 1e6, P50: 10e6, P99: 20e6, Max: 20e6, Mean: 10500e3}},
		{"HundredValuesP99IsTheSecondLargest", hundred, leafsim.Summary{N: 100, Min: 1e6, P50: 50e6, P99: 99e6, Max: 100e6, Mean: 50500e3}},
		{"EvenCountP50IsTheLowerMiddle", ms(4, 1, 3, 2), leafsim.Summary{N: 4, Min: 1e6, P50: 2e6, P99: 4e6, Max: 4e6, Mean: 2500e3}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tt.in...)
			if got := leafsim.Summarize(tt.in); got != tt.want {
				t.Fatalf("Summarize = %+v, want %+v", got, tt.want)
			}
			for i := range in {
				if in[i] != tt.in[i] {
					t.Fatal("Summarize reordered its input")
				}
			}
			if tt.want.N > 0 && leafsim.Percentile(tt.in, 99) != tt.want.P99 {
				t.Fatalf("Percentile 99 = %s, want %s", leafsim.Percentile(tt.in, 99), tt.want.P99)
			}
		})
	}
}
