package web_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/runtime"
	"github.com/knot-dev/knot/web"
)

// newLogsEnv returns a server whose spaces a real runtime.Manager runs and
// whose space logs it keeps.
func newLogsEnv(t *testing.T) *env {
	t.Helper()
	var m *runtime.Manager
	e := newEnv(t, func(o *web.TestOptions) {
		var err error
		m, err = runtime.NewManager(runtime.Options{Records: leaf.SpaceRecords{Store: o.Store}, Server: runtime.ServerInfo{Location: o.Location}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		o.Spaces, o.Logs = m, m
	})
	return e
}

type logsBody struct {
	Lines   []string `json:"lines"`
	Entries []struct {
		At    time.Time `json:"at"`
		Level string    `json:"level"`
		Text  string    `json:"text"`
		Line  string    `json:"line"`
	} `json:"entries"`
}

func TestSpaceLogsListStateChangesOfStartAndStop(t *testing.T) {
	e := newLogsEnv(t)
	ann, tok := e.user("ann")
	sp := e.space(ann, e.template("byo"), "dev")
	var empty logsBody
	e.must(http.StatusOK, "GET", "/api/spaces/"+sp.ID+"/logs", tok, nil).decode(t, &empty)
	if empty.Lines == nil || len(empty.Lines) != 0 || empty.Entries == nil {
		t.Fatalf("log of a space never started: %+v; want empty lists", empty)
	}
	e.must(http.StatusOK, "POST", "/api/spaces/"+sp.ID+"/start", tok, nil)
	e.must(http.StatusOK, "POST", "/api/spaces/"+sp.ID+"/stop", tok, nil)
	var got logsBody
	e.must(http.StatusOK, "GET", "/api/spaces/"+sp.ID+"/logs", tok, nil).decode(t, &got)
	want := []string{"stopped → running", "running → stopped"}
	if len(got.Entries) != len(want) || len(got.Lines) != len(want) {
		t.Fatalf("log %+v; want %q", got, want)
	}
	for i, w := range want {
		en := got.Entries[i]
		if en.Text != w || en.Level != "info" || en.At.IsZero() {
			t.Errorf("entry %d = %+v; want info %q", i, en, w)
		}
		if line := en.At.Format(time.RFC3339) + " info " + w; got.Lines[i] != line || en.Line != line {
			t.Errorf("line %d = %q (entry %q); want %q", i, got.Lines[i], en.Line, line)
		}
	}
}

func TestSpaceLogsAreTheOwnersOrAManagers(t *testing.T) {
	e := newLogsEnv(t)
	ann, _ := e.user("ann")
	_, bob := e.user("bob")
	_, admin := e.admin()
	sp := e.space(ann, e.template("byo"), "dev")
	for _, path := range []string{"/api/spaces/" + sp.ID + "/logs", "/api/spaces/" + sp.ID + "/logs/stream"} {
		if r := e.do("GET", path, bob, nil); r.code != http.StatusNotFound || !strings.Contains(r.errMsg(t), "not found") {
			t.Errorf("GET %s by another user = %d %s; want 404", path, r.code, r.body)
		}
		if r := e.do("GET", path, "", nil); r.code != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials = %d; want 401", path, r.code)
		}
	}
	e.must(http.StatusOK, "GET", "/api/spaces/"+sp.ID+"/logs", admin, nil)
	// Without an upgrade, the stream says where the lines are.
	r := e.must(http.StatusBadRequest, "GET", "/api/spaces/"+sp.ID+"/logs/stream", admin, nil)
	if msg := r.errMsg(t); !strings.Contains(msg, "is a websocket") {
		t.Errorf("plain GET of the stream: %q", msg)
	}
}

func TestServerWithoutLogsAnswers404SayingSo(t *testing.T) {
	e := newEnv(t)
	ann, tok := e.user("ann")
	sp := e.space(ann, e.template("byo"), "dev")
	for _, path := range []string{"/api/spaces/" + sp.ID + "/logs", "/api/spaces/" + sp.ID + "/logs/stream"} {
		r := e.must(http.StatusNotFound, "GET", path, tok, nil)
		if msg := r.errMsg(t); msg != "this server keeps no space logs" {
			t.Errorf("GET %s: %q", path, msg)
		}
	}
}

// runServer runs the env's server on a loopback port and returns its base URL
// and a function that shuts it down and returns Run's result.
func runServer(t *testing.T, e *env) (string, func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Run(ctx, ln) }()
	var stopped bool
	var runErr error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return within 30s of its context ending")
			}
		}
		return runErr
	}
	t.Cleanup(func() { stop() })
	return "http://" + ln.Addr().String(), stop
}

// follow opens the log stream of a space with header.
func follow(t *testing.T, base, spaceID string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, base+"/api/spaces/"+spaceID+"/logs/stream", &websocket.DialOptions{HTTPHeader: header})
	if conn != nil {
		t.Cleanup(func() { conn.CloseNow() })
	}
	return conn, resp, err
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// next reads one line of a log stream.
func next(t *testing.T, conn *websocket.Conn) (text string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := conn.Read(ctx)
	if err != nil {
		return "", err
	}
	var l struct{ Text, Level, Line string }
	if err := json.Unmarshal(data, &l); err != nil || l.Line == "" || l.Level == "" {
		t.Fatalf("message %s is not a log line (%v)", data, err)
	}
	return l.Text, nil
}

func mustNext(t *testing.T, conn *websocket.Conn, want string) {
	t.Helper()
	if got, err := next(t, conn); err != nil || got != want {
		t.Fatalf("streamed %q (%v); want %q", got, err, want)
	}
}

func TestLogStreamSendsTheLogThenFollowsUntilTheSpaceIsDeleted(t *testing.T) {
	e := newLogsEnv(t)
	ann, tok := e.user("ann")
	sp := e.space(ann, e.template("byo"), "dev")
	base, _ := runServer(t, e)
	e.must(http.StatusOK, "POST", "/api/spaces/"+sp.ID+"/start", tok, nil)
	conn, _, err := follow(t, base, sp.ID, bearer(tok))
	if err != nil {
		t.Fatal(err)
	}
	mustNext(t, conn, "stopped → running")
	e.must(http.StatusOK, "POST", "/api/spaces/"+sp.ID+"/stop", tok, nil)
	e.must(http.StatusOK, "POST", "/api/spaces/"+sp.ID+"/start", tok, nil)
	mustNext(t, conn, "running → stopped")
	mustNext(t, conn, "stopped → running")
	e.must(http.StatusOK, "DELETE", "/api/spaces/"+sp.ID, tok, nil)
	for {
		_, err := next(t, conn)
		if err == nil {
			continue // the delete's own lines
		}
		if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Fatalf("stream of a deleted space ended with %v; want a normal close", err)
		}
		break
	}
}

func TestLogStreamTakesTheSessionCookieFromItsOwnOriginOnly(t *testing.T) {
	e := newLogsEnv(t)
	ann, _ := e.user("ann")
	sp := e.space(ann, e.template("byo"), "dev")
	base, _ := runServer(t, e)
	cookie := "__KNOT_SESSION=" + e.session(ann.ID)
	conn, _, err := follow(t, base, sp.ID, http.Header{"Cookie": {cookie}, "Origin": {base}})
	if err != nil {
		t.Fatalf("same-origin upgrade with the session cookie: %v", err)
	}
	conn.Close(websocket.StatusNormalClosure, "")
	_, resp, err := follow(t, base, sp.ID, http.Header{"Cookie": {cookie}, "Origin": {"https://elsewhere.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin upgrade with the session cookie: %v; want 403", err)
	}
}

func TestLogStreamClosesWhenTheServerShutsDown(t *testing.T) {
	e := newLogsEnv(t)
	ann, tok := e.user("ann")
	sp := e.space(ann, e.template("byo"), "dev")
	base, stop := runServer(t, e)
	conn, _, err := follow(t, base, sp.ID, bearer(tok))
	if err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error, 1)
	go func() {
		_, _, err := conn.Read(context.Background())
		readErr <- err
	}()
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("shutting down with a follower took %v", d)
	}
	select {
	case err := <-readErr:
		if websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Fatalf("the follower saw %v; want close 1001", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the follower's websocket is still open after shutdown")
	}
}
