package nomad_test

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/runtime/nomad"
	"github.com/knot-dev/knot/shared"
)

const testToken = "6f3ad4a0-4b7d-4a51-9a43-3a4f1b0c2e11"

// jobSpec returns an HCL job with one group "dev" of the given tasks, and
// the job Nomad's parser makes of it (Canonicalize false: only what the
// HCL says). An empty ns leaves the namespace out.
func jobSpec(id, ns string, tasks ...string) (string, *nomadapi.Job) {
	if len(tasks) == 0 {
		tasks = []string{"dev"}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "job %q {\n", id)
	if ns != "" {
		fmt.Fprintf(&b, "  namespace = %q\n", ns)
	}
	b.WriteString("  datacenters = [\"dc1\"]\n  group \"dev\" {\n")
	job := &nomadapi.Job{ID: new(id), Name: new(id), Datacenters: []string{"dc1"}}
	if ns != "" {
		job.Namespace = new(ns)
	}
	tg := &nomadapi.TaskGroup{Name: new("dev")}
	for _, t := range tasks {
		fmt.Fprintf(&b, "    task %q {\n      driver = \"docker\"\n      config {\n        image = \"ghcr.io/knot-dev/base:24.04\"\n      }\n", t)
		b.WriteString("      env {\n        GREETING = \"hello\"\n        KNOT_SPACE_ID = \"not-the-space-id\"\n      }\n")
		b.WriteString("      resources {\n        cpu    = 300\n        memory = 512\n      }\n    }\n")
		tg.Tasks = append(tg.Tasks, &nomadapi.Task{
			Name:      t,
			Driver:    "docker",
			Config:    map[string]any{"image": "ghcr.io/knot-dev/base:24.04"},
			Env:       map[string]string{"GREETING": "hello", "KNOT_SPACE_ID": "not-the-space-id"},
			Resources: &nomadapi.Resources{CPU: new(300), MemoryMB: new(512)},
		})
	}
	b.WriteString("  }\n}\n")
	job.TaskGroups = []*nomadapi.TaskGroup{tg}
	return b.String(), job
}

// setupSpec registers the spec with the fake's parser and returns it.
func setupSpec(f *fakeNomad, id, ns string, tasks ...string) string {
	hcl, job := jobSpec(id, ns, tasks...)
	f.Parses(hcl, job)
	return hcl
}

// logLines collects a workload's progress lines.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// workload returns a workload of a new space with spec.
func workload(spec string) (*runtime.Workload, *logLines) {
	id := uuid.NewString()
	logs := &logLines{}
	return &runtime.Workload{
		SpaceID:   id,
		SpaceName: "dev",
		UserName:  "alice",
		Spec:      spec,
		Hash:      "hash-1",
		Env: map[string]string{
			runtime.EnvAgentEndpoint: "127.0.0.1:3010",
			runtime.EnvSpaceID:       id,
			runtime.EnvAgentToken:    "agent-token-1",
		},
		Logf: logs.logf,
	}, logs
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newDriver returns a driver on the fake for location.
func newDriver(t *testing.T, f *fakeNomad, location string) *nomad.Driver {
	t.Helper()
	d, err := nomad.New(nomad.Options{Addr: f.URL(), Token: f.token, Location: location, Logger: quiet})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// mustCode fails unless err is a *shared.Error with code whose message
// contains every one of parts.
func mustCode(t *testing.T, err error, code string, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := shared.ErrorCode(err); got != code {
		t.Fatalf("error code = %s, want %s (%v)", got, code, err)
	}
	msg := shared.ErrorMessage(err)
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error message %q does not contain %q", msg, p)
		}
	}
}
