package nomad_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
	"gopkg.in/yaml.v3"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/shared"
)

// The Nomad files of knot scaffold, as it prints them (cmd/knot checks
// that these copies are current).
const (
	scaffoldServerJob = "testdata/scaffold/knot-server.nomad"
	scaffoldTemplate  = "testdata/scaffold/nomad-template.yaml"
)

func readScaffold(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// renderedScaffoldSpace returns the spec of knot scaffold --nomad-template
// rendered for alice's space "dev", as knot renders it at a start.
func renderedScaffoldSpace(t *testing.T) string {
	t.Helper()
	var file struct{ Kind, Spec string }
	if err := yaml.Unmarshal([]byte(readScaffold(t, scaffoldTemplate)), &file); err != nil {
		t.Fatal(err)
	}
	if file.Kind != "nomad" {
		t.Fatalf("the template's kind is %q", file.Kind)
	}
	spec, err := runtime.Render(`template "nomad-dev"`, file.Spec, &runtime.RenderData{
		Space:    &shared.Space{Meta: shared.Meta{ID: "0193f1c2-0000-7000-8000-000000000001"}, Name: "dev"},
		User:     &shared.User{Meta: shared.Meta{ID: "0193f1c2-0000-7000-8000-000000000002"}, Username: "alice", Timezone: "Europe/London"},
		Template: &shared.Template{Meta: shared.Meta{ID: "0193f1c2-0000-7000-8000-000000000003"}, Name: "nomad-dev"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// The space job of knot scaffold --nomad-template parses, and the driver
// runs it on the fake Nomad as a space: registered with knot's
// environment, running.
func TestScaffoldSpaceJobRunsOnNomad(t *testing.T) {
	spec := renderedScaffoldSpace(t)
	job, err := parseJobspec(spec)
	if err != nil {
		t.Fatalf("the rendered job does not parse: %v\n%s", err, spec)
	}
	f := newFakeNomad(t, testToken)
	f.Parses(spec, job)
	d := newDriver(t, f, "")
	w, logs := workload(spec)

	st := mustStart(t, d, w)

	if st.State != runtime.StateRunning || st.ID != "alice-dev" {
		t.Fatalf("Start = %+v; log:\n%s", st, logs)
	}
	reg := f.Registered()
	if len(reg) != 1 || len(reg[0].TaskGroups) != 1 || len(reg[0].TaskGroups[0].Tasks) != 1 {
		t.Fatalf("registered %+v", reg)
	}
	task := reg[0].TaskGroups[0].Tasks[0]
	if task.Driver != "docker" || task.Config["image"] != "debian:bookworm" || task.Config["hostname"] != "dev" ||
		task.Env["TZ"] != "Europe/London" || task.Env[runtime.EnvSpaceID] != w.SpaceID || task.Env[runtime.EnvAgentToken] == "" {
		t.Errorf("the space's task: driver %s, config %v, env %v", task.Driver, task.Config, task.Env)
	}
}

// registerJob submits job to the fake's job register endpoint as `nomad
// job run` does, in namespace default, and returns the status and answer.
func registerJob(t *testing.T, f *fakeNomad, job *nomadapi.Job) (int, string) {
	t.Helper()
	job.Namespace = new("default")
	body, err := json.Marshal(nomadapi.JobRegisterRequest{Job: job})
	if err != nil {
		t.Fatal(err)
	}
	code, _, out := call(t, f, "PUT", "/v1/jobs?namespace=default", string(body))
	return code, out
}

// The job of knot scaffold --nomad, which runs knot itself, parses and
// Nomad's register endpoint accepts it as written.
func TestScaffoldServerJobIsAcceptedByNomad(t *testing.T) {
	job, err := parseJobspec(readScaffold(t, scaffoldServerJob))
	if err != nil {
		t.Fatalf("the job does not parse: %v", err)
	}
	f := newFakeNomad(t, testToken)
	if code, out := registerJob(t, f, job); code != 200 {
		t.Fatalf("register = %d %s", code, out)
	}
	got := f.Job("default", "knot-server")
	if got == nil || len(got.TaskGroups) != 1 {
		t.Fatalf("registered %+v", got)
	}
	tg := got.TaskGroups[0]
	var services []string
	for _, s := range tg.Services {
		services = append(services, s.Name+":"+s.PortLabel)
	}
	task := tg.Tasks[0]
	if !slices.Equal(services, []string{"knot-server:http", "knot-server-agent:agent"}) || task.Driver != "exec" ||
		task.Config["command"] != "/usr/local/bin/knot" || task.Env["KNOT_LOCATION"] != "${node.datacenter}" ||
		len(task.VolumeMounts) != 1 || *task.VolumeMounts[0].Volume != "knot-data" || tg.Volumes["knot-data"] == nil {
		t.Errorf("registered services %v, task %+v", services, task)
	}
}

// A job broken the ways a hand edit breaks one fails: in the parser, or at
// registration with Nomad's reason.
func TestScaffoldServerJobBrokenIsRefused(t *testing.T) {
	src := readScaffold(t, scaffoldServerJob)
	for _, tc := range []struct {
		name, old, new string
		parse          bool // the parser refuses it; else the register endpoint does
		want           string
	}{
		{"unknown argument", `driver = "exec"`, `drivr = "exec"`, true, `An argument named "drivr" is not expected here`},
		{"unclosed block", "\n}\n", "\n", true, "Unclosed configuration block"},
		{"no driver", `driver = "exec"`, ``, false, "Task server validation failed: Missing task driver"},
		{"undefined volume", `volume      = "knot-data"`, `volume      = "knot-dat"`, false, "references undefined volume knot-dat"},
		{"undefined port", `port = "agent"`, `port = "agnt"`, false, `Port label "agnt" referenced by service knot-server-agent does not exist`},
		{"same static port", `static = 3010`, `static = 3000`, false, "Static port 3000 already reserved by http"},
		{"check without path", `path     = "/health"`, ``, false, "http type must have http path"},
		{"too little memory", `memory = 512`, `memory = 5`, false, "minimum MemoryMB value is 10; got 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(src, tc.old) {
				t.Fatalf("the job no longer holds %q", tc.old)
			}
			job, err := parseJobspec(strings.Replace(src, tc.old, tc.new, 1))
			if tc.parse {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("parse error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			f := newFakeNomad(t, testToken)
			if code, out := registerJob(t, f, job); code != 400 || !strings.Contains(out, tc.want) {
				t.Errorf("register = %d %q, want 400 with %q", code, out, tc.want)
			}
			if f.Job("default", "knot-server") != nil {
				t.Error("the refused job was stored")
			}
		})
	}
}

// The space job, broken, is refused at its start with Nomad's reason.
func TestScaffoldSpaceJobBrokenFailsToStart(t *testing.T) {
	spec := strings.Replace(renderedScaffoldSpace(t), `driver = "docker"`, ``, 1)
	job, err := parseJobspec(spec)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	f := newFakeNomad(t, testToken)
	f.Parses(spec, job)
	d := newDriver(t, f, "")
	w, _ := workload(spec)

	_, err = d.Start(ctxTimeout(t, 10*time.Second), w)

	mustCode(t, err, shared.EINVALID, "Missing task driver")
}
