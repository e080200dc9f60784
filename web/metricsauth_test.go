package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/testenv"
	"github.com/knot-dev/knot/shared/wire"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

const (
	metricsToken = "the-metrics-token"
	ownerName    = "ann-the-owner"
	ownerSecret  = "the-api-token-of-ann"
)

// metricsOrigin is an origin web server on a loopback listener that lets
// leaves connect with API tokens, with one user (ownerName) who has an API
// token (ownerSecret).
type metricsOrigin struct {
	url   string
	clock *clock
	log   *testenv.Buffer
}

func startMetricsOrigin(t *testing.T, token string) *metricsOrigin {
	t.Helper()
	st := memory.New()
	ctx := context.Background()
	owner := &shared.User{Meta: shared.Meta{ID: "u-ann"}, Username: ownerName, Email: "ann@example.com", Active: true}
	if err := st.Put(ctx, owner); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, &shared.Token{Meta: shared.Meta{ID: crypt.HashToken(ownerSecret)}, UserID: owner.ID, Name: "leaf"}); err != nil {
		t.Fatal(err)
	}
	m := &metricsOrigin{clock: newClock(), log: &testenv.Buffer{}}
	hub, err := origin.New(origin.Options{Store: st, Logger: slog.New(slog.NewTextHandler(m.log, nil)), Now: m.clock.Now,
		SharedTokenHash: crypt.HashToken(fleetToken), EnableLeafAPITokens: true})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.NewTest(web.TestOptions{Store: st, Logger: slog.New(slog.NewTextHandler(m.log, nil)), Location: "home", Hub: hub,
		Now: m.clock.Now, MetricsToken: token})
	if err != nil {
		t.Fatal(err)
	}
	run(t, hub.Run)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	m.url = hs.URL
	return m
}

// get sends GET path with the Authorization header auth ("" for none).
func get(t *testing.T, url, auth string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// checkTextFormat fails unless body is in the Prometheus text format.
func checkTextFormat(t *testing.T, body string) {
	t.Helper()
	sample := regexp.MustCompile(`^[a-z_]+(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? [0-9.e+-]+$`)
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		if !strings.HasPrefix(line, "# HELP ") && !strings.HasPrefix(line, "# TYPE ") && !sample.MatchString(line) {
			t.Errorf("line %q is not in the text format", line)
		}
	}
}

func TestMetricsAskForTheTokenWhenOneIsSet(t *testing.T) {
	m := startMetricsOrigin(t, metricsToken)
	for _, auth := range []string{"", "Bearer wrong-token", "Bearer " + metricsToken + "x", "Basic " + metricsToken, "Bearer " + ownerSecret} {
		code, h, body := get(t, m.url+"/metrics", auth)
		if code != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") || !strings.Contains(body, "server.metrics_token") {
			t.Errorf("GET /metrics with %q: %d %s (WWW-Authenticate %q), want 401 saying what to send", auth, code, body, h.Get("WWW-Authenticate"))
		}
		if strings.Contains(body, "go_goroutines") {
			t.Errorf("GET /metrics with %q showed metrics", auth)
		}
	}
	code, _, body := get(t, m.url+"/metrics", "Bearer "+metricsToken)
	if code != http.StatusOK || !strings.Contains(body, "knot_leaves_connected 0") {
		t.Fatalf("GET /metrics with the token: %d %.200s", code, body)
	}
	checkTextFormat(t, body)

	open := startMetricsOrigin(t, "")
	if code, _, body := get(t, open.url+"/metrics", ""); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("GET /metrics without a token set: %d %.200s", code, body)
	}
}

func TestMetricsNameNoRestrictedLeafOwner(t *testing.T) {
	m := startMetricsOrigin(t, metricsToken)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, m.url+wire.Path, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + ownerSecret}}, Subprotocols: []string{wire.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(wire.MaxFrameSize)
	hello, _ := wire.Encode(&wire.Hello{NodeID: "node-7f3a", Version: "test", ProtocolMin: 1, ProtocolMax: wire.ProtocolMax})
	if err := c.Write(ctx, websocket.MessageText, hello); err != nil {
		t.Fatal(err)
	}
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := wire.Decode(b); err != nil || !f.(*wire.Welcome).Restricted {
		t.Fatalf("want a restricted welcome, got %s (%v)", b, err)
	}
	code, _, body := get(t, m.url+"/metrics", "Bearer "+metricsToken)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", code)
	}
	checkTextFormat(t, body)
	if !strings.Contains(body, `knot_leaf_connected{location="(restricted)",node="node-7f3a"} 1`) {
		t.Errorf("metrics lack the restricted leaf's series by its node id:\n%s", grepLines(body, "knot_leaf"))
	}
	if strings.Contains(body, ownerName) {
		t.Errorf("metrics name the restricted leaf's owner:\n%s", grepLines(body, ownerName))
	}
}

func grepLines(body, s string) string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func TestRefusedLeafCredentialsAreLoggedOncePerSourceAMinute(t *testing.T) {
	m := startMetricsOrigin(t, "")
	refuse := func() {
		t.Helper()
		if code, _, body := get(t, m.url+wire.Path, "Bearer not-a-token"); code != http.StatusUnauthorized {
			t.Fatalf("a wrong leaf credential: %d %s", code, body)
		}
	}
	for range 50 {
		refuse()
	}
	if got := m.log.Lines("leaf credential refused"); len(got) != 1 || !strings.Contains(got[0], "remote=127.0.0.1") {
		t.Fatalf("after 50 refusals from one source within a minute the log has %d lines, want 1 naming the source:\n%s", len(got), strings.Join(got, "\n"))
	}
	m.clock.Advance(59 * time.Second)
	refuse()
	if got := m.log.Lines("leaf credential refused"); len(got) != 1 {
		t.Fatalf("after 59 seconds: %d lines, want 1", len(got))
	}
	m.clock.Advance(2 * time.Second)
	refuse()
	got := m.log.Lines("leaf credential refused")
	if len(got) != 2 || !strings.Contains(got[1], "suppressed=50") {
		t.Fatalf("a minute later: %d lines, want a second one that counts the 50 not logged:\n%s", len(got), strings.Join(got, "\n"))
	}
}
