package nomad_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	nomadapi "github.com/hashicorp/nomad/api"
)

// fakeNomad answers the parts of Nomad's HTTP API the driver uses, written
// from Nomad's API documentation (https://developer.hashicorp.com/nomad/api-docs):
// jobs (parse, register, list, read, allocations, deregister), evaluations,
// CSI volumes (read, create, list, delete), the leader status and the task
// logs of allocations (plain, not followed).
//
// It keeps state like a one-node cluster with a scripted client: each
// registration queues steps (place an allocation, run it, fail it, ...)
// that happen one at a time whenever someone waits on the job's
// allocations with a blocking query at the current index, so tests need no
// timing. It checks every request (method, path, query parameters, the
// X-Nomad-Token header, the body's shape) and reports anything it does not
// expect through report, which fails the test.
type fakeNomad struct {
	t      testing.TB
	srv    *httptest.Server
	token  string // the X-Nomad-Token every request must carry; "" for none
	region string // the region every request must name; "" for none
	report func(format string, args ...any)

	mu         sync.Mutex
	index      uint64
	changed    chan struct{} // closed and replaced on every change
	namespaces map[string]bool
	parses     map[string]parseAnswer
	jobs       map[string]*fakeJob // by namespace/id
	allocs     []*fakeAlloc
	evals      map[string]*nomadapi.Evaluation
	volumes    map[string]*nomadapi.CSIVolume // by namespace/id
	scripts    map[string][]step              // job id → steps of its next registration
	faults     []*fault
	requests   []string
	registered []*nomadapi.Job
	created    []*nomadapi.CSIVolume
	deleted    []string // namespace/id of deleted volumes
}

type fakeJob struct {
	job         *nomadapi.Job
	spec        string // the submitted job as JSON, to tell spec changes apart
	createIndex uint64
	steps       []step
	evalID      string
}

type fakeAlloc struct {
	stub           *nomadapi.AllocationListStub
	jobCreateIndex uint64
	logs           map[string]string // what its tasks printed, by "task/stdout" and "task/stderr"
}

// A step is what the cluster does next for a job.
type step func(f *fakeNomad, j *fakeJob)

type parseAnswer struct {
	job    *nomadapi.Job
	status int
	body   string
}

type fault struct {
	method string
	path   *regexp.Regexp
	status int
	body   string
	hang   bool
	times  int // 0: for ever
}

func newFakeNomad(t testing.TB, token string) *fakeNomad {
	f := &fakeNomad{
		t:          t,
		token:      token,
		report:     t.Errorf,
		changed:    make(chan struct{}),
		index:      10,
		namespaces: map[string]bool{"default": true},
		parses:     map[string]parseAnswer{},
		jobs:       map[string]*fakeJob{},
		evals:      map[string]*nomadapi.Evaluation{},
		volumes:    map[string]*nomadapi.CSIVolume{},
		scripts:    map[string][]step{},
	}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeNomad) URL() string { return f.srv.URL }

// AddNamespace makes a namespace exist.
func (f *fakeNomad) AddNamespace(ns string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.namespaces[ns] = true
}

// Parses makes PUT /v1/jobs/parse answer hcl with job, the way Nomad
// answers with Canonicalize false.
func (f *fakeNomad) Parses(hcl string, job *nomadapi.Job) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.parses[hcl] = parseAnswer{job: job}
}

// ParseFails makes PUT /v1/jobs/parse refuse hcl with status and message.
func (f *fakeNomad) ParseFails(hcl string, status int, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.parses[hcl] = parseAnswer{status: status, body: msg}
}

// Script sets what the cluster does after the next registration of job id;
// without one it places an allocation and runs it.
func (f *fakeNomad) Script(id string, steps ...step) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scripts[id] = steps
}

// Do makes something happen to job id in namespace ns at once, e.g. a task
// failing outside knot.
func (f *fakeNomad) Do(ns, id string, s step) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.jobs[ns+"/"+id]
	if j == nil {
		f.t.Fatalf("fake nomad: no job %s/%s", ns, id)
	}
	s(f, j)
	f.bump()
}

// Fail makes the next times requests (0: all) matching method and the path
// pattern answer status and body.
func (f *fakeNomad) Fail(method, pathPattern string, times, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &fault{method: method, path: regexp.MustCompile("^" + pathPattern + "$"), status: status, body: body, times: times})
}

// Hang makes requests matching method and the path pattern never answer:
// they return only when the client gives up.
func (f *fakeNomad) Hang(method, pathPattern string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &fault{method: method, path: regexp.MustCompile("^" + pathPattern + "$"), hang: true})
}

// PutJob stores a job as if someone had registered it outside knot, with a
// running allocation.
func (f *fakeNomad) PutJob(job *nomadapi.Job) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.register(job)
	j := f.jobs[*job.Namespace+"/"+*job.ID]
	j.steps = nil
	stepPlace()(f, j)
	stepRun()(f, j)
	f.bump()
}

// PutVolume stores a CSI volume as if someone had created it outside knot.
func (f *fakeNomad) PutVolume(v *nomadapi.CSIVolume) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.storeVolume(v)
}

// Job returns the job stored as namespace/id, or nil.
func (f *fakeNomad) Job(ns, id string) *nomadapi.Job {
	f.mu.Lock()
	defer f.mu.Unlock()
	if j := f.jobs[ns+"/"+id]; j != nil {
		return clone(j.job)
	}
	return nil
}

// Prints appends text to the stdout or stderr log of task in the
// allocations of job id that run, as the task printing it would.
func (f *fakeNomad) Prints(id, task, typ, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.allocs {
		if a.stub.JobID == id && a.stub.ClientStatus == nomadapi.AllocClientStatusRunning {
			if a.logs == nil {
				a.logs = map[string]string{}
			}
			a.logs[task+"/"+typ] += text
		}
	}
}

// taskLogs answers GET /v1/client/fs/logs/:alloc_id as a Nomad client
// does (Nomad forwards it from the server to the node): the task's log of
// the type, from offset bytes after the start or before the end. The fake
// serves it only as plain text and without follow, which is all the
// driver asks for; it reports anything else.
func (f *fakeNomad) taskLogs(w http.ResponseWriter, r *http.Request, m []string) {
	q := r.URL.Query()
	if q.Get("plain") != "true" || q.Get("follow") == "true" {
		f.report("fake nomad: %s asks for framed or followed logs, which the fake does not serve", r.URL.RequestURI())
	}
	task, typ, origin := q.Get("task"), q.Get("type"), q.Get("origin")
	if task == "" {
		f.fail(w, 400, "must provide task name")
		return
	}
	if typ != "stdout" && typ != "stderr" {
		f.fail(w, 400, "must provide log type (stdout/stderr)")
		return
	}
	if origin == "" {
		origin = "start"
	}
	if origin != "start" && origin != "end" {
		f.fail(w, 400, `origin must be "start" or "end"`)
		return
	}
	offset := int64(0)
	if s := q.Get("offset"); s != "" {
		var err error
		if offset, err = strconv.ParseInt(s, 10, 64); err != nil || offset < 0 {
			f.fail(w, 400, fmt.Sprintf("failed to parse offset %q", s))
			return
		}
	}
	id := pathParam(m[1])
	f.mu.Lock()
	var alloc *fakeAlloc
	for _, a := range f.allocs {
		if a.stub.ID == id {
			alloc = a
		}
	}
	if alloc == nil {
		f.mu.Unlock()
		f.fail(w, 404, fmt.Sprintf("Unknown allocation %q", id))
		return
	}
	if alloc.stub.Namespace != q.Get("namespace") {
		f.mu.Unlock()
		f.report("fake nomad: %s names namespace %q; the allocation is in %q", r.URL.RequestURI(), q.Get("namespace"), alloc.stub.Namespace)
		f.fail(w, 403, "Permission denied")
		return
	}
	if _, ok := alloc.stub.TaskStates[task]; !ok {
		f.mu.Unlock()
		f.fail(w, 400, fmt.Sprintf("unknown task name %q", task))
		return
	}
	log := alloc.logs[task+"/"+typ]
	f.mu.Unlock()
	n := min(offset, int64(len(log)))
	if origin == "end" {
		log = log[int64(len(log))-n:]
	} else {
		log = log[n:]
	}
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, log)
}

// Registered returns the jobs registered so far, in order.
func (f *fakeNomad) Registered() []*nomadapi.Job {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.registered)
}

// Allocs returns the allocations of job id in ns, of any job instance.
func (f *fakeNomad) Allocs(ns, id string) []*nomadapi.AllocationListStub {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*nomadapi.AllocationListStub
	for _, a := range f.allocs {
		if a.stub.Namespace == ns && a.stub.JobID == id {
			out = append(out, clone(a.stub))
		}
	}
	return out
}

// Volumes returns namespace/id of every CSI volume.
func (f *fakeNomad) Volumes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.volumes))
}

// Created returns the CSI volumes created through the API, in order.
func (f *fakeNomad) Created() []*nomadapi.CSIVolume {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.created)
}

// Requests returns "METHOD /path?query" of every request so far.
func (f *fakeNomad) Requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// CountRequests counts the requests whose "METHOD /path" starts with prefix.
func (f *fakeNomad) CountRequests(prefix string) int {
	n := 0
	for _, r := range f.Requests() {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

// --- the cluster's steps ---

// stepPlace places one allocation per task group of the job's current
// version: pending, its tasks received.
func stepPlace() step {
	return func(f *fakeNomad, j *fakeJob) {
		f.scheduled(j)
		for _, tg := range j.job.TaskGroups {
			now := time.Now()
			a := &nomadapi.AllocationListStub{
				ID:            uuid.NewString(),
				EvalID:        j.evalID,
				Name:          fmt.Sprintf("%s.%s[0]", *j.job.ID, *tg.Name),
				Namespace:     *j.job.Namespace,
				NodeID:        "cb1f6030-a220-4f92-57dc-7baaabdc3823",
				NodeName:      "nomad-client-1",
				JobID:         *j.job.ID,
				JobType:       *j.job.Type,
				JobVersion:    *j.job.Version,
				TaskGroup:     *tg.Name,
				DesiredStatus: nomadapi.AllocDesiredStatusRun,
				ClientStatus:  nomadapi.AllocClientStatusPending,
				TaskStates:    map[string]*nomadapi.TaskState{},
				CreateIndex:   f.index + 1,
				ModifyIndex:   f.index + 1,
				CreateTime:    now.UnixNano(),
				ModifyTime:    now.UnixNano(),
			}
			for _, t := range tg.Tasks {
				a.TaskStates[t.Name] = &nomadapi.TaskState{
					State: "pending",
					Events: []*nomadapi.TaskEvent{
						{Type: nomadapi.TaskReceived, Time: now.UnixNano(), DisplayMessage: "Task received by client"},
						{Type: nomadapi.TaskSetup, Time: now.UnixNano() + 1, Message: "Building Task Directory", DisplayMessage: "Building Task Directory"},
					},
				}
			}
			f.allocs = append(f.allocs, &fakeAlloc{stub: a, jobCreateIndex: j.createIndex})
		}
	}
}

// stepRun runs the pending allocations of the job.
func stepRun() step {
	return eachPending(func(a *nomadapi.AllocationListStub, now time.Time) {
		a.ClientStatus = nomadapi.AllocClientStatusRunning
		for _, ts := range a.TaskStates {
			ts.State = "running"
			ts.StartedAt = now.UTC()
			ts.Events = append(ts.Events,
				&nomadapi.TaskEvent{Type: nomadapi.TaskDriverMessage, Time: now.UnixNano(), DriverMessage: "Downloading image", DisplayMessage: "Downloading image"},
				&nomadapi.TaskEvent{Type: nomadapi.TaskStarted, Time: now.UnixNano() + 1, DisplayMessage: "Task started by client"})
		}
	})
}

// stepDriverFailure fails the pending or running allocations of the job
// with a driver error, after the restart policy gave up.
func stepDriverFailure(msg string) step {
	return eachLive(func(a *nomadapi.AllocationListStub, now time.Time) {
		a.ClientStatus = nomadapi.AllocClientStatusFailed
		a.ClientDescription = "Failed tasks"
		for _, ts := range a.TaskStates {
			ts.State, ts.Failed, ts.FinishedAt = "dead", true, now.UTC()
			ts.Events = append(ts.Events,
				&nomadapi.TaskEvent{Type: nomadapi.TaskDriverFailure, Time: now.UnixNano(), FailsTask: true, DriverError: msg, DisplayMessage: msg},
				&nomadapi.TaskEvent{Type: nomadapi.TaskNotRestarting, Time: now.UnixNano() + 1, FailsTask: true,
					RestartReason: `Exceeded allowed attempts 2 in interval 30m0s and mode is "fail"`, DisplayMessage: `Exceeded allowed attempts 2 in interval 30m0s and mode is "fail"`})
		}
	})
}

// stepExit makes the tasks of the running allocations exit with code and
// Nomad give up on them.
func stepExit(code int) step {
	return eachLive(func(a *nomadapi.AllocationListStub, now time.Time) {
		a.ClientStatus = nomadapi.AllocClientStatusFailed
		if code == 0 {
			a.ClientStatus = nomadapi.AllocClientStatusComplete
		}
		a.ClientDescription = "All tasks have completed"
		for _, ts := range a.TaskStates {
			ts.State, ts.Failed, ts.FinishedAt = "dead", code != 0, now.UTC()
			ts.Events = append(ts.Events,
				&nomadapi.TaskEvent{Type: nomadapi.TaskTerminated, Time: now.UnixNano(), ExitCode: code, DisplayMessage: fmt.Sprintf("Exit Code: %d", code)})
			if code != 0 {
				ts.Events = append(ts.Events, &nomadapi.TaskEvent{Type: nomadapi.TaskNotRestarting, Time: now.UnixNano() + 1, FailsTask: true,
					RestartReason: `Exceeded allowed attempts 2 in interval 30m0s and mode is "fail"`})
			}
		}
	})
}

// stepLose marks the job's live allocations lost, as when their node goes
// down.
func stepLose() step {
	return eachLive(func(a *nomadapi.AllocationListStub, _ time.Time) {
		a.ClientStatus = nomadapi.AllocClientStatusLost
		a.ClientDescription = "alloc is lost since its node is down"
	})
}

// stepNoPlacement records that the job's evaluation could place nothing:
// no node has the memory it asks for.
func stepNoPlacement() step {
	return func(f *fakeNomad, j *fakeJob) {
		f.scheduled(j)
		ev := f.evals[j.evalID]
		ev.BlockedEval = uuid.NewString()
		ev.FailedTGAllocs = map[string]*nomadapi.AllocationMetric{}
		for _, tg := range j.job.TaskGroups {
			ev.FailedTGAllocs[*tg.Name] = &nomadapi.AllocationMetric{
				NodesEvaluated: 1, NodesInPool: 1, NodePool: "default",
				NodesAvailable: map[string]int{"dc1": 1}, NodesExhausted: 1,
				DimensionExhausted: map[string]int{"memory": 1},
			}
		}
	}
}

// scheduled marks the job's evaluation done by the scheduler.
func (f *fakeNomad) scheduled(j *fakeJob) {
	if ev := f.evals[j.evalID]; ev != nil && ev.Status == "pending" {
		ev.Status = "complete"
		ev.ModifyIndex, ev.ModifyTime = f.index+1, time.Now().UnixNano()
	}
}

// stepStopAllocs stops the job's allocations that Nomad told to stop.
func stepStopAllocs() step {
	return func(f *fakeNomad, j *fakeJob) {
		now := time.Now()
		for _, a := range f.allocs {
			s := a.stub
			if s.Namespace != *j.job.Namespace || s.JobID != *j.job.ID || s.DesiredStatus == nomadapi.AllocDesiredStatusRun || terminal(s.ClientStatus) {
				continue
			}
			stopAlloc(s, now, f.index+1)
		}
	}
}

func stopAlloc(s *nomadapi.AllocationListStub, now time.Time, index uint64) {
	s.ClientStatus = nomadapi.AllocClientStatusComplete
	s.ModifyIndex, s.ModifyTime = index, now.UnixNano()
	for _, ts := range s.TaskStates {
		ts.State, ts.FinishedAt = "dead", now.UTC()
		ts.Events = append(ts.Events,
			&nomadapi.TaskEvent{Type: nomadapi.TaskKilling, Time: now.UnixNano(), KillTimeout: 5 * time.Second, DisplayMessage: "Sent interrupt. Waiting 5s before force killing"},
			&nomadapi.TaskEvent{Type: nomadapi.TaskTerminated, Time: now.UnixNano() + 1, ExitCode: 0, DisplayMessage: "Exit Code: 0"},
			&nomadapi.TaskEvent{Type: nomadapi.TaskKilled, Time: now.UnixNano() + 2, DisplayMessage: "Task successfully killed"})
	}
}

func eachPending(fn func(a *nomadapi.AllocationListStub, now time.Time)) step {
	return func(f *fakeNomad, j *fakeJob) {
		f.eachAlloc(j, func(a *nomadapi.AllocationListStub) bool { return a.ClientStatus == nomadapi.AllocClientStatusPending }, fn)
	}
}

func eachLive(fn func(a *nomadapi.AllocationListStub, now time.Time)) step {
	return func(f *fakeNomad, j *fakeJob) {
		f.eachAlloc(j, func(a *nomadapi.AllocationListStub) bool { return !terminal(a.ClientStatus) }, fn)
	}
}

func (f *fakeNomad) eachAlloc(j *fakeJob, match func(*nomadapi.AllocationListStub) bool, fn func(a *nomadapi.AllocationListStub, now time.Time)) {
	now := time.Now()
	for _, a := range f.allocs {
		s := a.stub
		if a.jobCreateIndex != j.createIndex || s.Namespace != *j.job.Namespace || s.JobID != *j.job.ID ||
			s.DesiredStatus != nomadapi.AllocDesiredStatusRun || !match(s) {
			continue
		}
		fn(s, now)
		s.ModifyIndex, s.ModifyTime = f.index+1, now.UnixNano()
	}
}

func terminal(status string) bool {
	return status == nomadapi.AllocClientStatusComplete || status == nomadapi.AllocClientStatusFailed || status == nomadapi.AllocClientStatusLost
}

// --- serving ---

// route is one endpoint: the query parameters it takes besides region and
// the blocking-query ones, whether it needs a namespace, and its handler.
type route struct {
	method    string
	path      *regexp.Regexp
	params    []string
	namespace bool // the namespace parameter is required
	blocking  bool // index and wait are allowed
	handle    func(f *fakeNomad, w http.ResponseWriter, r *http.Request, m []string)
}

var routes = []route{
	{method: "PUT|POST", path: regexp.MustCompile(`^/v1/jobs/parse$`), namespace: true, handle: (*fakeNomad).parseJob},
	{method: "PUT|POST", path: regexp.MustCompile(`^/v1/jobs$`), namespace: true, handle: (*fakeNomad).registerJob},
	{method: "GET", path: regexp.MustCompile(`^/v1/jobs$`), params: []string{"meta", "filter", "prefix"}, namespace: true, blocking: true, handle: (*fakeNomad).listJobs},
	{method: "GET", path: regexp.MustCompile(`^/v1/job/([^/]+)$`), namespace: true, blocking: true, handle: (*fakeNomad).readJob},
	{method: "DELETE", path: regexp.MustCompile(`^/v1/job/([^/]+)$`), params: []string{"purge"}, namespace: true, handle: (*fakeNomad).deregisterJob},
	{method: "GET", path: regexp.MustCompile(`^/v1/job/([^/]+)/allocations$`), params: []string{"all"}, namespace: true, blocking: true, handle: (*fakeNomad).jobAllocations},
	{method: "GET", path: regexp.MustCompile(`^/v1/evaluation/([^/]+)$`), params: []string{"related"}, namespace: true, blocking: true, handle: (*fakeNomad).readEval},
	{method: "GET", path: regexp.MustCompile(`^/v1/volume/csi/([^/]+)$`), namespace: true, blocking: true, handle: (*fakeNomad).readVolume},
	{method: "PUT", path: regexp.MustCompile(`^/v1/volume/csi/([^/]+)/create$`), namespace: true, handle: (*fakeNomad).createVolume},
	{method: "DELETE", path: regexp.MustCompile(`^/v1/volume/csi/([^/]+)/delete$`), namespace: true, handle: (*fakeNomad).deleteVolume},
	{method: "GET", path: regexp.MustCompile(`^/v1/volumes$`), params: []string{"type"}, namespace: true, blocking: true, handle: (*fakeNomad).listVolumes},
	{method: "GET", path: regexp.MustCompile(`^/v1/status/leader$`), handle: (*fakeNomad).leader},
	{method: "GET", path: regexp.MustCompile(`^/v1/client/fs/logs/([^/]+)$`), params: []string{"task", "type", "origin", "offset", "plain", "follow"}, namespace: true, handle: (*fakeNomad).taskLogs},
}

func (f *fakeNomad) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.RequestURI())
	f.mu.Unlock()

	if got := r.Header.Get("X-Nomad-Token"); got != f.token {
		f.report("fake nomad: %s %s carries token %q, want %q", r.Method, r.URL.Path, got, f.token)
		f.fail(w, http.StatusForbidden, "Permission denied")
		return
	}
	q := r.URL.Query()
	if f.region != "" && q.Get("region") != f.region {
		f.report("fake nomad: %s %s names region %q, want %q", r.Method, r.URL.Path, q.Get("region"), f.region)
	}
	if fl := f.fault(r); fl != nil {
		if fl.hang {
			<-r.Context().Done()
			return
		}
		f.fail(w, fl.status, fl.body)
		return
	}
	for _, rt := range routes {
		m := rt.path.FindStringSubmatch(r.URL.Path)
		if m == nil || !slices.Contains(strings.Split(rt.method, "|"), r.Method) {
			continue
		}
		allowed := append([]string{"region"}, rt.params...)
		if rt.namespace {
			allowed = append(allowed, "namespace")
			if q.Get("namespace") == "" {
				f.report("fake nomad: %s %s names no namespace", r.Method, r.URL.RequestURI())
			}
		}
		if rt.blocking {
			allowed = append(allowed, "index", "wait", "stale")
		}
		for k := range q {
			if !slices.Contains(allowed, k) {
				f.report("fake nomad: %s %s has unexpected parameter %q", r.Method, r.URL.RequestURI(), k)
			}
		}
		if ns := q.Get("namespace"); ns != "" && ns != "*" && !f.hasNamespace(ns) {
			f.fail(w, http.StatusBadRequest, fmt.Sprintf("nonexistent namespace %q", ns))
			return
		}
		rt.handle(f, w, r, m)
		return
	}
	f.report("fake nomad: unexpected request %s %s", r.Method, r.URL.RequestURI())
	f.fail(w, http.StatusNotFound, "Invalid URL path")
}

func (f *fakeNomad) hasNamespace(ns string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.namespaces[ns]
}

func (f *fakeNomad) fault(r *http.Request) *fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, fl := range f.faults {
		if fl.method != r.Method || !fl.path.MatchString(r.URL.Path) {
			continue
		}
		if fl.times > 0 {
			fl.times--
			if fl.times == 0 {
				f.faults = slices.Delete(f.faults, i, i+1)
			}
		}
		return fl
	}
	return nil
}

// fail answers like Nomad's HTTP server does on errors: the status and the
// message as plain text.
func (f *fakeNomad) fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, msg)
}

// reply writes v as JSON with the index headers every answer carries.
func (f *fakeNomad) reply(w http.ResponseWriter, index uint64, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		f.report("fake nomad: encoding the answer: %v", err)
		f.fail(w, 500, err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Nomad-Index", strconv.FormatUint(index, 10))
	h.Set("X-Nomad-KnownLeader", "true")
	h.Set("X-Nomad-LastContact", "0")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// decode reads a JSON body strictly into v: unknown fields are reported.
func (f *fakeNomad) decode(r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		f.report("fake nomad: %s %s: body does not decode: %v", r.Method, r.URL.Path, err)
		return false
	}
	return true
}

func (f *fakeNomad) bump() {
	f.index++
	close(f.changed)
	f.changed = make(chan struct{})
}

// block implements a blocking query: with an index at or past the current
// one it lets the job make its next step, or waits for a change, the wait
// time or the client to give up. Called with f.mu held; returns with it
// held.
func (f *fakeNomad) block(r *http.Request, j *fakeJob) {
	q := r.URL.Query()
	if q.Get("index") == "" {
		return
	}
	idx, err := strconv.ParseUint(q.Get("index"), 10, 64)
	if err != nil {
		f.report("fake nomad: index %q is not a number", q.Get("index"))
		return
	}
	if idx > f.index {
		f.report("fake nomad: index %d was never handed out (current %d)", idx, f.index)
	}
	if idx < f.index {
		return
	}
	wait := 5 * time.Minute
	if s := q.Get("wait"); s != "" {
		if wait, err = time.ParseDuration(s); err != nil || !strings.HasSuffix(s, "ms") {
			f.report("fake nomad: wait %q is not in milliseconds", s)
		}
	}
	if j != nil && len(j.steps) > 0 {
		s := j.steps[0]
		j.steps = j.steps[1:]
		s(f, j)
		f.bump()
		return
	}
	ch := f.changed
	f.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(wait):
	case <-r.Context().Done():
	}
	f.mu.Lock()
}

// --- jobs ---

func (f *fakeNomad) parseJob(w http.ResponseWriter, r *http.Request, _ []string) {
	var req nomadapi.JobsParseRequest
	if !f.decode(r, &req) {
		f.fail(w, 400, "bad request")
		return
	}
	if req.JobHCL == "" {
		f.fail(w, 400, "Job spec is empty")
		return
	}
	f.mu.Lock()
	ans, ok := f.parses[req.JobHCL]
	index := f.index
	f.mu.Unlock()
	switch {
	case !ok:
		f.report("fake nomad: parse of a spec the test did not set up:\n%s", req.JobHCL)
		f.fail(w, 400, "input.hcl:1,1-1: Unexpected spec")
	case ans.status != 0:
		f.fail(w, ans.status, ans.body)
	default:
		job := clone(ans.job)
		if req.Canonicalize {
			job.Canonicalize()
		}
		f.reply(w, index, job)
	}
}

func (f *fakeNomad) registerJob(w http.ResponseWriter, r *http.Request, _ []string) {
	var req nomadapi.JobRegisterRequest
	if !f.decode(r, &req) {
		f.fail(w, 400, "bad request")
		return
	}
	job := req.Job
	switch {
	case job == nil:
		f.fail(w, 400, "Job must be specified")
		return
	case job.ID == nil || *job.ID == "":
		f.fail(w, 400, "1 error occurred:\n\t* Missing job ID\n\n")
		return
	case job.Namespace == nil || *job.Namespace != r.URL.Query().Get("namespace"):
		f.report("fake nomad: job namespace %v and request namespace %q differ", job.Namespace, r.URL.Query().Get("namespace"))
	case len(job.TaskGroups) == 0:
		f.fail(w, 400, "1 error occurred:\n\t* Missing job task groups\n\n")
		return
	}
	if errs := validateJob(job); len(errs) > 0 {
		f.fail(w, 400, multiError(errs))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.register(job)
	f.registered = append(f.registered, clone(job))
	f.bump()
	// The documented sample answer: the response carries the server's
	// query meta as Index, LastContact and KnownLeader.
	f.reply(w, f.index, map[string]any{
		"EvalID": j.evalID, "EvalCreateIndex": f.index, "JobModifyIndex": *j.job.JobModifyIndex, "Warnings": "",
		"Index": f.index, "LastContact": 0, "KnownLeader": true,
	})
}

// register stores job as Nomad's Job.Register does and queues the
// cluster's steps. Called with f.mu held.
func (f *fakeNomad) register(job *nomadapi.Job) *fakeJob {
	job = clone(job)
	ns, id := *job.Namespace, *job.ID
	specJSON, _ := json.Marshal(job)
	spec := string(specJSON)
	index := f.index + 1
	j := f.jobs[ns+"/"+id]
	var version uint64
	var stopOld, unchanged bool
	switch {
	case j == nil:
		j = &fakeJob{createIndex: index}
		f.jobs[ns+"/"+id] = j
		job.CreateIndex = new(index)
		job.JobModifyIndex = new(index)
	case j.spec == spec && !*j.job.Stop:
		unchanged = true
		version = *j.job.Version
		job.CreateIndex = j.job.CreateIndex
		job.JobModifyIndex = j.job.JobModifyIndex
	default:
		version = *j.job.Version + 1
		job.CreateIndex = j.job.CreateIndex
		job.JobModifyIndex = new(index)
		stopOld = true
	}
	if job.Type == nil {
		job.Type = new("service")
	}
	if job.Name == nil {
		job.Name = new(id)
	}
	job.Version = new(version)
	job.Stop = new(false)
	job.Status = new("pending")
	job.StatusDescription = new("")
	job.ModifyIndex = new(index)
	job.SubmitTime = new(time.Now().UnixNano())
	for _, tg := range job.TaskGroups {
		if tg.Count == nil {
			tg.Count = new(1)
		}
	}
	j.job, j.spec = job, spec
	j.evalID = uuid.NewString()
	f.evals[j.evalID] = &nomadapi.Evaluation{
		ID: j.evalID, Priority: 50, Type: *job.Type, TriggeredBy: "job-register",
		Namespace: ns, JobID: id, JobModifyIndex: *job.JobModifyIndex, Status: "pending",
		CreateIndex: index, ModifyIndex: index, CreateTime: time.Now().UnixNano(), ModifyTime: time.Now().UnixNano(),
	}
	steps, ok := f.scripts[id]
	delete(f.scripts, id)
	if !ok {
		steps = []step{stepPlace(), stepRun()}
	}
	if unchanged && f.live(j) {
		steps = nil // nothing changed; the running allocation stays
		f.evals[j.evalID].Status = "complete"
	}
	if stopOld {
		for _, a := range f.allocs {
			if a.jobCreateIndex == j.createIndex && a.stub.JobID == id && a.stub.Namespace == ns && !terminal(a.stub.ClientStatus) {
				a.stub.DesiredStatus = nomadapi.AllocDesiredStatusStop
				a.stub.DesiredDescription = "alloc is being updated due to job update"
			}
		}
		steps = append([]step{stepStopAllocs()}, steps...)
	}
	j.steps = steps
	return j
}

// live reports whether the job has an allocation that Nomad keeps running.
func (f *fakeNomad) live(j *fakeJob) bool {
	for _, a := range f.allocs {
		if a.jobCreateIndex == j.createIndex && a.stub.JobID == *j.job.ID && a.stub.Namespace == *j.job.Namespace &&
			a.stub.DesiredStatus == nomadapi.AllocDesiredStatusRun && !terminal(a.stub.ClientStatus) {
			return true
		}
	}
	return false
}

// jobAllocs returns the allocations of the job instance. Called with f.mu
// held.
func (f *fakeNomad) jobAllocs(j *fakeJob) []*nomadapi.AllocationListStub {
	var out []*nomadapi.AllocationListStub
	for _, a := range f.allocs {
		if a.jobCreateIndex == j.createIndex && a.stub.JobID == *j.job.ID && a.stub.Namespace == *j.job.Namespace {
			out = append(out, a.stub)
		}
	}
	return out
}

// status computes the job's status as Nomad's scheduler reports it:
// running with live allocations, dead when all of them ended (or it was
// stopped), pending otherwise. Called with f.mu held.
func (f *fakeNomad) status(j *fakeJob) string {
	allocs := f.jobAllocs(j)
	live := 0
	for _, a := range allocs {
		if !terminal(a.ClientStatus) {
			live++
		}
	}
	switch {
	case live > 0:
		return "running"
	case *j.job.Stop || len(allocs) > 0 && len(j.steps) == 0:
		return "dead"
	}
	return "pending"
}

func (f *fakeNomad) summary(j *fakeJob) *nomadapi.JobSummary {
	s := &nomadapi.JobSummary{JobID: *j.job.ID, Namespace: *j.job.Namespace, Summary: map[string]nomadapi.TaskGroupSummary{},
		Children: &nomadapi.JobChildrenSummary{}, CreateIndex: j.createIndex, ModifyIndex: f.index}
	for _, tg := range j.job.TaskGroups {
		s.Summary[*tg.Name] = nomadapi.TaskGroupSummary{}
	}
	for _, a := range f.jobAllocs(j) {
		tg := s.Summary[a.TaskGroup]
		switch a.ClientStatus {
		case nomadapi.AllocClientStatusPending:
			tg.Starting++
		case nomadapi.AllocClientStatusRunning:
			tg.Running++
		case nomadapi.AllocClientStatusComplete:
			tg.Complete++
		case nomadapi.AllocClientStatusFailed:
			tg.Failed++
		case nomadapi.AllocClientStatusLost:
			tg.Lost++
		}
		s.Summary[a.TaskGroup] = tg
	}
	return s
}

var inMeta = regexp.MustCompile(`^"([^"]+)" in Meta$`)

func (f *fakeNomad) listJobs(w http.ResponseWriter, r *http.Request, _ []string) {
	q := r.URL.Query()
	meta := false
	if s := q.Get("meta"); s != "" {
		var err error
		if meta, err = strconv.ParseBool(s); err != nil {
			f.fail(w, 400, fmt.Sprintf("failed to parse value of %q (%v) as a bool: %v", "meta", s, err))
			return
		}
	}
	var metaKey string
	if fl := q.Get("filter"); fl != "" {
		m := inMeta.FindStringSubmatch(fl)
		if m == nil {
			f.report("fake nomad: filter %q is not one the fake knows", fl)
			f.fail(w, 400, "failed to read filter expression")
			return
		}
		metaKey = m[1]
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.block(r, nil)
	ns := q.Get("namespace")
	out := []*nomadapi.JobListStub{}
	for _, key := range slices.Sorted(maps.Keys(f.jobs)) {
		j := f.jobs[key]
		if ns != "*" && *j.job.Namespace != ns || !strings.HasPrefix(*j.job.ID, q.Get("prefix")) {
			continue
		}
		if metaKey != "" {
			if _, ok := j.job.Meta[metaKey]; !ok {
				continue
			}
		}
		stub := &nomadapi.JobListStub{
			ID: *j.job.ID, Name: *j.job.Name, Namespace: *j.job.Namespace, Datacenters: j.job.Datacenters,
			Type: *j.job.Type, Priority: 50, Stop: *j.job.Stop, Status: f.status(j), JobSummary: f.summary(j),
			CreateIndex: j.createIndex, ModifyIndex: *j.job.ModifyIndex, JobModifyIndex: *j.job.JobModifyIndex,
			SubmitTime: *j.job.SubmitTime,
		}
		if meta {
			stub.Meta = maps.Clone(j.job.Meta)
		}
		out = append(out, stub)
	}
	f.reply(w, f.index, out)
}

func (f *fakeNomad) readJob(w http.ResponseWriter, r *http.Request, m []string) {
	id := pathParam(m[1])
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.jobs[r.URL.Query().Get("namespace")+"/"+id]
	f.block(r, j)
	if j == nil {
		f.fail(w, 404, "job not found")
		return
	}
	job := clone(j.job)
	job.Status = new(f.status(j))
	f.reply(w, f.index, job)
}

func (f *fakeNomad) deregisterJob(w http.ResponseWriter, r *http.Request, m []string) {
	id := pathParam(m[1])
	q := r.URL.Query()
	purge, err := strconv.ParseBool(q.Get("purge"))
	if err != nil {
		f.report("fake nomad: purge %q is not a bool", q.Get("purge"))
		f.fail(w, 400, "invalid purge")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ns := q.Get("namespace")
	j := f.jobs[ns+"/"+id]
	if j == nil {
		f.fail(w, 404, "job not found")
		return
	}
	now := time.Now()
	for _, a := range f.allocs {
		if a.jobCreateIndex == j.createIndex && a.stub.JobID == id && a.stub.Namespace == ns && !terminal(a.stub.ClientStatus) {
			a.stub.DesiredStatus = nomadapi.AllocDesiredStatusStop
			a.stub.DesiredDescription = "alloc not needed due to job update"
			if purge {
				stopAlloc(a.stub, now, f.index+1)
			}
		}
	}
	evalID := uuid.NewString()
	f.evals[evalID] = &nomadapi.Evaluation{ID: evalID, Namespace: ns, JobID: id, TriggeredBy: "job-deregister", Status: "complete", CreateIndex: f.index + 1, ModifyIndex: f.index + 1}
	if purge {
		delete(f.jobs, ns+"/"+id)
	} else {
		j.job.Stop = new(true)
		j.job.Version = new(*j.job.Version + 1)
		j.job.JobModifyIndex = new(f.index + 1)
		j.steps = []step{stepStopAllocs()}
	}
	f.bump()
	f.reply(w, f.index, map[string]any{"EvalID": evalID, "EvalCreateIndex": f.index, "JobModifyIndex": f.index,
		"Index": f.index, "LastContact": 0, "KnownLeader": true})
}

func (f *fakeNomad) jobAllocations(w http.ResponseWriter, r *http.Request, m []string) {
	id := pathParam(m[1])
	q := r.URL.Query()
	all := false
	if s := q.Get("all"); s != "" {
		var err error
		if all, err = strconv.ParseBool(s); err != nil {
			f.fail(w, 400, fmt.Sprintf("failed to parse value of %q (%v) as a bool: %v", "all", s, err))
			return
		}
	}
	ns := q.Get("namespace")
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.jobs[ns+"/"+id]
	f.block(r, j)
	j = f.jobs[ns+"/"+id]
	// Like the state store's AllocsByJob: the current job instance only,
	// unless all is set or the job is gone.
	out := []*nomadapi.AllocationListStub{}
	for _, a := range f.allocs {
		if a.stub.JobID != id || a.stub.Namespace != ns {
			continue
		}
		if !all && j != nil && a.jobCreateIndex != j.createIndex {
			continue
		}
		out = append(out, a.stub)
	}
	f.reply(w, f.index, out)
}

func (f *fakeNomad) readEval(w http.ResponseWriter, r *http.Request, m []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.block(r, nil)
	ev := f.evals[pathParam(m[1])]
	if ev == nil {
		f.fail(w, 404, "eval not found")
		return
	}
	if ns := r.URL.Query().Get("namespace"); ns != ev.Namespace {
		f.report("fake nomad: evaluation %s is in namespace %s, asked in %s", ev.ID, ev.Namespace, ns)
	}
	f.reply(w, f.index, ev)
}

// --- CSI volumes ---

func (f *fakeNomad) storeVolume(v *nomadapi.CSIVolume) *nomadapi.CSIVolume {
	v = clone(v)
	v.ExternalID = "vol-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	v.Provider, v.ProviderVersion = "rbd.csi.ceph.com", "3.9.0"
	v.Schedulable, v.ControllerRequired = true, true
	v.ControllersHealthy, v.ControllersExpected, v.NodesHealthy, v.NodesExpected = 1, 1, 1, 1
	v.Capacity = v.RequestedCapacityMin
	v.ReadAllocs, v.WriteAllocs, v.Allocations = map[string]*nomadapi.Allocation{}, map[string]*nomadapi.Allocation{}, []*nomadapi.AllocationListStub{}
	f.bump()
	v.CreateIndex, v.ModifyIndex = f.index, f.index
	v.CreateTime, v.ModifyTime = time.Now().UnixNano(), time.Now().UnixNano()
	f.volumes[v.Namespace+"/"+v.ID] = v
	return v
}

func (f *fakeNomad) readVolume(w http.ResponseWriter, r *http.Request, m []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.block(r, nil)
	v := f.volumes[r.URL.Query().Get("namespace")+"/"+pathParam(m[1])]
	if v == nil {
		f.fail(w, 404, "volume not found")
		return
	}
	out := clone(v)
	out.Secrets = nil // Nomad never returns secrets
	f.reply(w, f.index, out)
}

func (f *fakeNomad) createVolume(w http.ResponseWriter, r *http.Request, m []string) {
	var req nomadapi.CSIVolumeCreateRequest
	if !f.decode(r, &req) {
		f.fail(w, 400, "bad request")
		return
	}
	id, ns := pathParam(m[1]), r.URL.Query().Get("namespace")
	switch {
	case len(req.Volumes) != 1:
		f.report("fake nomad: create of volume %s sends %d volumes, want 1", id, len(req.Volumes))
		f.fail(w, 400, "exactly one volume required")
		return
	case req.Volumes[0].ID != id:
		f.report("fake nomad: create of volume %s sends volume %s", id, req.Volumes[0].ID)
	case req.Volumes[0].Namespace != ns:
		f.report("fake nomad: volume %s in namespace %q created in namespace %q", id, req.Volumes[0].Namespace, ns)
	}
	v := req.Volumes[0]
	switch {
	case v.PluginID == "":
		f.fail(w, 400, "1 error occurred:\n\t* missing plugin ID\n\n")
		return
	case len(v.RequestedCapabilities) == 0:
		f.fail(w, 400, "1 error occurred:\n\t* must include at least one capability block\n\n")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.volumes[ns+"/"+id] != nil {
		f.fail(w, 500, fmt.Sprintf("volume %q already exists", id))
		return
	}
	created := f.storeVolume(v)
	f.created = append(f.created, clone(v))
	out := clone(created)
	out.Secrets = nil
	f.reply(w, f.index, map[string]any{"Volumes": []*nomadapi.CSIVolume{out}, "Warnings": "",
		"Index": f.index, "LastContact": 0, "KnownLeader": true})
}

func (f *fakeNomad) deleteVolume(w http.ResponseWriter, r *http.Request, m []string) {
	if r.ContentLength > 0 {
		body, _ := io.ReadAll(r.Body)
		if len(bytes.TrimSpace(body)) > 0 && string(bytes.TrimSpace(body)) != "null" {
			f.report("fake nomad: volume delete carries a body: %s", body)
		}
	}
	id, ns := pathParam(m[1]), r.URL.Query().Get("namespace")
	f.mu.Lock()
	defer f.mu.Unlock()
	// Deleting a volume that is gone already succeeds.
	if f.volumes[ns+"/"+id] != nil {
		delete(f.volumes, ns+"/"+id)
		f.deleted = append(f.deleted, ns+"/"+id)
	}
	f.bump()
	// Nomad answers a delete with no body.
	w.Header().Set("X-Nomad-Index", strconv.FormatUint(f.index, 10))
	w.WriteHeader(http.StatusOK)
}

func (f *fakeNomad) listVolumes(w http.ResponseWriter, r *http.Request, _ []string) {
	q := r.URL.Query()
	if q.Get("type") != "csi" {
		f.report("fake nomad: volume list of type %q", q.Get("type"))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.block(r, nil)
	ns := q.Get("namespace")
	out := []*nomadapi.CSIVolumeListStub{}
	for _, key := range slices.Sorted(maps.Keys(f.volumes)) {
		v := f.volumes[key]
		if ns != "*" && v.Namespace != ns {
			continue
		}
		mode, attach := nomadapi.CSIVolumeAccessMode(""), nomadapi.CSIVolumeAttachmentMode("")
		if len(v.RequestedCapabilities) > 0 {
			mode, attach = v.RequestedCapabilities[0].AccessMode, v.RequestedCapabilities[0].AttachmentMode
		}
		out = append(out, &nomadapi.CSIVolumeListStub{
			ID: v.ID, Namespace: v.Namespace, Name: v.Name, ExternalID: v.ExternalID, AccessMode: mode, AttachmentMode: attach,
			Schedulable: v.Schedulable, PluginID: v.PluginID, Provider: v.Provider, ControllerRequired: true,
			ControllersHealthy: 1, ControllersExpected: 1, NodesHealthy: 1, NodesExpected: 1,
			CreateIndex: v.CreateIndex, ModifyIndex: v.ModifyIndex,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreateIndex < out[j].CreateIndex })
	f.reply(w, f.index, out)
}

func (f *fakeNomad) leader(w http.ResponseWriter, _ *http.Request, _ []string) {
	f.mu.Lock()
	index := f.index
	f.mu.Unlock()
	f.reply(w, index, "127.0.0.1:4647")
}

func pathParam(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// clone deep-copies v through JSON.
func clone[T any](v *T) *T {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic(err)
	}
	return out
}
