package nomad_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// These tests keep the fake honest: each sends one endpoint a request the
// way Nomad's API documentation shows it and checks the answer has the
// documented shape, without the driver in between.

// call sends one request to the fake with the test token and returns the
// status, the X-Nomad-Index header and the body.
func call(t *testing.T, f *fakeNomad, method, path, body string) (int, string, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Nomad-Token", f.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Nomad-Index"), string(b)
}

func mustJSON(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, body)
	}
}

func TestFakeParsesKnownSpecsAndRefusesOthersWith400(t *testing.T) {
	f := newFakeNomad(t, testToken)
	hcl := setupSpec(f, "example", "")
	f.ParseFails("job {", 400, `input.hcl:1,5-6: Missing name for job; All job blocks must have 1 labels (name).`)
	body, _ := json.Marshal(map[string]any{"JobHCL": hcl, "Canonicalize": false})
	code, _, out := call(t, f, "POST", "/v1/jobs/parse?namespace=default", string(body))
	var job struct{ ID, Name string }
	mustJSON(t, out, &job)
	if code != 200 || job.ID != "example" || job.Name != "example" {
		t.Errorf("parse = %d %s", code, out)
	}
	body, _ = json.Marshal(map[string]any{"JobHCL": "job {"})
	if code, _, out := call(t, f, "PUT", "/v1/jobs/parse?namespace=default", string(body)); code != 400 || !strings.Contains(out, "Missing name for job") {
		t.Errorf("bad parse = %d %s", code, out)
	}
}

func TestFakeRegisterCreatesAJobWithAnEvaluation(t *testing.T) {
	f := newFakeNomad(t, testToken)
	payload := `{"Job": {"ID": "cache", "Namespace": "default", "Datacenters": ["dc1"], "TaskGroups": [{"Name": "cache",
		"Tasks": [{"Name": "redis", "Driver": "docker", "Config": {"image": "redis:7"}}]}]}}`
	code, index, out := call(t, f, "POST", "/v1/jobs?namespace=default", payload)
	var resp struct {
		EvalID         string
		JobModifyIndex uint64
	}
	mustJSON(t, out, &resp)
	if code != 200 || resp.EvalID == "" || resp.JobModifyIndex == 0 || index == "" {
		t.Fatalf("register = %d %s (index %q)", code, out, index)
	}
	// The evaluation waits for the scheduler, which runs when someone
	// waits on the job.
	var statuses []string
	for _, path := range []string{"", "/v1/job/cache/allocations?namespace=default&index=" + index + "&wait=1000ms"} {
		if path != "" {
			call(t, f, "GET", path, "")
		}
		code, _, out = call(t, f, "GET", "/v1/evaluation/"+resp.EvalID+"?namespace=default&related=true", "")
		var ev struct{ Status, TriggeredBy, JobID string }
		mustJSON(t, out, &ev)
		if code != 200 || ev.TriggeredBy != "job-register" || ev.JobID != "cache" {
			t.Errorf("evaluation = %d %s", code, out)
		}
		statuses = append(statuses, ev.Status)
	}
	if got := strings.Join(statuses, " "); got != "pending complete" {
		t.Errorf("evaluation went %s, want pending then complete", got)
	}
}

func TestFakeReadsAJobOr404(t *testing.T) {
	f := newFakeNomad(t, testToken)
	_, job := jobSpec("web", "default")
	f.PutJob(job)
	code, _, out := call(t, f, "GET", "/v1/job/web?namespace=default", "")
	var got struct{ ID, Status string }
	mustJSON(t, out, &got)
	if code != 200 || got.ID != "web" || got.Status != "running" {
		t.Errorf("read = %d %s", code, out)
	}
	if code, _, out := call(t, f, "GET", "/v1/job/nope?namespace=default", ""); code != 404 || out != "job not found" {
		t.Errorf("read missing = %d %q", code, out)
	}
}

func TestFakeListsJobsAcrossNamespacesFilteredOnMeta(t *testing.T) {
	f := newFakeNomad(t, testToken)
	f.AddNamespace("team-a")
	_, plain := jobSpec("plain", "default")
	_, tagged := jobSpec("tagged", "team-a")
	tagged.Meta = map[string]string{"knot_space_id": "s1"}
	f.PutJob(plain)
	f.PutJob(tagged)
	code, _, out := call(t, f, "GET", `/v1/jobs?namespace=*&meta=true&filter=`+urlQuery(`"knot_space_id" in Meta`), "")
	var list []struct {
		ID, Namespace, Status string
		Meta                  map[string]string
		JobSummary            struct {
			Summary map[string]struct{ Running int }
		}
	}
	mustJSON(t, out, &list)
	if code != 200 || len(list) != 1 || list[0].ID != "tagged" || list[0].Namespace != "team-a" || list[0].Meta["knot_space_id"] != "s1" ||
		list[0].JobSummary.Summary["dev"].Running != 1 {
		t.Errorf("list = %d %s", code, out)
	}
}

func TestFakeBlockingAllocationQueriesMoveTheJobOn(t *testing.T) {
	f := newFakeNomad(t, testToken)
	call(t, f, "POST", "/v1/jobs?namespace=default", `{"Job": {"ID": "web", "Namespace": "default", "TaskGroups": [{"Name": "web", "Tasks": [{"Name": "srv", "Driver": "docker"}]}]}}`)
	code, index, out := call(t, f, "GET", "/v1/job/web/allocations?namespace=default", "")
	if code != 200 || out != "[]" {
		t.Fatalf("allocations before any wait = %d %s", code, out)
	}
	var states []string
	for range 2 {
		code, index, out = call(t, f, "GET", "/v1/job/web/allocations?all=false&namespace=default&index="+index+"&wait=1000ms", "")
		var allocs []struct {
			ClientStatus string
			JobVersion   uint64
			TaskStates   map[string]struct{ State string }
		}
		mustJSON(t, out, &allocs)
		if code != 200 || len(allocs) != 1 {
			t.Fatalf("allocations = %d %s", code, out)
		}
		states = append(states, allocs[0].ClientStatus+"/"+allocs[0].TaskStates["srv"].State)
	}
	if got := strings.Join(states, " "); got != "pending/pending running/running" {
		t.Errorf("allocation went %s, want pending then running", got)
	}
}

func TestFakeDeregisterStopsOrPurges(t *testing.T) {
	f := newFakeNomad(t, testToken)
	_, job := jobSpec("web", "default")
	f.PutJob(job)
	code, _, out := call(t, f, "DELETE", "/v1/job/web?namespace=default&purge=false", "")
	var resp struct{ EvalID string }
	mustJSON(t, out, &resp)
	if code != 200 || resp.EvalID == "" {
		t.Fatalf("stop = %d %s", code, out)
	}
	if j := f.Job("default", "web"); j == nil || !*j.Stop {
		t.Errorf("after purge=false the job is %v, want stopped", j)
	}
	if code, _, _ := call(t, f, "DELETE", "/v1/job/web?namespace=default&purge=true", ""); code != 200 || f.Job("default", "web") != nil {
		t.Errorf("purge = %d, job %v", code, f.Job("default", "web"))
	}
}

func TestFakeCSIVolumeEndpoints(t *testing.T) {
	f := newFakeNomad(t, testToken)
	payload := `{"Volumes": [{"ID": "volume-id1", "Name": "volume one", "Namespace": "default", "PluginID": "plugin-id1",
		"MountOptions": {"FsType": "ext4", "MountFlags": ["ro", "noatime"]}, "RequestedCapacityMin": 10737418240, "RequestedCapacityMax": 21474836480,
		"RequestedCapabilities": [{"AccessMode": "single-node-writer", "AttachmentMode": "file-system"}], "Secrets": {"password": "xyzzy"}}]}`
	code, _, out := call(t, f, "PUT", "/v1/volume/csi/volume-id1/create?namespace=default", payload)
	var created struct {
		Volumes []struct{ ID, ExternalID string }
	}
	mustJSON(t, out, &created)
	if code != 200 || len(created.Volumes) != 1 || created.Volumes[0].ExternalID == "" {
		t.Fatalf("create = %d %s", code, out)
	}
	code, _, out = call(t, f, "GET", "/v1/volume/csi/volume-id1?namespace=default", "")
	if code != 200 || !strings.Contains(out, `"PluginID":"plugin-id1"`) || strings.Contains(out, "xyzzy") {
		t.Errorf("read = %d %s (secrets must not show)", code, out)
	}
	code, _, out = call(t, f, "GET", "/v1/volumes?type=csi&namespace=*", "")
	if code != 200 || !strings.Contains(out, `"ID":"volume-id1"`) {
		t.Errorf("list = %d %s", code, out)
	}
	for i := range 2 {
		if code, _, _ := call(t, f, "DELETE", "/v1/volume/csi/volume-id1/delete?namespace=default", ""); code != 200 {
			t.Errorf("delete #%d = %d", i+1, code)
		}
	}
	if code, _, out := call(t, f, "GET", "/v1/volume/csi/volume-id1?namespace=default", ""); code != 404 || out != "volume not found" {
		t.Errorf("read deleted = %d %q", code, out)
	}
}

func TestFakeAnswersTheLeader(t *testing.T) {
	f := newFakeNomad(t, testToken)
	if code, _, out := call(t, f, "GET", "/v1/status/leader", ""); code != 200 || out != `"127.0.0.1:4647"` {
		t.Errorf("leader = %d %s", code, out)
	}
}

func TestFakeReportsWhatNomadWouldNotExpect(t *testing.T) {
	for _, tt := range []struct {
		name, method, path, body, token, want string
	}{
		{"WrongToken", "GET", "/v1/status/leader", "", "other", "carries token"},
		{"UnknownPath", "GET", "/v1/nodes", "", testToken, "unexpected request"},
		{"UnknownParameter", "GET", "/v1/job/x?namespace=default&pretty=1", "", testToken, `unexpected parameter "pretty"`},
		{"NoNamespace", "GET", "/v1/job/x", "", testToken, "names no namespace"},
		{"UnknownBodyField", "POST", "/v1/jobs/parse?namespace=default", `{"JobHCL": "x", "Hcl": 1}`, testToken, "does not decode"},
		{"UnknownFilter", "GET", "/v1/jobs?namespace=*&filter=" + urlQuery(`Meta.x == "y"`), "", testToken, "filter"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeNomad(t, testToken)
			var mu sync.Mutex
			var reports []string
			f.report = func(format string, args ...any) {
				mu.Lock()
				defer mu.Unlock()
				reports = append(reports, fmt.Sprintf(format, args...))
			}
			req, _ := http.NewRequest(tt.method, f.URL()+tt.path, strings.NewReader(tt.body))
			req.Header.Set("X-Nomad-Token", tt.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			if !strings.Contains(strings.Join(reports, "\n"), tt.want) {
				t.Errorf("reports = %q, want one about %q", reports, tt.want)
			}
		})
	}
}

func urlQuery(s string) string {
	return strings.NewReplacer("%", "%25", " ", "%20", `"`, "%22", "=", "%3D", "&", "%26").Replace(s)
}
