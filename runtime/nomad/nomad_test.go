package nomad_test

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/runtime/nomad"
	"github.com/knot-dev/knot/shared"
)

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustStart(t *testing.T, d *nomad.Driver, w *runtime.Workload) *runtime.Status {
	t.Helper()
	st, err := d.Start(ctxTimeout(t, 20*time.Second), w)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return st
}

func mustInspect(t *testing.T, d *nomad.Driver, spaceID string) *runtime.Status {
	t.Helper()
	st, err := d.Inspect(ctxTimeout(t, 10*time.Second), spaceID)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	return st
}

func TestStartRegistersTheJobAndReturnsOnceItsAllocationRuns(t *testing.T) {
	f := newFakeNomad(t, testToken)
	d := newDriver(t, f, "loc-a")
	w, logs := workload(setupSpec(f, "alice-dev", "", "ide", "sidecar"))

	st := mustStart(t, d, w)

	if st.State != runtime.StateRunning || st.ID != "alice-dev" || st.Hash != "hash-1" || st.SpaceID != w.SpaceID || st.StartedAt.IsZero() {
		t.Errorf("Start = %+v, want running job alice-dev with hash and start time", st)
	}
	reg := f.Registered()
	if len(reg) != 1 {
		t.Fatalf("registered %d jobs, want 1", len(reg))
	}
	job := reg[0]
	if *job.Namespace != "default" {
		t.Errorf("job namespace = %s, want default", *job.Namespace)
	}
	for k, want := range map[string]string{"knot_space_id": w.SpaceID, "knot_hash": "hash-1", "knot_location": "loc-a", "knot_space": "dev", "knot_user": "alice"} {
		if job.Meta[k] != want {
			t.Errorf("job meta %s = %q, want %q", k, job.Meta[k], want)
		}
	}
	for _, task := range job.TaskGroups[0].Tasks {
		for k, want := range map[string]string{"GREETING": "hello", runtime.EnvSpaceID: w.SpaceID, runtime.EnvAgentToken: "agent-token-1", runtime.EnvAgentEndpoint: "127.0.0.1:3010"} {
			if task.Env[k] != want {
				t.Errorf("task %s env %s = %q, want %q", task.Name, k, task.Env[k], want)
			}
		}
	}
	// It waited with blocking queries rather than polling.
	blocking := 0
	for _, r := range f.Requests() {
		if strings.HasPrefix(r, "GET /v1/job/alice-dev/allocations") && strings.Contains(r, "index=") && strings.Contains(r, "wait=") {
			blocking++
		}
	}
	if blocking < 2 {
		t.Errorf("%d blocking allocation queries, want one per step (pending, running):\n%s", blocking, strings.Join(f.Requests(), "\n"))
	}
	for _, want := range []string{"registered nomad job alice-dev in namespace default", `task "ide": Driver: Downloading image`, "nomad job alice-dev runs"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("progress lines lack %q:\n%s", want, logs)
		}
	}
	if st := mustInspect(t, d, w.SpaceID); st.State != runtime.StateRunning || st.ID != "alice-dev" {
		t.Errorf("Inspect after Start = %+v, want running", st)
	}
}

func TestStartNamesAJobWithoutIDAfterTheSpace(t *testing.T) {
	f := newFakeNomad(t, testToken)
	d := newDriver(t, f, "")
	hcl, job := jobSpec("", "")
	job.ID, job.Name = new(""), new("")
	f.Parses(hcl, job)
	w, _ := workload(hcl)

	st := mustStart(t, d, w)

	if want := nomad.JobID(w.SpaceID); st.ID != want || f.Job("default", want) == nil {
		t.Errorf("Start made job %q, want %q", st.ID, want)
	}
}

func TestStartPlacesTheJobInTheSpecNamespaceOrTheDriverOne(t *testing.T) {
	f := newFakeNomad(t, testToken)
	f.AddNamespace("team-a")
	f.AddNamespace("team-b")
	d, err := nomad.New(nomad.Options{Addr: f.URL(), Token: testToken, Namespace: "team-b", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	named, _ := workload(setupSpec(f, "named", "team-a"))
	unnamed, _ := workload(setupSpec(f, "unnamed", ""))

	mustStart(t, d, named)
	mustStart(t, d, unnamed)

	if f.Job("team-a", "named") == nil || f.Job("team-b", "unnamed") == nil {
		t.Errorf("jobs not in team-a and team-b; requests:\n%s", strings.Join(f.Requests(), "\n"))
	}
	if n := f.CountRequests("PUT /v1/jobs/parse?namespace=team-b"); n != 2 {
		t.Errorf("%d parse requests in the driver's namespace, want 2", n)
	}
	for _, w := range []*runtime.Workload{named, unnamed} {
		if st := mustInspect(t, d, w.SpaceID); st.State != runtime.StateRunning {
			t.Errorf("Inspect %s = %+v, want running", w.SpaceID, st)
		}
	}
}

func TestStartFailsWithTheReasonNomadGives(t *testing.T) {
	for _, tt := range []struct {
		name  string
		steps []step
		code  string
		want  []string
	}{
		{"DriverFailure", []step{stepPlace(), stepDriverFailure(`Failed to pull "ghcr.io/knot-dev/nosuch:1": Error response from daemon: manifest unknown`)},
			shared.EINVALID, []string{`task "dev": Driver Failure: Failed to pull "ghcr.io/knot-dev/nosuch:1"`}},
		{"TaskExits", []step{stepPlace(), stepExit(3)}, shared.EINVALID, []string{`task "dev": exited with code 3`}},
		{"AllocationLost", []step{stepPlace(), stepLose()}, shared.EUNAVAILABLE, []string{"allocation was lost: alloc is lost since its node is down"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeNomad(t, testToken)
			d := newDriver(t, f, "")
			w, _ := workload(setupSpec(f, "web", ""))
			f.Script("web", tt.steps...)

			_, err := d.Start(ctxTimeout(t, 20*time.Second), w)

			mustCode(t, err, tt.code, append([]string{"job web did not start"}, tt.want...)...)
			if f.Job("default", "web") != nil {
				t.Errorf("the job that failed to start is still there")
			}
			if st := mustInspect(t, d, w.SpaceID); st.State != runtime.StateMissing {
				t.Errorf("Inspect after a failed start = %+v, want missing", st)
			}
		})
	}
}

func TestStartGivesUpWhenNomadCannotPlaceTheJobInTime(t *testing.T) {
	f := newFakeNomad(t, testToken)
	d := newDriver(t, f, "")
	w, logs := workload(setupSpec(f, "big", ""))
	f.Script("big", stepNoPlacement())

	began := time.Now()
	_, err := d.Start(ctxTimeout(t, 500*time.Millisecond), w)

	mustCode(t, err, shared.EUNAVAILABLE, "job big did not start in time", `task group "dev": memory exhausted on 1 node(s)`)
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("Start took %v; the context allowed 500ms", took)
	}
	if !strings.Contains(logs.String(), "nomad cannot place job big yet") {
		t.Errorf("progress lines do not tell the placement failure:\n%s", logs)
	}
	if f.Job("default", "big") != nil {
		t.Errorf("the job that did not start is still there")
	}
}

func TestStartRefusesASpecNomadCannotParse(t *testing.T) {
	f := newFakeNomad(t, testToken)
	d := newDriver(t, f, "")
	const hcl = "job \"x\" {\n  group \"g\" {\n    imagex = 1\n  }\n}\n"
	const msg = `input.hcl:3,5-11: Unsupported argument; An argument named "imagex" is not expected here.`
	f.ParseFails(hcl, 400, msg)
	w, _ := workload(hcl)

	_, err := d.Start(ctxTimeout(t, 10*time.Second), w)

	mustCode(t, err, shared.EINVALID, "cannot parse the job spec", msg)
	if n := f.CountRequests("PUT /v1/jobs?"); n != 0 {
		t.Errorf("%d registrations after a parse error, want 0", n)
	}
}

func TestStartRefusesAJobIDHeldByAJobKnotDidNotMake(t *testing.T) {
	f := newFakeNomad(t, testToken)
	d := newDriver(t, f, "")
	_, theirs := jobSpec("shared", "default")
	f.PutJob(theirs)
	w, _ := workload(setupSpec(f, "shared", ""))

	_, err := d.Start(ctxTimeout(t, 10*time.Second), w)

	mustCode(t, err, shared.ECONFLICT, "job shared in namespace default exists and was not made by knot for this space")
	if j := f.Job("default", "shared"); j == nil || j.Meta["knot_space_id"] != "" || len(f.Registered()) != 0 {
		t.Errorf("the other job was touched: %+v", j)
	}
}

func TestStartReplacesTheJobOfTheSpaceUnderAnotherID(t *testing.T) {
	f := newFakeNomad(t, testToken)
	d := newDriver(t, f, "")
	w, _ := workload(setupSpec(f, "old-name", ""))
	mustStart(t, d, w)

	w.Spec = setupSpec(f, "new-name", "")
	st := mustStart(t, d, w)

	if st.ID != "new-name" || f.Job("default", "old-name") != nil || f.Job("default", "new-name") == nil {
		t.Errorf("after the second Start: status %+v, old job %v", st, f.Job("default", "old-name"))
	}
	if n := f.CountRequests("DELETE /v1/job/old-name?namespace=default&purge=true"); n != 1 {
		t.Errorf("old job purged %d times, want 1", n)
	}
}

func TestStartUpdatesTheRunningJobOfTheSpaceInPlace(t *testing.T) {
	f := newFakeNomad(t, testToken)
	d := newDriver(t, f, "")
	w, _ := workload(setupSpec(f, "web", ""))
	mustStart(t, d, w)
	created := *f.Job("default", "web").CreateIndex

	w.Env[runtime.EnvAgentToken] = "agent-token-2"
	w.Hash = "hash-2"
	st := mustStart(t, d, w)

	job := f.Job("default", "web")
	if *job.CreateIndex != created || *job.Version != 1 || st.Hash != "hash-2" {
		t.Errorf("job after the update: create index %d (was %d), version %d, status %+v; want the same job at version 1", *job.CreateIndex, created, *job.Version, st)
	}
	var running, stopped int
	for _, a := range f.Allocs("default", "web") {
		switch {
		case a.JobVersion == 1 && a.ClientStatus == "running":
			running++
		case a.JobVersion == 0 && a.ClientStatus == "complete":
			stopped++
		}
	}
	if running != 1 || stopped != 1 {
		t.Errorf("allocations: %d running at version 1, %d stopped at version 0; want 1 and 1", running, stopped)
	}
}

func TestStartReportsNomadTroubleAsUnavailable(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(f *fakeNomad)
		want  []string
	}{
		{"RegisterAnswers500", func(f *fakeNomad) { f.Fail("PUT", "/v1/jobs", 0, 500, "rpc error: No cluster leader") },
			[]string{"nomad failed registering job web in namespace default: 500 rpc error: No cluster leader"}},
		{"ParseAnswers503", func(f *fakeNomad) { f.Fail("PUT", "/v1/jobs/parse", 0, 503, "Service Unavailable") },
			[]string{"parsing the job spec", "503"}},
		{"TokenRefused", func(f *fakeNomad) { f.Fail("GET", "/v1/jobs", 0, 403, "Permission denied") },
			[]string{"Permission denied", "server.nomad.token"}},
		{"ListHangs", func(f *fakeNomad) { f.Hang("GET", "/v1/jobs") },
			[]string{"did not answer in time (listing jobs)"}},
		{"AllocationsHang", func(f *fakeNomad) { f.Hang("GET", "/v1/job/web/allocations") },
			[]string{"job web did not start in time"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeNomad(t, testToken)
			d := newDriver(t, f, "")
			w, _ := workload(setupSpec(f, "web", ""))
			tt.setup(f)

			began := time.Now()
			_, err := d.Start(ctxTimeout(t, 400*time.Millisecond), w)

			mustCode(t, err, shared.EUNAVAILABLE, tt.want...)
			if took := time.Since(began); took > 5*time.Second {
				t.Errorf("Start took %v; the context allowed 400ms", took)
			}
		})
	}
}

func TestCallsReportAnUnreachableNomadAsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	ln.Close()
	d, err := nomad.New(nomad.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxTimeout(t, 5*time.Second)
	_, err = d.Inspect(ctx, "3f0c5a6e-6a51-4a43-8d3c-0e1f2a3b4c5d")
	mustCode(t, err, shared.EUNAVAILABLE, "cannot reach nomad at "+addr, "connection refused")
	mustCode(t, d.Ping(ctx), shared.EUNAVAILABLE, "cannot reach nomad")
}

func TestStopDeregistersWithoutPurgeAndWaitsForTheAllocations(t *testing.T) {
	f := newFakeNomad(t, testToken)
	d := newDriver(t, f, "")
	w, _ := workload(setupSpec(f, "web", ""))
	mustStart(t, d, w)

	if err := d.Stop(ctxTimeout(t, 10*time.Second), w.SpaceID, 5*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	job := f.Job("default", "web")
	if job == nil || !*job.Stop {
		t.Fatalf("after Stop the job is %v, want kept and stopped", job)
	}
	for _, a := range f.Allocs("default", "web") {
		if a.ClientStatus != "complete" {
			t.Errorf("allocation %s is %s after Stop returned, want complete", a.ID, a.ClientStatus)
		}
	}
	if n := f.CountRequests("DELETE /v1/job/web?namespace=default&purge=false"); n != 1 {
		t.Errorf("%d deregistrations without purge, want 1", n)
	}
	st := mustInspect(t, d, w.SpaceID)
	if st.State != runtime.StateExited || st.ExitCode != 0 || st.Reason != "job was stopped" || st.Hash != "hash-1" {
		t.Errorf("Inspect after Stop = %+v, want exited 0, job was stopped", st)
	}
	// Stopping again, or a space without a job, does nothing.
	if err := d.Stop(ctxTimeout(t, 10*time.Second), w.SpaceID, time.Second); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := d.Stop(ctxTimeout(t, 10*time.Second), "0a1b2c3d-0000-4000-8000-000000000000", time.Second); err != nil {
		t.Errorf("Stop of a space without job: %v", err)
	}
	if n := f.CountRequests("DELETE /v1/job/"); n != 1 {
		t.Errorf("%d deregistrations in all, want 1", n)
	}
}

func TestRemovePurgesTheJob(t *testing.T) {
	f := newFakeNomad(t, testToken)
	d := newDriver(t, f, "")
	w, _ := workload(setupSpec(f, "web", ""))
	mustStart(t, d, w)
	if err := d.Stop(ctxTimeout(t, 10*time.Second), w.SpaceID, time.Second); err != nil {
		t.Fatal(err)
	}

	if err := d.Remove(ctxTimeout(t, 10*time.Second), w.SpaceID); err != nil {
		t.Fatalf("Remove: %v", err)
	}

	if f.Job("default", "web") != nil || f.CountRequests("DELETE /v1/job/web?namespace=default&purge=true") != 1 {
		t.Errorf("job not purged; requests:\n%s", strings.Join(f.Requests(), "\n"))
	}
	if st := mustInspect(t, d, w.SpaceID); st.State != runtime.StateMissing {
		t.Errorf("Inspect after Remove = %+v, want missing", st)
	}
	if err := d.Remove(ctxTimeout(t, 10*time.Second), w.SpaceID); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

func TestInspectReportsWhatHappenedOutsideKnot(t *testing.T) {
	for _, tt := range []struct {
		name   string
		happen func(t *testing.T, f *fakeNomad)
		state  runtime.State
		code   int
		reason string
	}{
		{"TaskFailed", func(t *testing.T, f *fakeNomad) { f.Do("default", "web", stepExit(2)) },
			runtime.StateExited, 2, `job failed: task "dev": exited with code 2`},
		{"TaskFinished", func(t *testing.T, f *fakeNomad) { f.Do("default", "web", stepExit(0)) },
			runtime.StateExited, 0, `job finished: task "dev": exited with code 0`},
		{"DriverFailed", func(t *testing.T, f *fakeNomad) { f.Do("default", "web", stepDriverFailure("OOM killed")) },
			runtime.StateExited, -1, `job failed: task "dev": Driver Failure: OOM killed`},
		{"AllocationLost", func(t *testing.T, f *fakeNomad) { f.Do("default", "web", stepLose()) },
			runtime.StateExited, -1, "job's allocation was lost: alloc is lost since its node is down"},
		{"JobStoppedByAnOperator", func(t *testing.T, f *fakeNomad) {
			cli, err := nomadapi.NewClient(&nomadapi.Config{Address: f.URL(), SecretID: testToken})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := cli.Jobs().Deregister("web", false, &nomadapi.WriteOptions{Namespace: "default"}); err != nil {
				t.Fatal(err)
			}
		}, runtime.StateExited, 0, "job was stopped"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeNomad(t, testToken)
			d := newDriver(t, f, "")
			w, _ := workload(setupSpec(f, "web", ""))
			mustStart(t, d, w)

			tt.happen(t, f)

			st := mustInspect(t, d, w.SpaceID)
			if st.State != tt.state || st.ExitCode != tt.code || st.Reason != tt.reason || st.ID != "web" {
				t.Errorf("Inspect = %+v, want %s code %d reason %q", st, tt.state, tt.code, tt.reason)
			}
		})
	}
}

func TestListReportsTheJobsOfThisLocation(t *testing.T) {
	f := newFakeNomad(t, testToken)
	a := newDriver(t, f, "loc-a")
	b := newDriver(t, f, "loc-b")
	all := newDriver(t, f, "")
	w1, _ := workload(setupSpec(f, "one", ""))
	w2, _ := workload(setupSpec(f, "two", ""))
	w3, _ := workload(setupSpec(f, "three", ""))
	mustStart(t, a, w1)
	mustStart(t, a, w2)
	mustStart(t, b, w3)
	_, theirs := jobSpec("not-knot", "default")
	f.PutJob(theirs)
	if err := a.Stop(ctxTimeout(t, 10*time.Second), w2.SpaceID, time.Second); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name string
		d    *nomad.Driver
		want []string
	}{
		{"LocationA", a, []string{w1.SpaceID + " running", w2.SpaceID + " exited"}},
		{"LocationB", b, []string{w3.SpaceID + " running"}},
		{"NoLocation", all, []string{w1.SpaceID + " running", w2.SpaceID + " exited", w3.SpaceID + " running"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			list, err := tt.d.List(ctxTimeout(t, 10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, st := range list {
				got = append(got, st.SpaceID+" "+string(st.State))
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("List = %v, want %v", got, want)
			}
		})
	}
}

func TestNewTakesAddressAndTokenFromTheEnvironmentOnlyWithoutAddr(t *testing.T) {
	f := newFakeNomad(t, testToken)
	t.Setenv("NOMAD_ADDR", f.URL())
	t.Setenv("NOMAD_TOKEN", testToken)
	fromEnv, err := nomad.New(nomad.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := fromEnv.Ping(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Errorf("Ping with NOMAD_ADDR and NOMAD_TOKEN: %v", err)
	}

	other := newFakeNomad(t, "configured-token")
	t.Setenv("NOMAD_TOKEN", "token-from-env")
	configured, err := nomad.New(nomad.Options{Addr: other.URL(), Token: "configured-token"})
	if err != nil {
		t.Fatal(err)
	}
	if err := configured.Ping(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Errorf("Ping with Addr and Token set: %v", err)
	}
	if n := f.CountRequests("GET /v1/status/leader"); n != 1 {
		t.Errorf("the env's Nomad got %d pings, want 1 (the configured driver must not use NOMAD_ADDR)", n)
	}

	if _, err := nomad.New(nomad.Options{Addr: "127.0.0.1 4646"}); err == nil {
		t.Errorf("New accepted an address that is not a URL")
	}
}

func TestEveryRequestNamesTheConfiguredRegion(t *testing.T) {
	f := newFakeNomad(t, testToken)
	f.region = "eu-west"
	d, err := nomad.New(nomad.Options{Addr: f.URL(), Token: testToken, Region: "eu-west", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	w, _ := workload(setupSpec(f, "web", ""))
	mustStart(t, d, w)
	if err := d.Stop(ctxTimeout(t, 10*time.Second), w.SpaceID, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(ctxTimeout(t, 10*time.Second), w.SpaceID); err != nil {
		t.Fatal(err)
	}
}

func TestStartingARunningJobAgainWithTheSameSpecKeepsItsAllocation(t *testing.T) {
	f := newFakeNomad(t, testToken)
	d := newDriver(t, f, "")
	w, _ := workload(setupSpec(f, "web", ""))
	first := mustStart(t, d, w)

	again := mustStart(t, d, w)

	if job := f.Job("default", "web"); *job.Version != 0 || len(f.Allocs("default", "web")) != 1 {
		t.Errorf("job version %d with %d allocations, want the unchanged job and its one allocation", *job.Version, len(f.Allocs("default", "web")))
	}
	if !again.StartedAt.Equal(first.StartedAt) || again.State != runtime.StateRunning {
		t.Errorf("second Start = %+v, want the running allocation of the first (%v)", again, first.StartedAt)
	}
}

func TestCallsOtherThanStartReportNomadTrouble(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault func(f *fakeNomad)
		call  func(ctx context.Context, d *nomad.Driver, w *runtime.Workload) error
		code  string
		want  []string
	}{
		{"InspectListAnswers500", func(f *fakeNomad) { f.Fail("GET", "/v1/jobs", 0, 500, "rpc error: No cluster leader") },
			func(ctx context.Context, d *nomad.Driver, w *runtime.Workload) error {
				_, err := d.Inspect(ctx, w.SpaceID)
				return err
			},
			shared.EUNAVAILABLE, []string{"listing jobs: 500 rpc error: No cluster leader"}},
		{"ListAllocationsAnswer500", func(f *fakeNomad) { f.Fail("GET", "/v1/job/web/allocations", 0, 500, "raft: leadership lost") },
			func(ctx context.Context, d *nomad.Driver, _ *runtime.Workload) error {
				_, err := d.List(ctx)
				return err
			},
			shared.EUNAVAILABLE, []string{"reading the allocations of job web", "leadership lost"}},
		{"StopAnswers500", func(f *fakeNomad) { f.Fail("DELETE", "/v1/job/web", 0, 500, "rpc error: eval broker disabled") },
			func(ctx context.Context, d *nomad.Driver, w *runtime.Workload) error {
				return d.Stop(ctx, w.SpaceID, time.Second)
			},
			shared.EUNAVAILABLE, []string{"stopping job web", "eval broker disabled"}},
		{"RemoveHangs", func(f *fakeNomad) { f.Hang("DELETE", "/v1/job/web") },
			func(ctx context.Context, d *nomad.Driver, w *runtime.Workload) error { return d.Remove(ctx, w.SpaceID) },
			shared.EUNAVAILABLE, []string{"did not answer in time (removing job web)"}},
		{"StopWaitsTooLong", func(f *fakeNomad) { f.Hang("GET", "/v1/job/web/allocations") },
			func(ctx context.Context, d *nomad.Driver, w *runtime.Workload) error {
				return d.Stop(ctx, w.SpaceID, time.Second)
			},
			shared.EUNAVAILABLE, []string{"job web was stopped but its allocations did not stop in time"}},
		{"VolumeCreateRefused", func(f *fakeNomad) {
			f.Fail("PUT", "/v1/volume/csi/.*/create", 0, 400, "1 error occurred:\n\t* plugin cephrbd does not support creating volumes\n\n")
		}, func(ctx context.Context, d *nomad.Driver, w *runtime.Workload) error {
			w.Volumes = "volumes:\n  - id: home-" + w.SpaceID + "\n    plugin_id: cephrbd\n    capabilities: [{access_mode: single-node-writer, attachment_mode: file-system}]\n"
			return d.EnsureVolumes(ctx, w)
		}, shared.EINVALID, []string{"nomad refused creating CSI volume home-", "plugin cephrbd does not support creating volumes"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeNomad(t, testToken)
			d := newDriver(t, f, "")
			w, _ := workload(setupSpec(f, "web", ""))
			mustStart(t, d, w)
			tt.fault(f)

			began := time.Now()
			err := tt.call(ctxTimeout(t, 400*time.Millisecond), d, w)

			mustCode(t, err, tt.code, tt.want...)
			if took := time.Since(began); took > 5*time.Second {
				t.Errorf("the call took %v; the context allowed 400ms", took)
			}
		})
	}
}
