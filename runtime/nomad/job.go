package nomad

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
)

// blockWait bounds each blocking query while the driver waits for
// allocations; Nomad answers earlier when they change.
const blockWait = 5 * time.Second

// knotJobs is the filter that selects the jobs knot made. The filter runs
// on Nomad's side; a key test cannot fail on jobs without meta.
var knotJobs = fmt.Sprintf("%q in Meta", MetaSpaceID)

// JobID returns the id of the job of a space whose spec names none.
func JobID(spaceID string) string { return "knot-" + spaceID }

// jobs returns the knot jobs in every namespace: those of spaceID, or all
// of them when spaceID is empty; only this driver's location when local is
// set and the driver has one.
func (d *Driver) jobs(ctx context.Context, spaceID string, local bool) ([]*nomadapi.JobListStub, error) {
	q := d.query(ctx, "*")
	q.Filter = knotJobs
	list, _, err := d.cli.Jobs().ListOptions(&nomadapi.JobListOptions{Fields: &nomadapi.JobListFields{Meta: true}}, q)
	if err != nil {
		return nil, d.errorf(err, "listing jobs")
	}
	var out []*nomadapi.JobListStub
	for _, j := range list {
		id := j.Meta[MetaSpaceID]
		switch {
		case id == "", spaceID != "" && id != spaceID:
			continue
		case local && d.location != "" && j.Meta[MetaLocation] != d.location:
			continue
		}
		if j.Namespace == "" {
			j.Namespace = DefaultNamespace
		}
		out = append(out, j)
	}
	return out, nil
}

// --- start ---

// Start parses the spec with Nomad, registers the job and waits until an
// allocation of the new job version runs. Any other job of the space is
// purged first; a job of the space under the same id is updated when it
// runs and replaced otherwise. When the allocation fails, is lost or ctx
// ends first, the job is purged and the error says why.
func (d *Driver) Start(ctx context.Context, w *runtime.Workload) (*runtime.Status, error) {
	if w.SpaceID == "" {
		return nil, shared.Errorf(shared.EINVALID, "nomad: the workload has no space id")
	}
	vols, err := parseVolumes(w.Volumes, d.namespace)
	if err != nil {
		return nil, err
	}
	job, err := d.parse(ctx, w.Spec)
	if err != nil {
		return nil, err
	}
	if err := d.prepare(job, w); err != nil {
		return nil, err
	}
	id, ns := *job.ID, *job.Namespace

	existing, err := d.jobs(ctx, w.SpaceID, false)
	if err != nil {
		return nil, err
	}
	for _, j := range existing {
		if j.ID == id && j.Namespace == ns && !j.Stop && j.Status == "running" {
			continue // updated in place by the registration below
		}
		if err := d.purge(ctx, j.ID, j.Namespace); err != nil {
			return nil, err
		}
		w.Log("removed the previous job %s (namespace %s)", j.ID, j.Namespace)
	}
	cur, _, err := d.cli.Jobs().Info(id, d.query(ctx, ns))
	switch {
	case isNotFound(err):
		cur = nil
	case err != nil:
		return nil, d.errorf(err, "reading job %s in namespace %s", id, ns)
	case cur.Meta[MetaSpaceID] != w.SpaceID:
		return nil, shared.Errorf(shared.ECONFLICT,
			"nomad: job %s in namespace %s exists and was not made by knot for this space; give every space a job id of its own, e.g. job \"${{ .space.id }}\"", id, ns)
	}
	if err := d.ensureVolumes(ctx, w, vols); err != nil {
		return nil, err
	}

	resp, _, err := d.cli.Jobs().Register(job, d.write(ctx, ns))
	if err != nil {
		if cur != nil {
			d.purgeQuietly(id, ns)
		}
		return nil, d.errorf(err, "registering job %s in namespace %s", id, ns)
	}
	d.log.Info("registered job", "space", w.SpaceID, "job", id, "namespace", ns, "eval", resp.EvalID)
	w.Log("registered nomad job %s in namespace %s", id, ns)
	if warn := strings.TrimSpace(resp.Warnings); warn != "" {
		w.Log("nomad: %s", warn)
	}
	st, err := d.waitStarted(ctx, w, id, ns, resp.EvalID)
	if err != nil {
		d.purgeQuietly(id, ns)
		return nil, err
	}
	w.Log("nomad job %s runs", id)
	return st, nil
}

// parse has Nomad turn the HCL job into its JSON form. It posts to the
// endpoint Jobs().ParseHCL uses, with options that carry ctx and the
// namespace, which ParseHCL cannot.
func (d *Driver) parse(ctx context.Context, spec string) (*nomadapi.Job, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, shared.Errorf(shared.EINVALID, "nomad: the job spec is empty")
	}
	var job nomadapi.Job
	_, err := d.cli.Raw().Write("/v1/jobs/parse", &nomadapi.JobsParseRequest{JobHCL: spec}, &job, d.write(ctx, d.namespace))
	if err != nil {
		var re nomadapi.UnexpectedResponseError
		if errors.As(err, &re) && re.StatusCode() == 400 {
			return nil, shared.Wrap(shared.EINVALID, err, "nomad cannot parse the job spec: %s", responseMessage(re))
		}
		return nil, d.errorf(err, "parsing the job spec")
	}
	return &job, nil
}

// prepare names the job, places it in its namespace and adds knot's meta
// and the workload's environment.
func (d *Driver) prepare(job *nomadapi.Job, w *runtime.Workload) error {
	if job.ID == nil || *job.ID == "" {
		job.ID = new(JobID(w.SpaceID))
	}
	if job.Name == nil || *job.Name == "" {
		job.Name = new(*job.ID)
	}
	if job.Namespace == nil || *job.Namespace == "" {
		job.Namespace = new(d.namespace)
	}
	tasks := 0
	for _, tg := range job.TaskGroups {
		for _, t := range tg.Tasks {
			if t.Env == nil {
				t.Env = map[string]string{}
			}
			maps.Copy(t.Env, w.Env)
			tasks++
		}
	}
	if tasks == 0 {
		return shared.Errorf(shared.EINVALID, "nomad: job %s has no task to run", *job.ID)
	}
	if job.Meta == nil {
		job.Meta = map[string]string{}
	}
	job.Meta[MetaSpaceID] = w.SpaceID
	job.Meta[MetaHash] = w.Hash
	if w.SpaceName != "" {
		job.Meta[MetaSpace] = w.SpaceName
	}
	if w.UserName != "" {
		job.Meta[MetaUser] = w.UserName
	}
	if d.location != "" {
		job.Meta[MetaLocation] = d.location
	} else {
		delete(job.Meta, MetaLocation)
	}
	return nil
}

// waitStarted waits until an allocation of the job's current version runs
// and reports it, or returns why none will.
func (d *Driver) waitStarted(ctx context.Context, w *runtime.Workload, id, ns, evalID string) (*runtime.Status, error) {
	job, _, err := d.cli.Jobs().Info(id, d.query(ctx, ns))
	if err != nil {
		return nil, d.errorf(err, "reading job %s", id)
	}
	var version uint64
	if job.Version != nil {
		version = *job.Version
	}
	// The first look does not block: the allocation may run already.
	var index uint64
	seen := map[string]bool{}
	var placement, last string
	evalDone := evalID == ""
	for {
		q := d.query(ctx, ns)
		q.WaitIndex, q.WaitTime = index, blockWait
		allocs, qm, err := d.cli.Jobs().Allocations(id, false, q)
		if err != nil {
			if ctx.Err() != nil {
				return nil, startTimeout(err, id, placement, last)
			}
			if isNotFound(err) {
				return nil, shared.Wrap(shared.EINVALID, err, "nomad: job %s was removed while it started", id)
			}
			return nil, d.errorf(err, "reading the allocations of job %s", id)
		}
		// The next query waits for a change past this answer; an index
		// that went backwards (a new leader) is taken as it is, and 0
		// would not block at all.
		index = max(qm.LastIndex, 1)
		var mine []*nomadapi.AllocationListStub
		for _, a := range allocs {
			if a.JobVersion == version {
				mine = append(mine, a)
			}
		}
		sort.Slice(mine, func(i, j int) bool { return mine[i].CreateIndex > mine[j].CreateIndex })
		if ev := logEvents(w, mine, seen); ev != "" {
			last = ev
		}
		for _, a := range mine {
			if a.ClientStatus == nomadapi.AllocClientStatusRunning {
				return runningStatus(job.Meta, id, a), nil
			}
		}
		for _, a := range mine {
			if a.NextAllocation != "" {
				continue // replaced already
			}
			switch a.ClientStatus {
			case nomadapi.AllocClientStatusFailed, nomadapi.AllocClientStatusComplete:
				reason, _ := allocFailure(a)
				return nil, shared.Errorf(shared.EINVALID, "nomad: job %s did not start: %s", id, reason)
			case nomadapi.AllocClientStatusLost:
				reason, _ := allocFailure(a)
				return nil, shared.Errorf(shared.EUNAVAILABLE, "nomad: job %s did not start: %s", id, reason)
			}
		}
		if len(mine) == 0 && !evalDone {
			ev, _, err := d.cli.Evaluations().Info(evalID, d.query(ctx, ns))
			switch {
			case err != nil && ctx.Err() != nil:
				return nil, startTimeout(err, id, placement, last)
			case err != nil:
				return nil, d.errorf(err, "reading evaluation %s of job %s", evalID, id)
			case ev.Status == "complete" || ev.Status == "failed" || ev.Status == "canceled":
				evalDone = true
				if p := placementFailure(ev); p != "" {
					placement = p
					w.Log("nomad cannot place job %s yet: %s", id, p)
				} else if ev.Status != "complete" {
					placement = fmt.Sprintf("evaluation %s %s: %s", short(evalID), ev.Status, ev.StatusDescription)
				}
			}
		}
	}
}

func startTimeout(err error, id, placement, last string) error {
	why := placement
	if why == "" {
		why = last
	}
	if why == "" {
		why = "no allocation was placed"
	}
	return shared.Wrap(shared.EUNAVAILABLE, err, "nomad: job %s did not start in time: %s", id, why)
}

// logEvents sends task events not seen yet to w.Log and returns the text of
// the latest one.
func logEvents(w *runtime.Workload, allocs []*nomadapi.AllocationListStub, seen map[string]bool) string {
	var last string
	var lastTime int64
	for _, a := range allocs {
		for _, name := range slices.Sorted(maps.Keys(a.TaskStates)) {
			ts := a.TaskStates[name]
			if ts == nil {
				continue
			}
			for _, e := range ts.Events {
				key := fmt.Sprintf("%s/%s/%d/%s", a.ID, name, e.Time, e.Type)
				text := fmt.Sprintf("task %q: %s", name, eventText(e))
				if e.Time >= lastTime {
					last, lastTime = text, e.Time
				}
				if seen[key] {
					continue
				}
				seen[key] = true
				w.Log("nomad: %s", text)
			}
		}
	}
	return last
}

// --- stop and remove ---

// Stop deregisters the space's job without purging it and waits, bounded by
// ctx, until its allocations have stopped. The grace the tasks get is the
// job's kill_timeout (5s unless the spec says otherwise); grace is not used.
func (d *Driver) Stop(ctx context.Context, spaceID string, _ time.Duration) error {
	list, err := d.jobs(ctx, spaceID, false)
	if err != nil {
		return err
	}
	for _, j := range list {
		if !j.Stop {
			if _, _, err := d.cli.Jobs().Deregister(j.ID, false, d.write(ctx, j.Namespace)); err != nil {
				if isNotFound(err) {
					continue
				}
				return d.errorf(err, "stopping job %s", j.ID)
			}
			d.log.Info("stopped job", "space", spaceID, "job", j.ID, "namespace", j.Namespace)
		}
		if err := d.waitStopped(ctx, j.ID, j.Namespace); err != nil {
			return err
		}
	}
	return nil
}

// waitStopped waits until every allocation of the job is terminal.
func (d *Driver) waitStopped(ctx context.Context, id, ns string) error {
	var index uint64
	for {
		q := d.query(ctx, ns)
		q.WaitIndex, q.WaitTime = index, blockWait
		allocs, qm, err := d.cli.Jobs().Allocations(id, false, q)
		switch {
		case isNotFound(err):
			return nil
		case err != nil && ctx.Err() != nil:
			return shared.Wrap(shared.EUNAVAILABLE, err, "nomad: job %s was stopped but its allocations did not stop in time", id)
		case err != nil:
			return d.errorf(err, "reading the allocations of job %s", id)
		}
		live := 0
		for _, a := range allocs {
			if !terminal(a.ClientStatus) {
				live++
			}
		}
		if live == 0 {
			return nil
		}
		index = max(qm.LastIndex, 1)
	}
}

func terminal(clientStatus string) bool {
	switch clientStatus {
	case nomadapi.AllocClientStatusComplete, nomadapi.AllocClientStatusFailed, nomadapi.AllocClientStatusLost:
		return true
	}
	return false
}

// Remove purges the space's jobs; Nomad stops what still runs.
func (d *Driver) Remove(ctx context.Context, spaceID string) error {
	list, err := d.jobs(ctx, spaceID, false)
	if err != nil {
		return err
	}
	for _, j := range list {
		if err := d.purge(ctx, j.ID, j.Namespace); err != nil {
			return err
		}
	}
	return nil
}

func (d *Driver) purge(ctx context.Context, id, ns string) error {
	_, _, err := d.cli.Jobs().Deregister(id, true, d.write(ctx, ns))
	if err != nil && !isNotFound(err) {
		return d.errorf(err, "removing job %s", id)
	}
	d.log.Info("removed job", "job", id, "namespace", ns)
	return nil
}

// purgeQuietly purges a job that failed to start, on a context of its own
// since the caller's may be what failed.
func (d *Driver) purgeQuietly(id, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.purge(ctx, id, ns); err != nil {
		d.log.Warn("removing a job that failed to start", "job", id, "namespace", ns, "err", err)
	}
}

// --- inspect and list ---

// Inspect reports the space's job: running while an allocation runs or is
// being placed or restarted by Nomad, exited once the job was stopped or
// every allocation has ended, missing when there is no job.
func (d *Driver) Inspect(ctx context.Context, spaceID string) (*runtime.Status, error) {
	list, err := d.jobs(ctx, spaceID, false)
	if err != nil {
		return nil, err
	}
	var best *runtime.Status
	for _, j := range list {
		st, err := d.status(ctx, j)
		if err != nil {
			return nil, err
		}
		best = better(best, st)
	}
	if best == nil || best.State == runtime.StateMissing {
		return &runtime.Status{SpaceID: spaceID, State: runtime.StateMissing, Reason: "no job"}, nil
	}
	return best, nil
}

// List reports every knot job of this location.
func (d *Driver) List(ctx context.Context) ([]*runtime.Status, error) {
	list, err := d.jobs(ctx, "", true)
	if err != nil {
		return nil, err
	}
	bySpace := map[string]*runtime.Status{}
	var order []string
	for _, j := range list {
		st, err := d.status(ctx, j)
		if err != nil {
			return nil, err
		}
		if st.State == runtime.StateMissing {
			continue
		}
		if _, ok := bySpace[st.SpaceID]; !ok {
			order = append(order, st.SpaceID)
		}
		bySpace[st.SpaceID] = better(bySpace[st.SpaceID], st)
	}
	out := make([]*runtime.Status, 0, len(order))
	for _, id := range order {
		out = append(out, bySpace[id])
	}
	return out, nil
}

// better picks the status that describes a space with two jobs: a running
// one wins.
func better(a, b *runtime.Status) *runtime.Status {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case b.State == runtime.StateRunning && a.State != runtime.StateRunning:
		return b
	case a.State == runtime.StateMissing:
		return b
	}
	return a
}

// status reports one knot job from its list entry and its allocations.
func (d *Driver) status(ctx context.Context, j *nomadapi.JobListStub) (*runtime.Status, error) {
	st := &runtime.Status{SpaceID: j.Meta[MetaSpaceID], ID: j.ID, Hash: j.Meta[MetaHash], State: runtime.StateExited}
	if j.Stop {
		st.Reason = "job was stopped"
		return st, nil
	}
	allocs, _, err := d.cli.Jobs().Allocations(j.ID, false, d.query(ctx, j.Namespace))
	if isNotFound(err) {
		st.State, st.Reason = runtime.StateMissing, "no job"
		return st, nil
	}
	if err != nil {
		return nil, d.errorf(err, "reading the allocations of job %s", j.ID)
	}
	jobStatus(st, j.Status, allocs)
	return st, nil
}

// jobStatus fills st from the job's status and allocations.
func jobStatus(st *runtime.Status, status string, allocs []*nomadapi.AllocationListStub) {
	allocs = slices.Clone(allocs)
	sort.Slice(allocs, func(i, j int) bool { return allocs[i].CreateIndex > allocs[j].CreateIndex })
	var pending *nomadapi.AllocationListStub
	for _, a := range allocs {
		if a.DesiredStatus != nomadapi.AllocDesiredStatusRun {
			continue
		}
		switch a.ClientStatus {
		case nomadapi.AllocClientStatusRunning:
			*st = *runningStatus(map[string]string{MetaSpaceID: st.SpaceID, MetaHash: st.Hash}, st.ID, a)
			return
		case nomadapi.AllocClientStatusPending, nomadapi.AllocClientStatusUnknown:
			if pending == nil {
				pending = a
			}
		}
	}
	if pending != nil {
		st.State = runtime.StateRunning
		st.Reason = "allocation " + pending.ClientStatus
		if e := latestEvent(pending); e != "" {
			st.Reason += ": " + e
		}
		return
	}
	// The allocation Nomad last meant to run says best why the job ended.
	for _, wanted := range []bool{true, false} {
		for _, a := range allocs {
			if terminal(a.ClientStatus) && (a.DesiredStatus == nomadapi.AllocDesiredStatusRun) == wanted {
				st.State = runtime.StateExited
				st.Reason, st.ExitCode = allocFailure(a)
				return
			}
		}
	}
	if status == "dead" {
		st.State, st.ExitCode, st.Reason = runtime.StateExited, -1, "job is dead and has no allocation"
		return
	}
	st.State, st.Reason = runtime.StateRunning, "waiting for nomad to place the job"
}

// runningStatus reports a running allocation of a job with meta.
func runningStatus(meta map[string]string, id string, a *nomadapi.AllocationListStub) *runtime.Status {
	st := &runtime.Status{SpaceID: meta[MetaSpaceID], State: runtime.StateRunning, ID: id, Hash: meta[MetaHash]}
	for _, ts := range a.TaskStates {
		if ts != nil && ts.StartedAt.After(st.StartedAt) {
			st.StartedAt = ts.StartedAt
		}
	}
	return st
}

// causes are the task events that say why a task stopped, in preference
// to those that only say Nomad gave up on it.
var causes = map[string]bool{
	nomadapi.TaskDriverFailure:          true,
	nomadapi.TaskSetupFailure:           true,
	nomadapi.TaskFailedValidation:       true,
	nomadapi.TaskArtifactDownloadFailed: true,
	nomadapi.TaskTerminated:             true,
	"Task hook failed":                  true,
}

// allocFailure says why an allocation ended and with which exit code (-1
// when no task reported one).
func allocFailure(a *nomadapi.AllocationListStub) (string, int) {
	if a.ClientStatus == nomadapi.AllocClientStatusLost {
		reason := "job's allocation was lost"
		if a.ClientDescription != "" {
			reason += ": " + a.ClientDescription
		}
		return reason, -1
	}
	verb := "job failed"
	if a.ClientStatus == nomadapi.AllocClientStatusComplete {
		verb = "job finished"
	}
	names := slices.Sorted(maps.Keys(a.TaskStates))
	// Tasks that failed first, then the others.
	sort.SliceStable(names, func(i, j int) bool {
		fi := a.TaskStates[names[i]] != nil && a.TaskStates[names[i]].Failed
		fj := a.TaskStates[names[j]] != nil && a.TaskStates[names[j]].Failed
		return fi && !fj
	})
	for _, name := range names {
		ts := a.TaskStates[name]
		if ts == nil {
			continue
		}
		code := -1
		for i := len(ts.Events) - 1; i >= 0; i-- {
			if e := ts.Events[i]; e.Type == nomadapi.TaskTerminated {
				code = e.ExitCode
				break
			}
		}
		for i := len(ts.Events) - 1; i >= 0; i-- {
			if e := ts.Events[i]; causes[e.Type] {
				return fmt.Sprintf("%s: task %q: %s", verb, name, eventText(e)), code
			}
		}
		if n := len(ts.Events); n > 0 {
			return fmt.Sprintf("%s: task %q: %s", verb, name, eventText(ts.Events[n-1])), code
		}
	}
	if a.ClientDescription != "" {
		return verb + ": " + a.ClientDescription, -1
	}
	return verb, -1
}

// latestEvent is the text of the allocation's most recent task event.
func latestEvent(a *nomadapi.AllocationListStub) string {
	var text string
	var at int64
	for _, name := range slices.Sorted(maps.Keys(a.TaskStates)) {
		ts := a.TaskStates[name]
		if ts == nil {
			continue
		}
		for _, e := range ts.Events {
			if e.Time >= at {
				text, at = fmt.Sprintf("task %q: %s", name, eventText(e)), e.Time
			}
		}
	}
	return text
}

// eventText renders a task event the way Nomad's CLI does: its type and
// what it says.
func eventText(e *nomadapi.TaskEvent) string {
	var msg string
	switch e.Type {
	case nomadapi.TaskTerminated:
		msg = fmt.Sprintf("exited with code %d", e.ExitCode)
		if e.Signal != 0 {
			msg += fmt.Sprintf(", signal %d", e.Signal)
		}
		if e.Message != "" {
			msg += " (" + e.Message + ")"
		}
		return msg
	case nomadapi.TaskDriverFailure:
		msg = e.DriverError
	case nomadapi.TaskSetupFailure:
		msg = e.SetupError
	case nomadapi.TaskFailedValidation:
		msg = e.ValidationError
	case nomadapi.TaskArtifactDownloadFailed:
		msg = e.DownloadError
	case nomadapi.TaskKilled:
		msg = e.KillError
	case nomadapi.TaskDriverMessage:
		msg = e.DriverMessage
	case nomadapi.TaskRestarting, nomadapi.TaskNotRestarting:
		msg = e.RestartReason
	case nomadapi.TaskSiblingFailed:
		if e.FailedSibling != "" {
			msg = fmt.Sprintf("task %q failed", e.FailedSibling)
		}
	}
	if msg == "" {
		msg = e.DisplayMessage
	}
	if msg == "" {
		msg = e.Message
	}
	if msg == "" {
		return e.Type
	}
	return e.Type + ": " + msg
}

// placementFailure says why an evaluation could not place allocations, or
// "" when it placed them all.
func placementFailure(ev *nomadapi.Evaluation) string {
	var parts []string
	for _, tg := range slices.Sorted(maps.Keys(ev.FailedTGAllocs)) {
		m := ev.FailedTGAllocs[tg]
		if m == nil {
			continue
		}
		var why []string
		if m.NodesEvaluated == 0 && m.NodesInPool == 0 {
			why = append(why, "no node is eligible (check datacenters and node_pool)")
		}
		for _, k := range slices.Sorted(maps.Keys(m.ConstraintFiltered)) {
			why = append(why, fmt.Sprintf("constraint %s filtered %d node(s)", k, m.ConstraintFiltered[k]))
		}
		for _, k := range slices.Sorted(maps.Keys(m.ClassFiltered)) {
			why = append(why, fmt.Sprintf("class %s filtered %d node(s)", k, m.ClassFiltered[k]))
		}
		for _, k := range slices.Sorted(maps.Keys(m.DimensionExhausted)) {
			why = append(why, fmt.Sprintf("%s exhausted on %d node(s)", k, m.DimensionExhausted[k]))
		}
		for _, q := range m.QuotaExhausted {
			why = append(why, "quota exhausted: "+q)
		}
		if len(why) == 0 {
			why = append(why, fmt.Sprintf("%d node(s) evaluated, none fits", m.NodesEvaluated))
		}
		parts = append(parts, fmt.Sprintf("task group %q: %s", tg, strings.Join(why, "; ")))
	}
	return strings.Join(parts, "; ")
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
