package runtime_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/runtime/runtimetest"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
)

// TestLifecycleOnFake runs the lifecycle suite that the real engines pass
// against the fake, which keeps the fake honest for the tests below.
func TestLifecycleOnFake(t *testing.T) {
	engine := runtimetest.NewFake("docker", "", runtimetest.TestImage)
	runtimetest.RunLifecycle(t, runtimetest.Harness{
		NewRuntime: func(t *testing.T, loc string) runtime.Runtime { return engine.ForLocation(loc) },
		NewFlakyRuntime: func(t *testing.T, loc string) (runtime.Runtime, func(bool)) {
			f := engine.ForLocation(loc)
			return f, func(up bool) { f.SetDown(!up) }
		},
		Image:          runtimetest.TestImage,
		MissingImage:   runtimetest.MissingImage,
		RemoveOutside:  func(t *testing.T, id string) { engine.Vanish(id) },
		StopOutside:    func(t *testing.T, id string) { engine.Kill(id, 0) },
		RestartOutside: func(t *testing.T, id string) { engine.Restart(id) },
		Volumes:        func(t *testing.T, id string) []string { return engine.Volumes(id) },
	})
}

func newFakeEnv(t *testing.T) (*runtimetest.Env, *runtimetest.Fake) {
	f := runtimetest.NewFake("docker", "here", runtimetest.TestImage)
	return runtimetest.NewEnv(t, f, "here", runtimetest.TestImage, false), f
}

func newManager(t *testing.T, opts runtime.Options) *runtime.Manager {
	t.Helper()
	if opts.Server.Location == "" {
		opts.Server.Location = "here"
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	m, err := runtime.NewManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// newManualSpace returns a manager without runtimes that keeps logLines
// lines a log (0: the default), and a pending space of a manual template.
func newManualSpace(t *testing.T, logLines int) (*runtimetest.Records, *runtime.Manager, *shared.Space) {
	recs := runtimetest.NewRecords()
	m := newManager(t, runtime.Options{Records: recs, LogLines: logLines})
	tmpl := recs.PutTemplate(&shared.Template{Name: "byo", Kind: shared.TemplateManual})
	return recs, m, recs.AddSpace(recs.AddUser("ann"), tmpl, "laptop")
}

func TestManualTemplateRunsWithoutRuntime(t *testing.T) {
	recs, m, s := newManualSpace(t, 0)
	ctx := context.Background()
	tmpl, _ := recs.GetTemplate(ctx, s.TemplateID)
	if err := m.Start(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if got := recs.Space(s.ID); got.State != shared.SpaceRunning || got.TemplateHash != tmpl.Hash || got.StartedAt == nil {
		t.Fatalf("after Start: %q hash %q started %v; want running with the template hash", got.State, got.TemplateHash, got.StartedAt)
	}
	if err := m.Stop(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if got := recs.Space(s.ID); got.State != shared.SpaceStopped {
		t.Fatalf("after Stop: %q; want stopped", got.State)
	}
	if err := m.Delete(ctx, s.ID); err != nil || recs.Space(s.ID) != nil {
		t.Fatalf("Delete = %v, record %v; want it gone", err, recs.Space(s.ID))
	}
}

func TestTemplateKindWithoutRuntimeFails(t *testing.T) {
	for _, tt := range []struct {
		kind shared.TemplateKind
		want string
	}{
		{shared.TemplateNomad, "no nomad runtime configured"},
		{shared.TemplateContainer, "no container runtime configured"},
	} {
		t.Run(string(tt.kind), func(t *testing.T) {
			recs := runtimetest.NewRecords()
			m := newManager(t, runtime.Options{Records: recs})
			tmpl := recs.PutTemplate(&shared.Template{Name: "t", Kind: tt.kind, Spec: "image: x\n"})
			s := recs.AddSpace(recs.AddUser("ann"), tmpl, "dev")
			err := m.Start(context.Background(), s.ID)
			if shared.ErrorCode(err) != shared.EUNAVAILABLE {
				t.Fatalf("Start = %v; want EUNAVAILABLE", err)
			}
			if got := recs.Space(s.ID); got.State != shared.SpaceFailed || got.Reason != tt.want {
				t.Fatalf("state %q reason %q; want failed with %q", got.State, got.Reason, tt.want)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	e, _ := newFakeEnv(t)
	ctx := context.Background()
	elsewhere := e.Space(nil, "far")
	elsewhere.Location = "tokyo"
	if err := e.Records.PutSpace(ctx, elsewhere); err != nil {
		t.Fatal(err)
	}
	deleting := e.Space(nil, "going")
	deleting.State = shared.SpaceDeleting
	if err := e.Records.PutSpace(ctx, deleting); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		call func() error
		code string
	}{
		{"StartUnknownSpaceNotFound", func() error { return e.Manager.Start(ctx, "nope") }, shared.ENOTFOUND},
		{"StopUnknownSpaceNotFound", func() error { return e.Manager.Stop(ctx, "nope") }, shared.ENOTFOUND},
		{"DeleteUnknownSpaceIsDone", func() error { return e.Manager.Delete(ctx, "nope") }, ""},
		{"StartOtherLocationInvalid", func() error { return e.Manager.Start(ctx, elsewhere.ID) }, shared.EINVALID},
		{"DeleteOtherLocationInvalid", func() error { return e.Manager.Delete(ctx, elsewhere.ID) }, shared.EINVALID},
		{"StartDeletingLocked", func() error { return e.Manager.Start(ctx, deleting.ID) }, shared.ELOCKED},
		{"StopDeletingLocked", func() error { return e.Manager.Stop(ctx, deleting.ID) }, shared.ELOCKED},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code := shared.ErrorCode(tt.call()); code != tt.code {
				t.Fatalf("code %q; want %q", code, tt.code)
			}
		})
	}
	if got := e.Records.Space(elsewhere.ID); got.State != shared.SpacePending {
		t.Fatalf("the other location's space became %q", got.State)
	}
}

func TestDeleteWaitsForEngineThenReconcilerFinishes(t *testing.T) {
	e, f := newFakeEnv(t)
	s := e.Space(nil, "dev")
	e.MustStart(s)
	f.SetDown(true)
	err := e.Manager.Delete(context.Background(), s.ID)
	if shared.ErrorCode(err) != shared.EUNAVAILABLE {
		t.Fatalf("Delete with the engine down = %v; want EUNAVAILABLE", err)
	}
	got := e.Records.Space(s.ID)
	if got == nil || got.State != shared.SpaceDeleting || !strings.Contains(got.Reason, "delete waits: cannot reach docker") {
		t.Fatalf("record %+v; want it kept in deleting with the reason", got)
	}
	if err := e.Manager.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.Records.Space(s.ID) == nil {
		t.Fatal("the record went while the engine was still down")
	}
	f.SetDown(false)
	if err := e.Manager.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.Records.Space(s.ID) != nil || len(f.Volumes(s.ID)) != 0 {
		t.Fatalf("after the engine came back: record %v, volumes %v; want both gone", e.Records.Space(s.ID), f.Volumes(s.ID))
	}
}

func TestReconcilerSettlesInterruptedOperations(t *testing.T) {
	e, f := newFakeEnv(t)
	ctx := context.Background()
	set := func(s *shared.Space, state shared.SpaceState) {
		t.Helper()
		cur := e.Records.Space(s.ID)
		cur.State = state
		if err := e.Records.PutSpace(ctx, cur); err != nil {
			t.Fatal(err)
		}
	}
	startedRuns := e.Space(nil, "a")
	e.MustStart(startedRuns)
	set(startedRuns, shared.SpaceStarting)

	startedGone := e.Space(nil, "b")
	e.MustStart(startedGone)
	f.Vanish(startedGone.ID)
	set(startedGone, shared.SpaceStarting)

	stopping := e.Space(nil, "c")
	e.MustStart(stopping)
	set(stopping, shared.SpaceStopping)

	stoppedWithLeftover := e.Space(nil, "d")
	e.MustStart(stoppedWithLeftover)
	set(stoppedWithLeftover, shared.SpaceStopped)

	if err := e.Manager.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		s        *shared.Space
		state    shared.SpaceState
		reason   string
		workload runtime.State
	}{
		{"StartingWithWorkloadRuns", startedRuns, shared.SpaceRunning, "", runtime.StateRunning},
		{"StartingWithoutWorkloadFails", startedGone, shared.SpaceFailed, "the start was interrupted", runtime.StateMissing},
		{"StoppingIsStopped", stopping, shared.SpaceStopped, "", runtime.StateMissing},
		{"StoppedLosesLeftoverWorkload", stoppedWithLeftover, shared.SpaceStopped, "", runtime.StateMissing},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := e.Records.Space(tt.s.ID)
			if got.State != tt.state || got.Reason != tt.reason {
				t.Errorf("state %q reason %q; want %q %q", got.State, got.Reason, tt.state, tt.reason)
			}
			if st := e.Inspect(tt.s); st.State != tt.workload {
				t.Errorf("workload %s; want %s", st.State, tt.workload)
			}
		})
	}
}

// settling is a manager on a fake runtime named name, with a settle time
// of 2s and a clock that moves only by advance, and a container template.
type settling struct {
	recs    *runtimetest.Records
	fake    *runtimetest.Fake
	m       *runtime.Manager
	advance func(time.Duration)
	tmpl    *shared.Template
}

func newSettling(t *testing.T, name string) *settling {
	recs := runtimetest.NewRecords()
	f := runtimetest.NewFake(name, "here", runtimetest.TestImage)
	var mu sync.Mutex
	clock := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	m := newManager(t, runtime.Options{Records: recs, Container: f, SettleTime: 2 * time.Second,
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }})
	return &settling{
		recs: recs, fake: f, m: m,
		advance: func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() },
		tmpl:    recs.PutTemplate(&shared.Template{Name: "t", Kind: shared.TemplateContainer, Spec: "image: " + runtimetest.TestImage + "\n"}),
	}
}

func TestExitedWorkloadIsRecordedAfterSettleTime(t *testing.T) {
	e := newSettling(t, "docker")
	recs, f, m, advance := e.recs, e.fake, e.m, e.advance
	s := recs.AddSpace(recs.AddUser("ann"), e.tmpl, "dev")
	ctx := context.Background()
	if err := m.Start(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	reconcile := func() *shared.Space {
		t.Helper()
		if err := m.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		return recs.Space(s.ID)
	}

	f.Kill(s.ID, 137)
	if got := reconcile(); got.State != shared.SpaceRunning {
		t.Fatalf("state %q right after the exit; want running until it settles", got.State)
	}
	advance(time.Second)
	f.Restart(s.ID)
	if got := reconcile(); got.State != shared.SpaceRunning {
		t.Fatalf("state %q after a quick restart; want running", got.State)
	}
	f.Kill(s.ID, 137)
	reconcile()
	advance(1500 * time.Millisecond)
	if got := reconcile(); got.State != shared.SpaceRunning {
		t.Fatalf("state %q 1.5s after a new exit; the earlier exit must not count", got.State)
	}
	advance(time.Second)
	got := reconcile()
	if got.State != shared.SpaceFailed || got.Reason != "the container exited with code 137 outside knot" {
		t.Fatalf("state %q reason %q after the settle time; want failed with the exit code", got.State, got.Reason)
	}
	if st, _ := f.Inspect(ctx, s.ID); st.State != runtime.StateMissing {
		t.Fatalf("the exited workload is %s; want it removed", st.State)
	}
}

// A workload that its engine restarts at once every time it exits (as
// Podman does) is found exited or just restarted at every look; after a
// few restarts its exits count together, and the space fails. One that
// restarts and then stays up does not.
func TestCrashLoopFailsTheSpace(t *testing.T) {
	e := newSettling(t, "podman")
	recs, f, m, advance, tmpl := e.recs, e.fake, e.m, e.advance, e.tmpl
	user := recs.AddUser("ann")
	ctx := context.Background()
	start := func(name string) *shared.Space {
		s := recs.AddSpace(user, tmpl, name)
		if err := m.Start(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		return s
	}
	reconcile := func(s *shared.Space) *shared.Space {
		t.Helper()
		if err := m.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		return recs.Space(s.ID)
	}

	looping := start("loop")
	for i := range 10 {
		f.Kill(looping.ID, 3)
		got := reconcile(looping)
		if got.State == shared.SpaceFailed {
			if i < 3 {
				t.Fatalf("failed after %d restarts; a restart ends the exit before it until the third", i)
			}
			if got.Reason != "the container exited with code 3 outside knot" {
				t.Fatalf("reason %q; want the exit code", got.Reason)
			}
			break
		}
		if got.State != shared.SpaceRunning {
			t.Fatalf("state %q in the loop; want running until it fails", got.State)
		}
		if i == 9 {
			t.Fatal("a workload that restarts at every look never failed")
		}
		advance(time.Second)
		f.Restart(looping.ID)
		reconcile(looping)
	}

	// Restarted more often than that, but staying up after each restart.
	steady := start("steady")
	for range 6 {
		f.Kill(steady.ID, 3)
		reconcile(steady)
		advance(time.Second)
		f.Restart(steady.ID)
		reconcile(steady)
		advance(time.Second)
		if got := reconcile(steady); got.State != shared.SpaceRunning {
			t.Fatalf("state %q reason %q for a workload that restarted and stayed up; want running", got.State, got.Reason)
		}
	}
}

func TestCancelledCallerDoesNotAbortStart(t *testing.T) {
	e, f := newFakeEnv(t)
	s := e.Space(nil, "dev")
	ctx, cancel := context.WithCancel(context.Background())
	f.OnCall("Start", func(string) error { cancel(); return nil })
	if err := e.Manager.Start(ctx, s.ID); err != nil {
		t.Fatalf("Start = %v; want it to finish although the caller went away", err)
	}
	if got := e.Records.Space(s.ID); got.State != shared.SpaceRunning {
		t.Fatalf("state %q; want running", got.State)
	}
}

func TestOperationsOnOneSpaceAreSerialised(t *testing.T) {
	e, f := newFakeEnv(t)
	s := e.Space(nil, "dev")
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var inFlight, most atomic.Int32
	track := func(string) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		return nil
	}
	f.OnCall("Start", track)
	startDone := make(chan error, 1)
	go func() { startDone <- e.Manager.Start(context.Background(), s.ID) }()
	<-entered

	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.Manager.Stop(short, s.ID); shared.ErrorCode(err) != shared.EUNAVAILABLE || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("Stop while Start runs, with a short deadline = %v; want EUNAVAILABLE busy", err)
	}
	stopDone := make(chan error, 1)
	go func() { stopDone <- e.Manager.Stop(context.Background(), s.ID) }()
	close(release)
	if err := <-startDone; err != nil {
		t.Fatal(err)
	}
	if err := <-stopDone; err != nil {
		t.Fatal(err)
	}
	if got := e.Records.Space(s.ID); got.State != shared.SpaceStopped {
		t.Fatalf("state %q after Start then Stop; want stopped", got.State)
	}
	if most.Load() != 1 {
		t.Fatalf("%d runtime Starts ran at once for one space", most.Load())
	}
}

func TestDifferentSpacesStartConcurrently(t *testing.T) {
	e, f := newFakeEnv(t)
	a, b := e.Space(nil, "a"), e.Space(nil, "b")
	var wg sync.WaitGroup
	wg.Add(2)
	both := make(chan struct{})
	go func() { wg.Wait(); close(both) }()
	f.OnCall("Start", func(string) error {
		wg.Done()
		select {
		case <-both:
			return nil
		case <-time.After(10 * time.Second):
			return shared.Errorf(shared.EINTERNAL, "the other space's start never ran alongside")
		}
	})
	errs := make(chan error, 2)
	for _, s := range []*shared.Space{a, b} {
		go func() { errs <- e.Manager.Start(context.Background(), s.ID) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestProtectedVariables(t *testing.T) {
	key := crypt.GenerateKey()
	sealer, err := crypt.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := crypt.NewSealer(crypt.GenerateKey())
	spec := "image: " + runtimetest.TestImage + "\nnetwork: host\nenvironment:\n  - TOKEN=${{ .var.token }}\n"
	for _, tt := range []struct {
		name       string
		sealer     *crypt.Sealer
		value      string
		wantReason string
	}{
		{"OpenedWithTheKey", sealer, sealer.Seal("s3cret"), ""},
		{"NoKeyFailsNamingIt", nil, sealer.Seal("s3cret"), "variable token is protected and this server has no encryption key (server.encrypt)"},
		{"WrongKeyFailsNamingIt", sealer, other.Seal("s3cret"), "variable token does not open with this server's encryption key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			recs := runtimetest.NewRecords()
			f := runtimetest.NewFake("docker", "here", runtimetest.TestImage)
			m := newManager(t, runtime.Options{Records: recs, Container: f, Sealer: tt.sealer})
			recs.AddVar(&shared.TemplateVar{Name: "token", Value: tt.value, Protected: true})
			recs.AddVar(&shared.TemplateVar{Name: "unused", Value: "sealed:v1:garbage", Protected: true})
			tmpl := recs.PutTemplate(&shared.Template{Name: "t", Kind: shared.TemplateContainer, Spec: spec})
			s := recs.AddSpace(recs.AddUser("ann"), tmpl, "dev")
			err := m.Start(context.Background(), s.ID)
			got := recs.Space(s.ID)
			if tt.wantReason != "" {
				if shared.ErrorCode(err) != shared.EINVALID || got.Reason != tt.wantReason {
					t.Fatalf("Start = %v, reason %q; want EINVALID %q", err, got.Reason, tt.wantReason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out, _, err := f.Exec(context.Background(), s.ID, runtimetest.Command("env", "TOKEN"))
			if err != nil || out != "s3cret\n" {
				t.Fatalf("TOKEN = %q, %v; want the opened value", out, err)
			}
		})
	}
}

// TestProtectedVariableByIndexFailsNamingIt checks that a protected
// variable that did not open is named as such however the template refers
// to it, index .var "NAME" too.
func TestProtectedVariableByIndexFailsNamingIt(t *testing.T) {
	recs := runtimetest.NewRecords()
	f := runtimetest.NewFake("docker", "here", runtimetest.TestImage)
	m := newManager(t, runtime.Options{Records: recs, Container: f})
	recs.AddVar(&shared.TemplateVar{Name: "api-token", Value: "sealed:v1:garbage", Protected: true})
	spec := "image: " + runtimetest.TestImage + "\nnetwork: host\nenvironment:\n  - TOKEN=${{ index .var \"api-token\" }}\n"
	tmpl := recs.PutTemplate(&shared.Template{Name: "t", Kind: shared.TemplateContainer, Spec: spec})
	s := recs.AddSpace(recs.AddUser("ann"), tmpl, "dev")
	err := m.Start(context.Background(), s.ID)
	want := "variable api-token is protected and this server has no encryption key (server.encrypt)"
	if got := recs.Space(s.ID); shared.ErrorCode(err) != shared.EINVALID || got.Reason != want {
		t.Fatalf("Start = %v, reason %q; want EINVALID %q", err, got.Reason, want)
	}
}

func TestFilterVarsPrecedence(t *testing.T) {
	vars, failed := runtime.FilterVars([]*shared.TemplateVar{
		{Name: "a", Value: "global"},
		{Name: "a", Value: "here", Location: "London"},
		{Name: "b", Value: "local", Location: "london", Local: true},
		{Name: "b", Value: "here", Location: "london"},
		{Name: "b", Value: "global"},
		{Name: "c", Value: "tokyo", Location: "tokyo"},
		{Name: "d", Value: "global"},
		{Name: "e", Value: "sealed:v1:x", Protected: true},
	}, "london", nil)
	want := map[string]string{"a": "here", "b": "local", "d": "global"}
	if len(vars) != len(want) {
		t.Fatalf("vars %v; want %v", vars, want)
	}
	for k, v := range want {
		if vars[k] != v {
			t.Errorf("%s = %q; want %q", k, vars[k], v)
		}
	}
	if failed["e"] == nil || len(failed) != 1 {
		t.Fatalf("failed %v; want only e", failed)
	}
}

func TestAgentTokenFromOption(t *testing.T) {
	recs := runtimetest.NewRecords()
	f := runtimetest.NewFake("docker", "here", runtimetest.TestImage)
	m := newManager(t, runtime.Options{Records: recs, Container: f, AgentToken: func(_ context.Context, s *shared.Space) (string, error) {
		return "token-for-" + s.Name, nil
	}})
	tmpl := recs.PutTemplate(&shared.Template{Name: "t", Kind: shared.TemplateContainer, Spec: "image: " + runtimetest.TestImage + "\n"})
	s := recs.AddSpace(recs.AddUser("ann"), tmpl, "dev")
	if err := m.Start(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	out, _, _ := f.Exec(context.Background(), s.ID, runtimetest.Command("env", runtime.EnvAgentToken))
	if out != "token-for-dev\n" || recs.Space(s.ID).AgentTokenHash != crypt.HashToken("token-for-dev") {
		t.Fatalf("token %q, hash %q; want the given token and its hash", out, recs.Space(s.ID).AgentTokenHash)
	}
}

// racingRecords lets another writer change the space just before the
// manager's first write.
type racingRecords struct {
	*runtimetest.Records
	once sync.Once
}

func (r *racingRecords) PutSpace(ctx context.Context, s *shared.Space) error {
	r.once.Do(func() {
		other, _ := r.Records.GetSpace(ctx, s.ID)
		other.Description = "edited meanwhile"
		if err := r.Records.PutSpace(ctx, other); err != nil {
			panic(err)
		}
	})
	return r.Records.PutSpace(ctx, s)
}

func TestConcurrentRecordWriteIsKept(t *testing.T) {
	recs := &racingRecords{Records: runtimetest.NewRecords()}
	f := runtimetest.NewFake("docker", "here", runtimetest.TestImage)
	m := newManager(t, runtime.Options{Records: recs, Container: f})
	tmpl := recs.PutTemplate(&shared.Template{Name: "t", Kind: shared.TemplateContainer, Spec: "image: " + runtimetest.TestImage + "\n"})
	s := recs.AddSpace(recs.AddUser("ann"), tmpl, "dev")
	if err := m.Start(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	got := recs.Space(s.ID)
	if got.State != shared.SpaceRunning || got.Description != "edited meanwhile" {
		t.Fatalf("state %q description %q; want running and the other writer's change kept", got.State, got.Description)
	}
}

func TestSpaceLogIsBoundedAndOrdered(t *testing.T) {
	recs := runtimetest.NewRecords()
	f := runtimetest.NewFake("docker", "here", runtimetest.TestImage)
	m := newManager(t, runtime.Options{Records: recs, Container: f, LogLines: 5})
	tmpl := recs.PutTemplate(&shared.Template{Name: "t", Kind: shared.TemplateContainer, Spec: "image: " + runtimetest.TestImage + "\nvolumes: [home:/home]\n"})
	s := recs.AddSpace(recs.AddUser("ann"), tmpl, "dev")
	ctx := context.Background()
	for range 3 {
		if err := m.Start(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		if err := m.Stop(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
	}
	logs := m.Logs(s.ID)
	if len(logs) != 5 {
		t.Fatalf("%d log lines; want the last 5: %v", len(logs), logs)
	}
	if last := logs[len(logs)-1].Text; last != "stopping → stopped" {
		t.Fatalf("last line %q; want the final state change", last)
	}
	for i := 1; i < len(logs); i++ {
		if logs[i].At.Before(logs[i-1].At) {
			t.Fatalf("log out of order: %v", logs)
		}
	}
	if err := m.Delete(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if logs := m.Logs(s.ID); len(logs) != 0 {
		t.Fatalf("the log of a deleted space holds %d lines", len(logs))
	}
}

// receive returns the next line of a followed log, failing after a while.
func receive(t *testing.T, ch <-chan runtime.LogEntry) (runtime.LogEntry, bool) {
	t.Helper()
	select {
	case l, ok := <-ch:
		return l, ok
	case <-time.After(10 * time.Second):
		t.Fatal("no log line within 10s")
		return runtime.LogEntry{}, false
	}
}

func TestFollowGetsTheLogThenNewLinesInOrderUntilDelete(t *testing.T) {
	_, m, s := newManualSpace(t, 0)
	ctx := context.Background()
	if err := m.Start(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	lines, ch, cancel := m.Follow(s.ID)
	defer cancel()
	if len(lines) != 1 || lines[0].Text != "pending → running" || lines[0].Level != "info" {
		t.Fatalf("lines so far %+v; want the start", lines)
	}
	if err := m.Stop(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"running → stopped", "stopped → running"} {
		if l, ok := receive(t, ch); !ok || l.Text != want {
			t.Fatalf("followed %q (open %v); want %q", l.Text, ok, want)
		}
	}
	if err := m.Delete(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	for {
		l, ok := receive(t, ch)
		if !ok {
			break // the log of a deleted space ends
		}
		if !strings.Contains(l.Text, "deleting") {
			t.Fatalf("followed %q after delete; want only the delete", l.Text)
		}
	}
	cancel() // after the end, cancel does nothing
}

func TestFollowCancelClosesOnlyThatFollower(t *testing.T) {
	_, m, s := newManualSpace(t, 0)
	_, gone, cancelGone := m.Follow(s.ID)
	_, kept, cancelKept := m.Follow(s.ID)
	defer cancelKept()
	cancelGone()
	cancelGone()
	if _, ok := receive(t, gone); ok {
		t.Fatal("a cancelled follower got a line")
	}
	if err := m.Start(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	if l, ok := receive(t, kept); !ok || l.Text != "pending → running" {
		t.Fatalf("followed %q (open %v); want the start", l.Text, ok)
	}
}

func TestSlowFollowerLosesLinesWithAMarkerAndNeverBlocks(t *testing.T) {
	_, m, s := newManualSpace(t, 1000)
	_, ch, cancel := m.Follow(s.ID)
	defer cancel()
	ctx := context.Background()
	// Nobody reads while 300 state changes are logged; the manager must
	// not wait for the follower.
	done := make(chan error, 1)
	go func() {
		for range 150 {
			if err := m.Start(ctx, s.ID); err != nil {
				done <- err
				return
			}
			if err := m.Stop(ctx, s.ID); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the manager blocked on a follower that does not read")
	}
	var got []runtime.LogEntry
	for len(ch) > 0 {
		got = append(got, <-ch)
	}
	if err := m.Start(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	marker, _ := receive(t, ch)
	next, _ := receive(t, ch)
	if len(got) != 256 || got[0].Text != "pending → running" || got[255].Text != "running → stopped" {
		t.Fatalf("%d lines buffered; want the first 256", len(got))
	}
	if marker.Text != "44 log lines were dropped here: the reader fell behind" || marker.Level != "error" {
		t.Fatalf("after catching up: %+v; want the count of lost lines", marker)
	}
	if next.Text != "stopped → running" {
		t.Fatalf("after the marker: %q; want the newest line", next.Text)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	e, _ := newFakeEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Manager.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v; want nil after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestUnreachableEngineReasonClearsWhenBack(t *testing.T) {
	e, f := newFakeEnv(t)
	s := e.Space(nil, "dev")
	e.MustStart(s)
	ctx := context.Background()
	f.SetDown(true)
	if err := e.Manager.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Records.Space(s.ID); got.State != shared.SpaceRunning || !strings.HasPrefix(got.Reason, "cannot reach docker: ") {
		t.Fatalf("state %q reason %q while unreachable; want running with the reason", got.State, got.Reason)
	}
	f.SetDown(false)
	if err := e.Manager.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Records.Space(s.ID); got.State != shared.SpaceRunning || got.Reason != "" {
		t.Fatalf("state %q reason %q once reachable; want running without reason", got.State, got.Reason)
	}
}
