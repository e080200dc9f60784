package main_test

import (
	"context"
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
	text := func(css string) string {
		t.Helper()
		step("wait for "+css, chromedp.WaitVisible(chromedp.CSS(css)))
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(css)))
		if err != nil {
			t.Fatalf("text of %s: %v", css, err)
		}
		return s
	}
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
	step("approve", chromedp.Click(chromedp.CSS("#connect-approve"), chromedp.NodeVisible))
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
