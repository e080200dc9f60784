package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	knotmain "github.com/knot-dev/knot/cmd/knot"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/config"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/testenv"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

// webAuthCLI starts knot connect --use-web-auth at server with a $BROWSER
// that only notes the address it is given, and returns the command, its
// environment and that address.
func webAuthCLI(t *testing.T, server string) (*background, map[string]string, *url.URL) {
	t.Helper()
	dir := t.TempDir()
	note := filepath.Join(dir, "url")
	browser := writeFile(t, filepath.Join(dir, "browser"), "#!/bin/sh\necho \"$1\" > "+note+".tmp && mv "+note+".tmp "+note+"\n")
	if err := os.Chmod(browser, 0o755); err != nil {
		t.Fatal(err)
	}
	env := clientEnv(t, "BROWSER", browser)
	cli := startKnot(t, env, "connect", "--use-web-auth", server)
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile(note)
		if err == nil {
			u, err := url.Parse(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(cli.stderr.String(), u.String()) {
				t.Errorf("knot connect opened %s without printing it; stderr:\n%s", u, cli.stderr.String())
			}
			return cli, env, u
		}
		if time.Now().After(deadline) {
			t.Fatalf("$BROWSER was not run within 20s; stderr:\n%s", cli.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// savedClientConfig returns the client configuration knot connect wrote in
// env, or nil when there is none.
func savedClientConfig(t *testing.T, env map[string]string) *config.Config {
	t.Helper()
	file := filepath.Join(env["XDG_CONFIG_HOME"], "knot", "knot.yaml")
	if _, err := os.Stat(file); err != nil {
		return nil
	}
	cfg, err := config.Load(config.Options{File: file, Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The browser path of knot connect, as a user with two-factor login walks
// it in Chromium: the CLI opens the page, the user logs in with a TOTP code,
// sees which CLI asks and approves, and the CLI saves a working token that
// no address the browser visited carried.
func TestConnectUseWebAuthInBrowser(t *testing.T) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		testenv.Missing(t, "chromium", err)
	}
	sealer, err := crypt.NewSealer(totpKey)
	if err != nil {
		t.Fatal(err)
	}
	ts := runWeb(t, knotmain.ServerParts{Store: memory.New(), Sealer: sealer, TOTP: &origin.TOTPOptions{Window: 1},
		Options: web.Options{Location: "test", Version: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
	ts.mustCall(t, "POST", "/api/users", "", map[string]any{"username": "admin", "email": adminEmail, "password": adminPassword}, nil)

	cli, env, page := webAuthCLI(t, ts.URL)
	q := page.Query()
	host, _ := os.Hostname()
	if page.Scheme+"://"+page.Host != ts.URL || page.Path != "/connect" || q.Get("host") != host || q.Get("state") == "" || len(q.Get("challenge")) != 43 {
		t.Fatalf("knot connect opened %s", page)
	}

	ctx := chromium(t)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v; knot connect said:\n%s", what, err, cli.stderr.String())
		}
	}
	text := func(css string) string { t.Helper(); return shown(t, ctx, css) }
	// Not logged in: the page sends the user to log in, with a code.
	step("open the page", chromedp.Navigate(page.String()), chromedp.WaitVisible(chromedp.CSS("#login-form #totp-code")))
	step("log in", chromedp.SendKeys(chromedp.CSS("#login-form input[name=email]"), adminEmail),
		chromedp.SendKeys(chromedp.CSS("#login-form input[name=password]"), adminPassword),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]"), chromedp.NodeVisible))
	secret := text("#totp-secret")
	code, err := crypt.TOTPCode(secret, crypt.TOTPStep(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	step("log in with the code", chromedp.SendKeys(chromedp.CSS("#login-form input[name=totp_code]"), code),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]"), chromedp.NodeVisible))
	// Back at the page, which names the CLI that asks.
	if got := text("#connect-host"); got != host {
		t.Errorf("the page names host %q, want %q", got, host)
	}
	if got, want := text("#connect-addr"), "127.0.0.1:"+q.Get("port"); got != want {
		t.Errorf("the page names address %q, want %q", got, want)
	}
	if dir := os.Getenv("KNOT_UI_SCREENSHOTS"); dir != "" {
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "knot-ui-connect.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	step("approve", chromedp.WaitVisible(chromedp.CSS(`main[aria-busy="false"]`)), chromedp.Click(chromedp.CSS("#connect-approve"), chromedp.NodeVisible))
	if got := text("#result"); !strings.Contains(got, "knot connect is done") {
		t.Errorf("the CLI's page says %q", got)
	}
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	visited, err := chromedp.Run(sctx, chromedp.Evaluate[[]string](`performance.getEntriesByType('navigation').map(e => e.name).concat([location.href])`))
	if err != nil {
		t.Fatal(err)
	}

	if c := cli.exitCode(t); c != 0 {
		t.Fatalf("knot connect exited %d; stderr:\n%s", c, cli.stderr.String())
	}
	cfg := savedClientConfig(t, env)
	if cfg == nil || cfg.Client.Server != ts.URL || cfg.Client.Token == "" {
		t.Fatalf("saved configuration %+v", cfg)
	}
	for _, v := range append(visited, page.String()) {
		if strings.Contains(v, cfg.Client.Token) {
			t.Errorf("the browser visited %s, which holds the token", v)
		}
	}
	if !strings.Contains(visited[len(visited)-1], "/callback?code=") {
		t.Errorf("the browser ended at %v", visited)
	}
	// The token works, is the admin's, and is named after the host.
	mustSucceed(t, knot(t, env, "", "space", "list"))
	var toks []struct {
		Name      string
		ExpiresAt time.Time `json:"expires_at"`
	}
	ts.mustCall(t, "GET", "/api/tokens", cfg.Client.Token, nil, &toks)
	if len(toks) != 1 || toks[0].Name != shared.ConnectTokenName(host) ||
		toks[0].ExpiresAt.Sub(time.Now().Add(shared.ConnectTokenLifetime)).Abs() > time.Minute {
		t.Errorf("the admin's tokens: %+v", toks)
	}
}

// chromium starts a headless Chromium for the test and returns the
// context of its first tab.
func chromium(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath("/usr/bin/chromium"), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser and binds it to its context, so
	// it gets the tab's own context; a timer bounds the start.
	timer := time.AfterFunc(60*time.Second, cancel)
	defer timer.Stop()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// What comes back to the CLI is checked before anything is saved: a
// callback with another state, a denial, and a code the server never
// issued all fail knot connect with a reason, and the browser is told.
func TestConnectUseWebAuthRefusals(t *testing.T) {
	ts := startServer(t)
	for _, tc := range []struct {
		name  string
		query func(state string) url.Values
		want  string
	}{
		{"another state", func(string) url.Values { return url.Values{"state": {"forged-state"}, "code": {"x"}} }, "a state this knot connect did not send"},
		{"denied", func(s string) url.Values { return url.Values{"state": {s}, "error": {"access_denied"}} }, "denied in the browser"},
		{"forged code", func(s string) url.Values { return url.Values{"state": {s}, "code": {"forged-code"}} }, "redeem the code: the code is not one this server issued"},
		{"no code", func(s string) url.Values { return url.Values{"state": {s}} }, "without a code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cli, env, page := webAuthCLI(t, ts.URL)
			back := fmt.Sprintf("http://127.0.0.1:%s/callback?%s", page.Query().Get("port"), tc.query(page.Query().Get("state")).Encode())
			resp, err := http.Get(back)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "knot connect failed") {
				t.Errorf("the browser got %d %s", resp.StatusCode, body)
			}
			if c := cli.exitCode(t); c != 1 || !strings.Contains(cli.stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr:\n%s", c, cli.stderr.String())
			}
			if cfg := savedClientConfig(t, env); cfg != nil {
				t.Errorf("a configuration was saved: %+v", cfg.Client)
			}
		})
	}
}

// The browser path of knot connect at a leaf, an origin and a leaf with
// two-factor login as real processes: the user logs in on the leaf's page
// with a code and approves; the token, made at the origin, works at the
// leaf at once and at the origin. With the origin down, the page says so
// when the user approves, and the CLI, interrupted, saves nothing.
func TestConnectUseWebAuthAtALeafInBrowser(t *testing.T) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		testenv.Missing(t, "chromium", err)
	}
	totpArgs := []string{"--totp-enabled", "--encrypt", totpKey}
	o := runKnotServer(t, t.TempDir(), append([]string{"--listen", "127.0.0.1:" + loopbackPort(t), "--location", "hq", "--shared-token", fleetSharedToken}, totpArgs...)...)
	l := runKnotServer(t, t.TempDir(), append([]string{"--listen", "127.0.0.1:0", "--location", "branch", "--shared-token", fleetSharedToken, "--origin-server", o.base}, totpArgs...)...)
	o.call("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"}, 201, nil)
	status, out := totpLogin(o, "")
	secret, _ := out["totp_secret"].(string)
	if status != http.StatusUnauthorized || secret == "" {
		t.Fatalf("first login at the origin = %d %v, want 401 with a secret", status, out)
	}
	enrolStep := crypt.TOTPStep(time.Now())
	codeOf := func(step int64) string {
		c, err := crypt.TOTPCode(secret, step)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	status, out = totpLogin(o, codeOf(enrolStep))
	session, _ := out["token"].(string)
	if status != http.StatusOK || session == "" {
		t.Fatalf("login with a code at the origin = %d %v", status, out)
	}
	// A token made after the secret reaches the leaf after it.
	var probe struct{ Token string }
	o.call("POST", "/api/tokens", session, map[string]any{"name": "probe"}, 201, &probe)
	waitUntil(t, 30*time.Second, func() string {
		if status, body := l.fetch("GET", "/api/users/whoami", probe.Token, nil); status != http.StatusOK {
			return "the leaf does not know the admin's secret yet: " + string(body)
		}
		return ""
	})

	cli, env, page := webAuthCLI(t, l.base)
	ctx := chromium(t)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v; knot connect said:\n%s", what, err, cli.stderr.String())
		}
	}
	text := func(css string) string { t.Helper(); return shown(t, ctx, css) }
	// The leaf's own login, with a code the origin has not seen used (the
	// leaf logs in there too with it).
	step("open the page", chromedp.Navigate(page.String()), chromedp.WaitVisible(chromedp.CSS("#login-form #totp-code")))
	step("log in with a code", chromedp.SendKeys(chromedp.CSS("#login-form input[name=email]"), "admin@example.com"),
		chromedp.SendKeys(chromedp.CSS("#login-form input[name=password]"), "a-long-password"),
		chromedp.SendKeys(chromedp.CSS("#login-form input[name=totp_code]"), codeOf(max(enrolStep, crypt.TOTPStep(time.Now()))+1)),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]"), chromedp.NodeVisible))
	if got := text("#connect-leaf"); !strings.Contains(got, "the token is made at the origin") {
		t.Errorf("the leaf's page says %q", got)
	}
	step("approve", chromedp.WaitVisible(chromedp.CSS(`main[aria-busy="false"]`)), chromedp.Click(chromedp.CSS("#connect-approve"), chromedp.NodeVisible))
	if got := outcome(t, ctx); !strings.Contains(got, "knot connect is done") {
		t.Fatalf("after the approval the browser shows %q; knot connect said:\n%s", got, cli.stderr.String())
	}
	if c := cli.exitCode(t); c != 0 {
		t.Fatalf("knot connect exited %d; stderr:\n%s", c, cli.stderr.String())
	}
	cfg := savedClientConfig(t, env)
	if cfg == nil || cfg.Client.Server != l.base || cfg.Client.Token == "" {
		t.Fatalf("saved configuration %+v", cfg)
	}
	// The token works at the leaf, and at the origin.
	mustSucceed(t, knot(t, env, "", "space", "list"))
	for _, s := range []*serverProc{l, o} {
		if status, body := s.fetch("GET", "/api/users/whoami", cfg.Client.Token, nil); status != http.StatusOK || !strings.Contains(string(body), `"admin"`) {
			t.Errorf("whoami at %s with the token = %d %s", s.base, status, body)
		}
	}

	// The origin down: the approval is refused on the page, at once.
	o.kill()
	waitUntil(t, 30*time.Second, func() string {
		var st struct {
			OriginReachable bool `json:"origin_reachable"`
		}
		status, body := l.fetch("GET", "/api/leaf/status", probe.Token, nil)
		if status != http.StatusOK || json.Unmarshal(body, &st) != nil || st.OriginReachable {
			return "the leaf still counts the origin up: " + string(body)
		}
		return ""
	})
	cli2, env2, page2 := webAuthCLI(t, l.base)
	step("open the page again", chromedp.Navigate(page2.String()), chromedp.WaitVisible(chromedp.CSS("#connect-approve")))
	start := time.Now()
	step("approve", chromedp.WaitVisible(chromedp.CSS(`main[aria-busy="false"]`)), chromedp.Click(chromedp.CSS("#connect-approve"), chromedp.NodeVisible))
	if got := text("#page-error"); !strings.Contains(got, "the origin "+o.base+" is not reachable") {
		t.Errorf("the page says %q", got)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the refusal took %v", took)
	}
	if err := cli2.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if c := cli2.exitCode(t); c != 1 || !strings.Contains(cli2.stderr.String(), "interrupted while waiting for the approval") {
		t.Errorf("the interrupted knot connect: exit %d, stderr:\n%s", c, cli2.stderr.String())
	}
	if cfg := savedClientConfig(t, env2); cfg != nil {
		t.Errorf("a configuration was saved: %+v", cfg.Client)
	}
}

// outcome waits until the tab shows the CLI's answer (#result) or the
// page's error, and returns its text.
func outcome(t *testing.T, ctx context.Context) string {
	t.Helper()
	return shown(t, ctx, "#result", "#page-error")
}

// shown waits until the tab shows an element of one of the selectors, and
// returns the text of the first one shown. It asks the page itself each
// time, so a page still loading, or one that came in its place, is only
// asked again.
func shown(t *testing.T, ctx context.Context, selectors ...string) string {
	t.Helper()
	sel, _ := json.Marshal(selectors)
	js := `(() => { for (const s of ` + string(sel) + `) { const e = document.querySelector(s); if (e && e.getClientRects().length) return e.textContent.trim(); } return ''; })()`
	got := ""
	waitUntil(t, 15*time.Second, func() string {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.Evaluate[string](js))
		if err != nil || s == "" {
			where, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`location.href + ' ' + document.body.innerText`))
			return fmt.Sprintf("the tab shows none of %v (%v): %s", selectors, err, where)
		}
		got = s
		return ""
	})
	return got
}
