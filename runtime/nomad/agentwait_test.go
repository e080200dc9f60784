package nomad_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/runtime/runtimetest"
	"github.com/knot-dev/knot/shared"
)

// The agent task of a Nomad space cannot reach the leaf: the space's log
// says so after the grace period, with what the task printed, read from
// the allocation's task logs.
func TestSpaceLogSaysWhyTheAgentOfANomadSpaceDoesNotConnect(t *testing.T) {
	f := newFakeNomad(t, testToken)
	d := newDriver(t, f, "loc-a")
	recs := runtimetest.NewRecords()
	m, err := runtime.NewManager(runtime.Options{
		Records:           recs,
		Nomad:             d,
		Server:            runtime.ServerInfo{URL: "https://knot.test/", AgentEndpoint: "127.0.0.1:3010", Location: "loc-a", Timezone: "UTC"},
		AgentConnected:    func(string) bool { return false },
		AgentGrace:        300 * time.Millisecond,
		ReconcileInterval: 50 * time.Millisecond,
		Logger:            quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := recs.PutTemplate(&shared.Template{Name: "nomad-dev", Kind: shared.TemplateNomad, Spec: "job \"dev\" {}\n"})
	s := recs.AddSpace(recs.AddUser("alice"), tmpl, "dev")
	_, job := jobSpec("dev", "", "ide", "agent")
	f.Parses("job \"dev\" {}\n", job)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	defer func() { cancel(); <-done }()
	if err := m.Start(ctx, s.ID); err != nil {
		t.Fatalf("Start: %v", err)
	}
	f.Prints("dev", "ide", "stdout", "ide listening on :8080\n")
	f.Prints("dev", "agent", "stderr", `level=WARN msg="agent link down; dialling again" err="127.0.0.1:3010: dial tcp 127.0.0.1:3010: connect: connection refused"`+"\n")
	go func() { done <- m.Run(ctx) }()

	var text string
	runtimetest.WaitFor(t, 10*time.Second, "the space's log to say why the agent does not connect", func() bool {
		var b strings.Builder
		for _, l := range m.Logs(s.ID) {
			b.WriteString(l.Level + " " + l.Text + "\n")
		}
		text = b.String()
		return strings.Contains(text, "dial tcp")
	})
	for _, want := range []string{
		"error the agent has not connected ",
		"It dials 127.0.0.1:3010 from inside the space",
		"info [space task ide stdout] ide listening on :8080\n",
		`info [space task agent stderr] level=WARN msg="agent link down; dialling again" err="127.0.0.1:3010: dial tcp 127.0.0.1:3010: connect: connection refused"` + "\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the space's log lacks %q:\n%s", want, text)
		}
	}
	for _, r := range f.Requests() {
		if strings.HasPrefix(r, "GET /v1/client/fs/logs/") && !strings.Contains(r, "origin=end") {
			t.Errorf("read the task logs from their start: %s", r)
		}
	}
}

// The fake's task logs answer like Nomad's: the end or the start of the
// log, plain, and 400 or 404 for what does not exist.
func TestFakeServesTaskLogs(t *testing.T) {
	f := newFakeNomad(t, testToken)
	d := newDriver(t, f, "loc-a")
	w, _ := workload(setupSpec(f, "web", "", "ide"))
	mustStart(t, d, w)
	f.Prints("web", "ide", "stderr", "one\ntwo\n")
	var alloc string
	for _, a := range f.allocs {
		alloc = a.stub.ID
	}
	for _, tt := range []struct {
		query string
		code  int
		body  string
	}{
		{"task=ide&type=stderr&origin=end&offset=4&plain=true", http.StatusOK, "two\n"},
		{"task=ide&type=stderr&origin=start&offset=4&plain=true", http.StatusOK, "two\n"},
		{"task=ide&type=stderr&origin=end&offset=100&plain=true", http.StatusOK, "one\ntwo\n"},
		{"task=ide&type=stdout&origin=end&offset=100&plain=true", http.StatusOK, ""},
		{"task=nope&type=stderr&plain=true", http.StatusBadRequest, `unknown task name "nope"`},
		{"task=ide&type=other&plain=true", http.StatusBadRequest, "must provide log type (stdout/stderr)"},
		{"type=stderr&plain=true", http.StatusBadRequest, "must provide task name"},
	} {
		code, _, body := call(t, f, "GET", "/v1/client/fs/logs/"+alloc+"?namespace=default&"+tt.query, "")
		if code != tt.code || body != tt.body {
			t.Errorf("%s: %d %q; want %d %q", tt.query, code, body, tt.code, tt.body)
		}
	}
	if code, _, body := call(t, f, "GET", "/v1/client/fs/logs/nope?namespace=default&task=ide&type=stderr&plain=true", ""); code != http.StatusNotFound || !strings.Contains(body, "Unknown allocation") {
		t.Errorf("unknown allocation: %d %q", code, body)
	}
}
