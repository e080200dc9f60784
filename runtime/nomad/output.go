package nomad

import (
	"bytes"
	"context"
	"io"
	"sort"
	"strconv"
	"strings"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
)

var _ runtime.OutputReader = (*Driver)(nil)

// outputTail is how much of the end of each task log Output reads.
const outputTail = 16 << 10

// Output returns the last lines, at most max, of the task logs (standard
// output, then standard error, of each task by name) of the space's
// running allocation, or of its latest one when none runs, read through
// Nomad's client API (/v1/client/fs/logs). Nomad gives no times, so the
// lines carry none.
func (d *Driver) Output(ctx context.Context, spaceID string, max int) ([]runtime.OutputLine, error) {
	jobs, err := d.jobs(ctx, spaceID, false)
	if err != nil {
		return nil, err
	}
	var alloc *nomadapi.AllocationListStub
	for _, j := range jobs {
		allocs, _, err := d.cli.Jobs().Allocations(j.ID, false, d.query(ctx, j.Namespace))
		if err != nil && !isNotFound(err) {
			return nil, d.errorf(err, "reading the allocations of job %s", j.ID)
		}
		for _, a := range allocs {
			if alloc == nil || rank(a) > rank(alloc) {
				alloc = a
			}
		}
	}
	if alloc == nil {
		return nil, shared.Errorf(shared.ENOTFOUND, "nomad: space %s has no allocation", spaceID)
	}
	tasks := make([]string, 0, len(alloc.TaskStates))
	for name := range alloc.TaskStates {
		tasks = append(tasks, name)
	}
	sort.Strings(tasks)
	var out []runtime.OutputLine
	for _, task := range tasks {
		for _, typ := range []string{"stdout", "stderr"} {
			lines, err := d.taskLog(ctx, alloc, task, typ, max)
			if err != nil {
				return nil, err
			}
			out = append(out, lines...)
		}
	}
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return out, nil
}

// rank orders allocations for Output: a running one first, then the
// latest.
func rank(a *nomadapi.AllocationListStub) uint64 {
	r := a.CreateIndex
	if a.ClientStatus == nomadapi.AllocClientStatusRunning {
		r += 1 << 62
	}
	return r
}

// taskLog reads the last lines, at most max, of one task log.
func (d *Driver) taskLog(ctx context.Context, a *nomadapi.AllocationListStub, task, typ string, max int) ([]runtime.OutputLine, error) {
	q := d.query(ctx, a.Namespace)
	q.Params = map[string]string{
		"task": task, "type": typ, "origin": "end", "offset": strconv.Itoa(outputTail), "plain": "true", "follow": "false",
	}
	rc, err := d.cli.Raw().Response("/v1/client/fs/logs/"+a.ID, q)
	if err != nil {
		return nil, d.errorf(err, "reading the %s of task %s of allocation %s", typ, task, short(a.ID))
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, outputTail+1))
	if err != nil {
		return nil, d.errorf(err, "reading the %s of task %s of allocation %s", typ, task, short(a.ID))
	}
	if len(b) >= outputTail {
		// The first line may be cut.
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	text := strings.TrimRight(string(b), "\n")
	if text == "" {
		return nil, nil
	}
	all := strings.Split(text, "\n")
	all = all[len(all)-min(max, len(all)):]
	out := make([]runtime.OutputLine, 0, len(all))
	for _, l := range all {
		out = append(out, runtime.OutputLine{Source: "task " + task + " " + typ, Text: strings.TrimSuffix(l, "\r")})
	}
	return out, nil
}
