package runtimetest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
)

// Harness is what the lifecycle suite needs from an engine.
type Harness struct {
	// NewRuntime returns a runtime for location on the engine under test.
	// Runtimes of different locations share the engine.
	NewRuntime func(t *testing.T, location string) runtime.Runtime
	// NewFlakyRuntime returns a runtime for location whose connection to
	// the engine setUp(false) cuts and setUp(true) restores.
	NewFlakyRuntime func(t *testing.T, location string) (rt runtime.Runtime, setUp func(up bool))
	// Image is TestImage or one like it: busybox, ServeCommand as its
	// command; MissingImage one the engine neither has nor can pull.
	Image        string
	MissingImage string
	// Outside knot, straight on the engine: remove the space's workload,
	// stop it (its program exits 0 on SIGTERM), restart it.
	RemoveOutside  func(t *testing.T, spaceID string)
	StopOutside    func(t *testing.T, spaceID string)
	RestartOutside func(t *testing.T, spaceID string)
	// Volumes returns the engine's volumes labelled with the space id.
	Volumes func(t *testing.T, spaceID string) []string
}

// Spec is the container spec the suite's template uses: the image comes
// from the variable "image", and a volume "home" is mounted at /home.
const Spec = `image: ${{ .var.image }}
network: host
volumes:
  - home:/home
environment:
  - KNOT_USER=${{ .user.username }}
  - SPACE_NAME=${{ .space.name }}
  - GREETING=${{ .var.greeting }}
  - KNOT_SPACE_ID=not-the-space-id
`

// Env is a test's world: records, a runtime, a manager with a running
// reconciler, at a location of its own on the shared engine.
type Env struct {
	T        testing.TB
	Records  *Records
	Runtime  runtime.Runtime
	Manager  *runtime.Manager
	Location string
	Template *shared.Template
	User     *shared.User
}

// NewEnv makes an Env for rt at location with the suite's template; the
// reconciler runs every 50ms when reconcile is set. Cleanup deletes every
// space through the manager.
func NewEnv(t testing.TB, rt runtime.Runtime, location, img string, reconcile bool) *Env {
	t.Helper()
	recs := NewRecords()
	m, err := runtime.NewManager(runtime.Options{
		Records:           recs,
		Container:         rt,
		Server:            runtime.ServerInfo{URL: "https://knot.test/", AgentEndpoint: "127.0.0.1:3010", Location: location, Timezone: "UTC"},
		ReconcileInterval: 50 * time.Millisecond,
		CallTimeout:       30 * time.Second,
		StartTimeout:      60 * time.Second,
		StopGrace:         5 * time.Second,
		Logger:            slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{T: t, Records: recs, Runtime: rt, Manager: m, Location: location}
	recs.AddVar(&shared.TemplateVar{Name: "image", Value: img})
	recs.AddVar(&shared.TemplateVar{Name: "greeting", Value: "hello"})
	e.Template = recs.PutTemplate(&shared.Template{Name: "dev", Kind: shared.TemplateContainer, Spec: Spec})
	e.User = recs.AddUser("ann")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		spaces, _ := recs.ListSpaces(ctx)
		for _, s := range spaces {
			if s.Location != "" && s.Location != location {
				continue
			}
			if err := m.Delete(ctx, s.ID); err != nil {
				t.Errorf("cleanup: deleting space %s: %v", s.Name, err)
			}
		}
	})
	if reconcile {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run returned %v", err)
			}
		})
	}
	return e
}

// Space adds a pending space for user (the Env's user if nil) on the Env's
// template.
func (e *Env) Space(user *shared.User, name string) *shared.Space {
	if user == nil {
		user = e.User
	}
	return e.Records.AddSpace(user, e.Template, name)
}

// MustStart starts the space and checks that it runs.
func (e *Env) MustStart(s *shared.Space) *shared.Space {
	e.T.Helper()
	if err := e.Manager.Start(context.Background(), s.ID); err != nil {
		e.T.Fatalf("Start %s: %v (logs: %v)", s.Name, err, e.Manager.Logs(s.ID))
	}
	got := e.Records.Space(s.ID)
	if got.State != shared.SpaceRunning || got.ContainerID == "" || got.StartedAt == nil {
		e.T.Fatalf("after Start: state %q, container %q, started %v; want running with both", got.State, got.ContainerID, got.StartedAt)
	}
	return got
}

// MustStop stops the space and checks that it stopped.
func (e *Env) MustStop(s *shared.Space) *shared.Space {
	e.T.Helper()
	if err := e.Manager.Stop(context.Background(), s.ID); err != nil {
		e.T.Fatalf("Stop %s: %v", s.Name, err)
	}
	got := e.Records.Space(s.ID)
	if got.State != shared.SpaceStopped || got.ContainerID != "" {
		e.T.Fatalf("after Stop: state %q, container %q; want stopped without container", got.State, got.ContainerID)
	}
	return got
}

// Exec runs Command(verb, args...) in the space's workload and returns its
// output, without the newline "env" adds, and its exit code.
func (e *Env) Exec(s *shared.Space, verb string, args ...string) (string, int) {
	e.T.Helper()
	x, ok := e.Runtime.(runtime.Execer)
	if !ok {
		e.T.Fatalf("%T does not implement runtime.Execer", e.Runtime)
	}
	cmd := Command(verb, args...)
	if cmd == nil {
		e.T.Fatalf("Exec: unknown command %q", verb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, code, err := x.Exec(ctx, s.ID, cmd)
	if err != nil {
		e.T.Fatalf("exec %v: %v", cmd, err)
	}
	if verb == "env" {
		out = strings.TrimSuffix(out, "\n")
	}
	return out, code
}

// Command returns the command line, for the busybox of TestImage, of one of
// the commands the suite runs in workloads (the Fake understands them too),
// or nil for another verb:
//
//	write FILE TEXT   write TEXT to FILE, creating its directory
//	read FILE         print FILE
//	env NAME          print the value of NAME and a newline; exit 1 if unset
func Command(verb string, args ...string) []string {
	switch verb {
	case "write":
		return append([]string{"sh", "-c", writeScript, "sh"}, args...)
	case "read":
		return append([]string{"cat"}, args...)
	case "env":
		return append([]string{"sh", "-c", envScript, "sh"}, args...)
	}
	return nil
}

// The scripts of Command: write its second argument to the file its first
// names; print the variable its argument names (busybox has no printenv).
const (
	writeScript = `mkdir -p "$(dirname "$1")" && printf %s "$2" > "$1"`
	envScript   = `v=$(env | grep "^$1=") && printf '%s\n' "${v#*=}"`
)

// Inspect returns the runtime's view of the space.
func (e *Env) Inspect(s *shared.Space) *runtime.Status {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := e.Runtime.Inspect(ctx, s.ID)
	if err != nil {
		e.T.Fatalf("Inspect: %v", err)
	}
	return st
}

// WaitFor polls cond until it holds or timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// newLocation returns a location no other test uses, so that reconcilers
// of different tests never see each other's workloads.
func newLocation() string { return "loc-" + uuid.NewString()[:8] }

// RunLifecycle runs the space lifecycle suite against the engine of h: a
// Manager with a runtime of h's engine, checked against the engine itself.
func RunLifecycle(t *testing.T, h Harness) {
	env := func(t *testing.T, reconcile bool) *Env {
		loc := newLocation()
		return NewEnv(t, h.NewRuntime(t, loc), loc, h.Image, reconcile)
	}

	t.Run("StopStartKeepsVolumeDataAndDeleteRemovesAll", func(t *testing.T) {
		e := env(t, false)
		s := e.Space(nil, "dev")
		run := e.MustStart(s)
		if run.TemplateHash != e.Template.Hash || run.Location != e.Location || run.AgentTokenHash == "" {
			t.Fatalf("running record: hash %q location %q token hash %q; want %q, %q and a token hash", run.TemplateHash, run.Location, run.AgentTokenHash, e.Template.Hash, e.Location)
		}
		if st := e.Inspect(s); st.State != runtime.StateRunning || st.ID != run.ContainerID || st.Hash != e.Template.Hash {
			t.Fatalf("runtime reports %+v; want running %s with hash %s", st, run.ContainerID, e.Template.Hash)
		}
		if out, code := e.Exec(s, "write", "/home/ann/notes.txt", "kept across restarts"); code != 0 {
			t.Fatalf("write exited %d: %s", code, out)
		}
		e.MustStop(s)
		if st := e.Inspect(s); st.State != runtime.StateMissing {
			t.Fatalf("after Stop the runtime reports %s; want no workload", st.State)
		}
		if vols := h.Volumes(t, s.ID); len(vols) != 1 {
			t.Fatalf("after Stop the space has volumes %v; want its one volume kept", vols)
		}
		e.MustStart(s)
		if out, code := e.Exec(s, "read", "/home/ann/notes.txt"); code != 0 || out != "kept across restarts" {
			t.Fatalf("after Stop and Start the volume holds %q (exit %d); want the data written before", out, code)
		}
		if err := e.Manager.Delete(context.Background(), s.ID); err != nil {
			t.Fatal(err)
		}
		if e.Records.Space(s.ID) != nil {
			t.Fatal("the record is still there after Delete")
		}
		if st := e.Inspect(s); st.State != runtime.StateMissing {
			t.Fatalf("after Delete the runtime reports %s; want no workload", st.State)
		}
		if vols := h.Volumes(t, s.ID); len(vols) != 0 {
			t.Fatalf("after Delete volumes %v remain", vols)
		}
		if err := e.Manager.Delete(context.Background(), s.ID); err != nil {
			t.Fatalf("deleting again: %v; want nothing to do", err)
		}
	})

	t.Run("StartStopAreIdempotent", func(t *testing.T) {
		e := env(t, false)
		s := e.Space(nil, "dev")
		if err := e.Manager.Stop(context.Background(), s.ID); err != nil {
			t.Fatalf("stopping a space never started: %v", err)
		}
		first := e.MustStart(s)
		second := e.MustStart(s)
		if first.ContainerID != second.ContainerID {
			t.Fatalf("starting a running space replaced its container %s with %s", first.ContainerID, second.ContainerID)
		}
		e.MustStop(s)
		e.MustStop(s)
	})

	t.Run("ConcurrentStartsMakeOneWorkload", func(t *testing.T) {
		e := env(t, false)
		s := e.Space(nil, "dev")
		var wg sync.WaitGroup
		errs := make(chan error, 5)
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- e.Manager.Start(context.Background(), s.ID)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("a concurrent Start failed: %v", err)
			}
		}
		got := e.Records.Space(s.ID)
		if st := e.Inspect(s); got.State != shared.SpaceRunning || st.ID != got.ContainerID {
			t.Fatalf("record %s/%s, runtime %s/%s; want one running workload that the record names", got.State, got.ContainerID, st.State, st.ID)
		}
	})

	t.Run("AgentEnvironmentOverridesSpec", func(t *testing.T) {
		e := env(t, false)
		s := e.Space(nil, "dev")
		run := e.MustStart(s)
		for name, want := range map[string]string{
			runtime.EnvSpaceID:       s.ID,
			runtime.EnvAgentEndpoint: "127.0.0.1:3010",
			"KNOT_USER":              "ann",
			"SPACE_NAME":             "dev",
			"GREETING":               "hello",
		} {
			if got, code := e.Exec(s, "env", name); code != 0 || got != want {
				t.Errorf("%s = %q (exit %d); want %q", name, got, code, want)
			}
		}
		token, code := e.Exec(s, "env", runtime.EnvAgentToken)
		if code != 0 || len(token) < 32 || crypt.HashToken(token) != run.AgentTokenHash {
			t.Errorf("%s = %q; want a token whose hash is the record's AgentTokenHash", runtime.EnvAgentToken, token)
		}
		if token == s.ID {
			t.Error("the agent token is the space id")
		}
	})

	t.Run("RemovedOutsideKnotFailsSpace", func(t *testing.T) {
		e := env(t, true)
		s := e.Space(nil, "dev")
		e.MustStart(s)
		h.RemoveOutside(t, s.ID)
		WaitFor(t, 20*time.Second, "the space to fail", func() bool {
			return e.Records.Space(s.ID).State == shared.SpaceFailed
		})
		got := e.Records.Space(s.ID)
		if !strings.Contains(got.Reason, "removed outside knot") || got.ContainerID != "" {
			t.Fatalf("reason %q, container %q; want the removal named and no container", got.Reason, got.ContainerID)
		}
		e.MustStart(s)
	})

	t.Run("StoppedOutsideKnotStopsSpace", func(t *testing.T) {
		e := env(t, true)
		s := e.Space(nil, "dev")
		e.MustStart(s)
		h.StopOutside(t, s.ID)
		WaitFor(t, 20*time.Second, "the space to stop", func() bool {
			return e.Records.Space(s.ID).State == shared.SpaceStopped
		})
		got := e.Records.Space(s.ID)
		if !strings.Contains(got.Reason, "exited with code 0") || !strings.Contains(got.Reason, "outside knot") {
			t.Fatalf("reason %q; want the exit code and that it happened outside knot", got.Reason)
		}
		WaitFor(t, 20*time.Second, "the exited workload to be removed", func() bool {
			return e.Inspect(s).State == runtime.StateMissing
		})
	})

	t.Run("RestartedOutsideKnotKeepsRunningWithNewStartTime", func(t *testing.T) {
		e := env(t, true)
		s := e.Space(nil, "dev")
		before := e.MustStart(s)
		h.RestartOutside(t, s.ID)
		WaitFor(t, 20*time.Second, "the new start time", func() bool {
			got := e.Records.Space(s.ID)
			return got.StartedAt != nil && got.StartedAt.After(*before.StartedAt)
		})
		if got := e.Records.Space(s.ID); got.State != shared.SpaceRunning {
			t.Fatalf("state %q after a restart outside knot; want running", got.State)
		}
		found := false
		for _, l := range e.Manager.Logs(s.ID) {
			found = found || strings.Contains(l.Text, "restarted outside knot")
		}
		if !found {
			t.Fatalf("the space log does not mention the restart: %v", e.Manager.Logs(s.ID))
		}
	})

	t.Run("SameSpaceNameForTwoUsersDoesNotCollide", func(t *testing.T) {
		e := env(t, false)
		bob := e.Records.AddUser("bob")
		a, b := e.Space(nil, "dev"), e.Space(bob, "dev")
		ra, rb := e.MustStart(a), e.MustStart(b)
		if ra.ContainerID == rb.ContainerID {
			t.Fatal("two spaces share a container")
		}
		e.Exec(a, "write", "/home/owner", "ann")
		e.Exec(b, "write", "/home/owner", "bob")
		if out, _ := e.Exec(a, "read", "/home/owner"); out != "ann" {
			t.Fatalf("ann's volume holds %q; want ann", out)
		}
		if out, _ := e.Exec(b, "read", "/home/owner"); out != "bob" {
			t.Fatalf("bob's volume holds %q; want bob", out)
		}
		va, vb := h.Volumes(t, a.ID), h.Volumes(t, b.ID)
		if len(va) != 1 || len(vb) != 1 || va[0] == vb[0] {
			t.Fatalf("volumes %v and %v; want one each, different", va, vb)
		}
	})

	t.Run("TwoLocationsOnOneEngineKeepTheirOwn", func(t *testing.T) {
		e1, e2 := env(t, false), env(t, false)
		s1, s2 := e1.Space(nil, "dev"), e2.Space(nil, "dev")
		e1.MustStart(s1)
		e2.MustStart(s2)
		for range 2 {
			if err := e1.Manager.Reconcile(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := e2.Manager.Reconcile(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if st := e1.Inspect(s2); st.State != runtime.StateRunning {
			t.Fatalf("the other location's workload is %s after reconciling; want it left running", st.State)
		}
		if st := e2.Inspect(s1); st.State != runtime.StateRunning {
			t.Fatalf("the other location's workload is %s after reconciling; want it left running", st.State)
		}
		list, err := e1.Runtime.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].SpaceID != s1.ID {
			t.Fatalf("List at %s returned %v; want only its own space", e1.Location, list)
		}
	})

	t.Run("WorkloadOfDeletedRecordIsRemovedVolumesKept", func(t *testing.T) {
		e := env(t, false)
		s := e.Space(nil, "dev")
		e.MustStart(s)
		if err := e.Records.DeleteSpace(context.Background(), s.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.Manager.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
		if st := e.Inspect(s); st.State != runtime.StateMissing {
			t.Fatalf("the workload of a space without record is %s; want it removed", st.State)
		}
		if vols := h.Volumes(t, s.ID); len(vols) != 1 {
			t.Fatalf("volumes %v; want the data kept", vols)
		}
		ctx := context.Background()
		if err := e.Runtime.RemoveVolumes(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("MissingImageFailsFastWithReason", func(t *testing.T) {
		e := env(t, false)
		tmpl := e.Records.PutTemplate(&shared.Template{Name: "missing", Kind: shared.TemplateContainer,
			Spec: "image: " + h.MissingImage + "\nnetwork: host\n"})
		s := e.Records.AddSpace(e.User, tmpl, "dev")
		start := time.Now()
		err := e.Manager.Start(context.Background(), s.ID)
		took := time.Since(start)
		// Nothing answers at the image's registry: the reason says so,
		// with its address, and not that the image does not exist.
		if shared.ErrorCode(err) != shared.EUNAVAILABLE {
			t.Fatalf("Start = %v (%s); want EUNAVAILABLE", err, shared.ErrorCode(err))
		}
		if took > 30*time.Second {
			t.Fatalf("failing took %v; want it fast", took)
		}
		got := e.Records.Space(s.ID)
		want := fmt.Sprintf("cannot reach the registry of image %q at %s: ", h.MissingImage, strings.Split(h.MissingImage, "/")[0])
		if got.State != shared.SpaceFailed || !strings.HasPrefix(got.Reason, want) || strings.Contains(got.Reason, "not found") ||
			!strings.Contains(got.Reason, "connection refused") {
			t.Fatalf("state %q reason %q; want failed with %q, then the engine's detail", got.State, got.Reason, want)
		}
		var pulled, failed bool
		for _, l := range e.Manager.Logs(s.ID) {
			pulled = pulled || strings.Contains(l.Text, "pulling image "+h.MissingImage)
			failed = failed || l.Level == "error" && strings.Contains(l.Text, want)
		}
		if !pulled || !failed {
			t.Fatalf("the space log lacks the pull or its failure: %v", e.Manager.Logs(s.ID))
		}
	})

	t.Run("BadSpecFailsNamingTheLine", func(t *testing.T) {
		e := env(t, false)
		for _, tt := range []struct{ name, spec, want string }{
			{"UnknownKey", "image: " + h.Image + "\nnetwork: host\nportz: [\"80:80\"]\n", `line 3: unknown key "portz"`},
			{"BadPort", "image: " + h.Image + "\nnetwork: host\nports:\n  - \"80:80:80:80\"\n", "line 4: ports:"},
			{"UndefinedVariable", "image: " + h.Image + "\nnetwork: host\nhostname: ${{ .var.nope }}\n", `line 3: .var.nope is not defined`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				tmpl := e.Records.PutTemplate(&shared.Template{Name: "bad", Kind: shared.TemplateContainer, Spec: tt.spec})
				s := e.Records.AddSpace(e.User, tmpl, "bad")
				err := e.Manager.Start(context.Background(), s.ID)
				if shared.ErrorCode(err) != shared.EINVALID {
					t.Fatalf("Start = %v; want EINVALID", err)
				}
				got := e.Records.Space(s.ID)
				if got.State != shared.SpaceFailed || !strings.Contains(got.Reason, tt.want) {
					t.Fatalf("state %q reason %q; want failed naming %q", got.State, got.Reason, tt.want)
				}
				if st := e.Inspect(s); st.State != runtime.StateMissing {
					t.Fatalf("a refused spec left a workload (%s)", st.State)
				}
			})
		}
	})

	t.Run("CommandExitingAtOnceFailsSpace", func(t *testing.T) {
		e := env(t, true)
		tmpl := e.Records.PutTemplate(&shared.Template{Name: "exits", Kind: shared.TemplateContainer,
			Spec: "image: " + h.Image + "\nnetwork: host\ncommand: [sh, -c, \"exit 3\"]\n"})
		s := e.Records.AddSpace(e.User, tmpl, "dev")
		// The engine may report the exit at once, or the reconciler finds
		// the workload exited (or restarting) soon after.
		if err := e.Manager.Start(context.Background(), s.ID); err != nil && !strings.Contains(err.Error(), "exited with code 3") {
			t.Fatalf("Start = %v; want success or the exit code", err)
		}
		WaitFor(t, 60*time.Second, "the space to fail", func() bool {
			return e.Records.Space(s.ID).State == shared.SpaceFailed
		})
		if got := e.Records.Space(s.ID); !strings.Contains(got.Reason, "exited with code 3") {
			t.Fatalf("reason %q; want the exit code", got.Reason)
		}
		WaitFor(t, 20*time.Second, "the failed workload to be removed", func() bool {
			return e.Inspect(s).State == runtime.StateMissing
		})
	})

	t.Run("EngineDownFailsStartAndRecovers", func(t *testing.T) {
		loc := newLocation()
		rt, setUp := h.NewFlakyRuntime(t, loc)
		e := NewEnv(t, rt, loc, h.Image, false)
		s := e.Space(nil, "dev")
		setUp(false)
		err := e.Manager.Start(context.Background(), s.ID)
		if shared.ErrorCode(err) != shared.EUNAVAILABLE {
			t.Fatalf("Start with the engine down = %v; want EUNAVAILABLE", err)
		}
		got := e.Records.Space(s.ID)
		if got.State != shared.SpaceFailed || !strings.Contains(got.Reason, "cannot reach "+rt.Name()) {
			t.Fatalf("state %q reason %q; want failed saying the engine cannot be reached", got.State, got.Reason)
		}
		setUp(true)
		e.MustStart(s)
		e.MustStop(s)
	})

	t.Run("EngineDownKeepsRunningSpaceWithReason", func(t *testing.T) {
		loc := newLocation()
		rt, setUp := h.NewFlakyRuntime(t, loc)
		e := NewEnv(t, rt, loc, h.Image, false)
		s := e.Space(nil, "dev")
		e.MustStart(s)
		setUp(false)
		if err := e.Manager.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := e.Records.Space(s.ID)
		if got.State != shared.SpaceRunning || !strings.Contains(got.Reason, "cannot reach") {
			t.Fatalf("state %q reason %q while the engine is unreachable; want running with the reason", got.State, got.Reason)
		}
		if err := e.Manager.Stop(context.Background(), s.ID); shared.ErrorCode(err) != shared.EUNAVAILABLE {
			t.Fatalf("Stop with the engine down = %v; want EUNAVAILABLE", err)
		}
		setUp(true)
		if err := e.Manager.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
		// The stop failed, so the space is failed; the reconciler removed
		// its workload, and a Stop now clears the failure.
		if st := e.Inspect(s); st.State != runtime.StateMissing {
			t.Fatalf("the workload of a failed space is %s after reconciling; want it removed", st.State)
		}
		e.MustStop(s)
		if got := e.Records.Space(s.ID); got.Reason != "" {
			t.Fatalf("reason %q after Stop; want none", got.Reason)
		}
	})

	t.Run("TemplateEditAppliesOnNextStart", func(t *testing.T) {
		e := env(t, false)
		s := e.Space(nil, "dev")
		e.MustStart(s)
		e.Exec(s, "write", "/home/kept", "yes")
		old := e.Template.Hash
		e.Template.Spec = strings.Replace(Spec, "GREETING=${{ .var.greeting }}", "GREETING=changed", 1)
		e.Records.PutTemplate(e.Template)
		if got := e.Records.Space(s.ID); got.TemplateHash != old {
			t.Fatalf("the running space's hash changed to %q with the template; want %q until restarted", got.TemplateHash, old)
		}
		if out, _ := e.Exec(s, "env", "GREETING"); out != "hello" {
			t.Fatalf("GREETING = %q before the restart; want the old spec's", out)
		}
		e.MustStop(s)
		got := e.MustStart(s)
		if got.TemplateHash != e.Template.Hash || got.TemplateHash == old {
			t.Fatalf("hash %q after the restart; want the new %q", got.TemplateHash, e.Template.Hash)
		}
		if out, _ := e.Exec(s, "env", "GREETING"); out != "changed" {
			t.Fatalf("GREETING = %q after the restart; want the new spec's", out)
		}
		if out, _ := e.Exec(s, "read", "/home/kept"); out != "yes" {
			t.Fatalf("the volume holds %q after the template edit; want its data kept", out)
		}
	})
}
