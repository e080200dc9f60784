package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

func TestNewNeedsAStore(t *testing.T) {
	if _, err := web.New(web.Options{Location: "home"}); err == nil || !strings.Contains(err.Error(), "Services") {
		t.Fatalf("New without services = %v", err)
	}
	if _, err := web.NewTest(web.TestOptions{}); err == nil || !strings.Contains(err.Error(), "Store") {
		t.Fatalf("New without a store = %v", err)
	}
	if _, err := web.NewTest(web.TestOptions{Store: memory.New(), Location: "no place"}); err == nil {
		t.Fatal("New accepted an invalid location")
	}
	if _, err := web.NewTest(web.TestOptions{Store: memory.New(), Location: "home"}); err != nil {
		t.Fatalf("New with defaults: %v", err)
	}
}

func TestPing(t *testing.T) {
	e := newEnv(t)
	_, token := e.user("ann")
	r := e.must(http.StatusOK, "GET", "/api/ping", token, nil)
	if strings.TrimSpace(r.String()) != `{"status":true,"version":"1.2.3"}` {
		t.Fatalf("ping = %s", r.body)
	}
	e.must(http.StatusUnauthorized, "GET", "/api/ping", "", nil)
}

func TestHealthAndReady(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusOK, "GET", "/health", "", nil)
	e.must(http.StatusOK, "GET", "/ready", "", nil)
	e.store.Close()
	e.must(http.StatusOK, "GET", "/health", "", nil)
	r := e.must(http.StatusServiceUnavailable, "GET", "/ready", "", nil)
	r.errMsg(t)
}

func TestUnknownRoutesAndMethodsAnswerJSON(t *testing.T) {
	e := newEnv(t)
	_, token := e.user("ann")
	r := e.must(http.StatusNotFound, "GET", "/api/nothing-here", token, nil)
	if !strings.Contains(r.errMsg(t), "/api/nothing-here") {
		t.Fatalf("404 message %s", r.body)
	}
	r = e.must(http.StatusMethodNotAllowed, "DELETE", "/api/ping", token, nil)
	r.errMsg(t)
	if r.header.Get("Allow") != "GET" {
		t.Fatalf("Allow = %q", r.header.Get("Allow"))
	}
	r = e.must(http.StatusMethodNotAllowed, "PATCH", "/api/users/x", token, nil)
	if r.header.Get("Allow") != "GET, PUT, DELETE" {
		t.Fatalf("Allow = %q", r.header.Get("Allow"))
	}
}

func TestClosedStoreIs503(t *testing.T) {
	e := newEnv(t)
	_, token := e.user("ann")
	e.store.Close()
	r := e.do("GET", "/api/users/whoami", token, nil)
	if r.code != http.StatusServiceUnavailable {
		t.Fatalf("with the store closed: %d %s", r.code, r.body)
	}
	r.errMsg(t)
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	ann, token := e.user("ann")
	e.must(http.StatusOK, "GET", "/api/users/"+ann.ID, token, nil)
	e.must(http.StatusOK, "GET", "/api/users/"+ann.ID, token, nil)
	e.must(http.StatusNotFound, "GET", "/api/no/such/"+ann.ID, token, nil)
	e.send(req{method: "BREW", path: "/api/ping", token: token})
	e.store.Close()
	e.do("GET", "/api/users/whoami", token, nil)

	body := e.must(http.StatusOK, "GET", "/metrics", "", nil).String()
	for _, want := range []string{
		`knot_http_requests_total{route="/api/users/{user_id}",method="GET",status="200"} 2`,
		`knot_http_requests_total{route="unmatched",method="GET",status="404"} 1`,
		`knot_http_requests_total{route="unmatched",method="OTHER",status="405"} 1`,
		`knot_http_request_duration_seconds_bucket{route="/api/users/{user_id}",le="+Inf"} 2`,
		`knot_http_request_duration_seconds_count{route="/api/users/{user_id}"} 2`,
		"# TYPE knot_http_request_duration_seconds histogram",
		"# TYPE knot_store_errors_total counter",
		"go_goroutines ",
		"process_start_time_seconds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, ann.ID) {
		t.Error("a raw path (with an id) became a label")
	}
	if !regexp.MustCompile(`(?m)^knot_store_errors_total [1-9]`).MatchString(body) {
		t.Error("knot_store_errors_total did not count the closed store")
	}
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		if !strings.HasPrefix(line, "#") && !regexp.MustCompile(`^[a-z_]+(\{.*\})? [0-9.e+-]+$`).MatchString(line) {
			t.Errorf("line %q is not in the text format", line)
		}
	}
}

func TestOpenAPIIsServed(t *testing.T) {
	e := newEnv(t)
	r := e.must(http.StatusOK, "GET", "/api/openapi.yaml", "", nil)
	if !strings.HasPrefix(r.String(), "openapi: 3") || !strings.Contains(r.header.Get("Content-Type"), "yaml") {
		t.Fatalf("openapi = %.40s (%s)", r.body, r.header.Get("Content-Type"))
	}
}

func TestRunServesAndStopsGracefully(t *testing.T) {
	e := newEnv(t)
	ann, token := e.user("ann")
	sp := e.space(ann, e.template("tpl"), "work")
	e.ctl.entered, e.ctl.release = make(chan struct{}), make(chan struct{})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Run(ctx, ln) }()

	res, err := http.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()

	// A start is in flight when the server is told to stop.
	type result struct {
		code int
		body string
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		rq, _ := http.NewRequest("POST", base+"/api/spaces/"+sp.ID+"/start", nil)
		rq.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(rq)
		if err != nil {
			inflight <- result{err: err}
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		inflight <- result{code: res.StatusCode, body: string(b)}
	}()
	select {
	case <-e.ctl.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the start request did not reach the controller")
	}
	cancel()

	// Run waits for the request; new connections are refused meanwhile.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts after the context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned %v before the in-flight request completed", err)
	default:
	}
	close(e.ctl.release)

	r := <-inflight
	if r.err != nil || r.code != http.StatusOK {
		t.Fatalf("in-flight start = %d %s %v", r.code, r.body, r.err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil after a clean stop", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	got, _ := getRecord[shared.Space](e, sp.ID)
	if got.State != shared.SpaceRunning {
		t.Fatalf("the in-flight start did not complete its write: %s", got.State)
	}
}

func TestOneDebugLinePerRequest(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	e := newEnv(t, func(o *web.TestOptions) {
		o.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ann, token := e.user("ann")
	e.must(http.StatusOK, "GET", "/api/users/"+ann.ID, token, nil)
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "level=DEBUG") || !strings.Contains(lines[0], "method=GET") ||
		!strings.Contains(lines[0], "route=/api/users/{user_id}") || !strings.Contains(lines[0], "status=200") || !strings.Contains(lines[0], "duration=") {
		t.Fatalf("request log = %q", out)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
