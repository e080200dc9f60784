package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/knot-dev/knot/shared/testenv"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

// chromiumPath is where Debian's chromium package installs the browser.
const chromiumPath = "/usr/bin/chromium"

// stepTimeout bounds every browser step: a wait that takes longer fails.
const stepTimeout = 15 * time.Second

// The browser is shared by the tests of the package: it starts on first
// use, every test gets its own browser context (its own cookies) in it,
// and TestMain stops it.
var browser struct {
	once    sync.Once
	ctx     context.Context // the browser's chromedp context
	cancel  func()
	dataDir string
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	if browser.dataDir != "" {
		os.RemoveAll(browser.dataDir)
	}
	os.Exit(code)
}

func startBrowser() (context.Context, error) {
	browser.once.Do(func() {
		if _, err := os.Stat(chromiumPath); err != nil {
			browser.err = err
			return
		}
		dir, err := os.MkdirTemp("", "knot-ui-chromium-")
		if err != nil {
			browser.err = err
			return
		}
		browser.dataDir = dir
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(chromiumPath),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.UserDataDir(dir),
			chromedp.WindowSize(1280, 900),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("no-first-run", true),
		)
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, cancelBrowser := chromedp.NewContext(actx)
		browser.cancel = func() {
			cancelBrowser()
			cancelAlloc()
		}
		// The first action starts the browser and binds it to the context
		// it is given, so it gets the browser's own context; a timer bounds
		// the start instead.
		timer := time.AfterFunc(60*time.Second, cancelBrowser)
		err = chromedp.Do(bctx)
		timer.Stop()
		if err != nil {
			browser.err = fmt.Errorf("start %s: %w", chromiumPath, err)
			return
		}
		browser.ctx = bctx
	})
	return browser.ctx, browser.err
}

// tab is a browser tab in a browser context of its own, driven by a test.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string // the server's URL
}

// newTab opens a tab with fresh cookies on the server at base.
func newTab(t *testing.T, base string) *tab {
	t.Helper()
	bctx, err := startBrowser()
	if err != nil {
		testenv.Missing(t, "chromium", err)
	}
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// Open the tab with its own context, as for the browser above: a step's
	// timeout must not close it.
	timer := time.AfterFunc(stepTimeout, cancel)
	err = chromedp.Do(ctx)
	timer.Stop()
	if err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return &tab{t: t, ctx: ctx, base: base}
}

// do runs steps within stepTimeout and fails the test on an error.
func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v%s", what, err, b.state())
	}
}

// value runs one action that returns a value, within stepTimeout.
func value[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v%s", what, err, b.state())
	}
	return v
}

// state describes the page for a failure message.
func (b *tab) state() string {
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText.slice(0, 2000)`))
	if err != nil {
		return ""
	}
	return "\npage: " + s
}

func (b *tab) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
}

// waitPath waits until the page's path (and query) is want.
func (b *tab) waitPath(want string) {
	b.t.Helper()
	b.waitLoaded(fmt.Sprintf(`location.pathname + location.search === %q`, want), want)
}

// waitLoaded waits until the page is loaded whole and the script cond
// is true; want names the page in a failure.
func (b *tab) waitLoaded(cond, want string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	cond += ` && document.readyState === "complete"`
	for {
		err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(stepTimeout), chromedp.WithPollingInterval(50*time.Millisecond)))
		if err == nil {
			return
		}
		// A navigation under way ends the poll; poll the new page.
		if ctx.Err() != nil || !navigating(err) {
			b.t.Fatalf("wait for %s: %v%s", want, err, b.state())
		}
	}
}

// navigating reports whether err is that of a script whose page went away.
func navigating(err error) bool {
	for _, s := range []string{"navigated or closed", "context was destroyed", "Cannot find context"} {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

func (b *tab) visible(css string) {
	b.t.Helper()
	b.do("wait for "+css, chromedp.WaitVisible(chromedp.CSS(css)))
}

func (b *tab) gone(css string) {
	b.t.Helper()
	b.do("wait for "+css+" to go", chromedp.WaitNotPresent(chromedp.CSS(css)))
}

func (b *tab) click(css string) {
	b.t.Helper()
	b.do("click "+css, chromedp.Click(chromedp.CSS(css), chromedp.NodeVisible))
}

// typeIn replaces the text of the field css with text.
func (b *tab) typeIn(css, text string) {
	b.t.Helper()
	// SetValue cannot set "", so the field is emptied by a script.
	clear := func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`void (document.querySelector(%q).value = '')`, css))(ctx, t)
	}
	b.do("type in "+css, chromedp.WaitVisible(chromedp.CSS(css)), clear, chromedp.SendKeys(chromedp.CSS(css), text))
}

func (b *tab) setValue(css, value string) {
	b.t.Helper()
	b.do("set "+css, chromedp.SetValue(chromedp.CSS(css), value))
}

// text waits for css to be visible and returns its text.
func (b *tab) text(css string) string {
	b.t.Helper()
	b.visible(css)
	return value(b, "text of "+css, chromedp.Text(chromedp.CSS(css)))
}

// fetchResult is what the page's fetch saw.
type fetchResult struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// fetch sends a request from the page with its cookies; csrf adds the
// X-CSRF-Token header from the __KNOT_CSRF cookie, as the UI does.
func (b *tab) fetch(method, path string, body any, csrf bool) fetchResult {
	b.t.Helper()
	data := "undefined"
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			b.t.Fatal(err)
		}
		data = fmt.Sprintf("%q", j)
	}
	js := fmt.Sprintf(`(async () => {
		const headers = {'Content-Type': 'application/json'};
		if (%t) headers['X-CSRF-Token'] = (document.cookie.match(/(?:^|; )__KNOT_CSRF=([^;]*)/) || [])[1] || '';
		const r = await fetch(%q, {method: %q, headers, credentials: 'same-origin', body: %s});
		return {status: r.status, body: await r.text()};
	})()`, csrf, path, method, data)
	return value(b, method+" "+path+" from the page", chromedp.Evaluate[fetchResult](js, chromedp.EvalAwaitPromise))
}

// screenshot saves a PNG of the whole page as name in dir and, when
// KNOT_UI_SCREENSHOTS names a directory, there too as knot-ui-<name>.
func (b *tab) screenshot(dir, name string) {
	b.t.Helper()
	png := value(b, "screenshot", chromedp.FullScreenshot(100))
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		b.t.Fatalf("screenshot %s is not a PNG", name)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	if out := os.Getenv("KNOT_UI_SCREENSHOTS"); out != "" {
		if err := os.WriteFile(filepath.Join(out, "knot-ui-"+name), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

// startUIServer runs a standalone server with an empty memory store on a
// loopback port and returns its URL; opts may change its options.
func startUIServer(t *testing.T, opts ...func(*web.TestOptions)) string {
	t.Helper()
	o := web.TestOptions{
		Store:           memory.New(),
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		Version:         "test",
		Location:        "home",
		ShutdownTimeout: 5 * time.Second,
	}
	for _, f := range opts {
		f(&o)
	}
	srv, err := web.NewTest(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Run: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// TestUIInBrowser walks the UI in Chromium as people use it: an
// administrator sets up the server, logs out and in, writes templates,
// runs a space through its life and adds a user, who then sees only what
// their permissions allow.
func TestUIInBrowser(t *testing.T) {
	base := startUIServer(t)
	b := newTab(t, base)
	shots := t.TempDir()
	const password = "a-long-password"

	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"InitialSetupCreatesAdminAndLandsOnSpaces", func(t *testing.T) {
			b.open("/")
			b.waitPath("/login")
			b.fillSetupForm(password)
			b.waitPath("/spaces")
			b.visible("#new-space")
			if got := b.text("#username"); got != "admin" {
				t.Fatalf("header shows user %q", got)
			}
		}},
		{"WrongPasswordShowsServerError", func(t *testing.T) {
			b.click("#logout")
			b.waitPath("/login")
			b.typeIn("#login-form input[name=email]", "admin@example.com")
			b.typeIn("#login-form input[name=password]", "not-the-password")
			b.click("#login-form button[type=submit]")
			if msg := b.text("#login-form .error"); msg != "invalid email or password" {
				t.Fatalf("error shown: %q", msg)
			}
		}},
		{"LoginReturnsToRequestedPage", func(t *testing.T) {
			b.open("/templates")
			b.waitPath("/login?redirect=%2Ftemplates")
			b.typeIn("#login-form input[name=email]", "admin@example.com")
			b.typeIn("#login-form input[name=password]", password)
			b.click("#login-form button[type=submit]")
			b.waitPath("/templates")
			b.visible("#new-template")
		}},
		{"TemplateEditorShowsServerValidation", func(t *testing.T) {
			b.click("#new-template")
			b.visible("#editor")
			b.typeIn("#editor input[name=name]", "dev-box")
			b.setValue("#editor select[name=kind]", "container")
			b.click("#editor button[type=submit]")
			if msg := b.text("#editor .field-error"); msg != "Spec is required for container templates" {
				t.Fatalf("error shown: %q", msg)
			}
			b.setValue("#editor textarea[name=spec]", "image: debian:bookworm\nenvironment:\n  - EDITOR=vim")
			// Once the spec is typed, the newer check replaces the refusal.
			b.do("type at the end of the spec", chromedp.SendKeys(chromedp.CSS("#editor textarea[name=spec]"), "\n"))
			b.pollUntil("the refusal replaced", `!document.querySelector('#editor .field-error') && document.querySelector('#spec-check').textContent.startsWith('Checked')`, stepTimeout)
			b.typeIn("#editor textarea[name=description]", "Debian with the usual tools")
			b.click("#editor button[type=submit]")
			b.visible(`#templates tr[data-name="dev-box"]`)

			b.click("#new-template")
			b.visible("#editor")
			b.typeIn("#editor input[name=name]", "laptop")
			b.setValue("#editor select[name=kind]", "manual")
			b.typeIn("#editor textarea[name=description]", "Your own machine, with the agent")
			b.click("#editor button[type=submit]")
			b.visible(`#templates tr[data-name="laptop"]`)
			b.screenshot(shots, "templates.png")
		}},
		{"SpaceLifecycle", func(t *testing.T) {
			b.open("/spaces")
			b.visible("#empty")
			b.click("#new-space")
			b.visible("#editor")
			b.typeIn("#editor input[name=name]", "work")
			id := value(b, "template id", chromedp.Evaluate[string](
				`[...document.querySelectorAll('#editor select[name=template_id] option')].find(o => o.textContent.startsWith('laptop')).value`))
			b.setValue("#editor select[name=template_id]", id)
			b.click("#editor button[type=submit]")
			b.visible(`#spaces tr[data-name="work"][data-state="stopped"]`)
			if got := b.text(`#spaces tr[data-name="work"] td:nth-child(3)`); got != "laptop" {
				t.Errorf("template column %q", got)
			}
			if notice := b.text("#notice"); !strings.Contains(notice, "agent needs this token") ||
				!strings.Contains(notice, "knot space agent-env work > agent.env") || !strings.Contains(notice, "KNOT_AGENT_TOKEN") {
				t.Errorf("no agent token, or no word of how to use it, for a manual space: %q", notice)
			}
			if href := eval[string](b, "link to the space's page", `document.querySelector('#notice a').getAttribute('href')`); !strings.HasSuffix(href, "#terminal-title") {
				t.Errorf("the new space's notice links %q, not its page's agent section", href)
			}

			// A web port of the template is a link once the space runs.
			if r := b.fetch("PUT", "/api/templates/"+id, map[string]any{"http_ports": []map[string]any{{"port": 8080, "name": "Site"}}}, true); r.Status != http.StatusOK {
				t.Fatalf("setting the template's http_ports: %d %s", r.Status, r.Body)
			}
			b.click(`#spaces tr[data-name="work"] button[data-action="start"]`)
			b.visible(`#spaces tr[data-name="work"][data-state="running"]`)
			if got := b.text(`#spaces tr[data-name="work"] td.state-cell .state`); got != "running" {
				t.Errorf("state shown %q", got)
			}
			link := value(b, "web port link", chromedp.Evaluate[string](
				`(() => { const a = document.querySelector('#spaces tr[data-name="work"] .web-ports a'); return a ? a.textContent + ' ' + a.getAttribute('href') : ''; })()`))
			if !regexp.MustCompile(`^Site \(8080\) /proxy/spaces/[0-9a-f-]+/ports/8080/$`).MatchString(link) {
				t.Errorf("web port link %q", link)
			}
			b.screenshot(shots, "spaces.png")
			// The space's own page links its web apps too.
			b.open(eval[string](b, "space page", `document.querySelector('#spaces tr[data-name="work"] .name a').getAttribute('href')`))
			b.visible("#space-ports a")
			if got := eval[string](b, "web port link on the space's page", `(() => { const a = document.querySelector('#space-ports a'); return a.textContent + ' ' + a.getAttribute('href'); })()`); got != link {
				t.Errorf("the space's page links its web port as %q, the dashboard as %q", got, link)
			}
			// Its agent is not linked: the page tells its owner how to run it.
			b.visible("#agent-howto")
			if got := b.text("#agent-howto"); !strings.Contains(got, "knot space agent-env work > agent.env") || !strings.Contains(got, "env $(cat agent.env) knot agent") {
				t.Errorf("the manual space's page says %q of its agent", got)
			}
			b.open("/spaces")
			b.visible(`#spaces tr[data-name="work"][data-state="running"]`)

			b.click(`#spaces tr[data-name="work"] button[data-action="stop"]`)
			b.visible(`#spaces tr[data-name="work"][data-state="stopped"]`)

			b.click(`#spaces tr[data-name="work"] button[data-action="delete"]`)
			b.visible("#confirm-dialog")
			if msg := b.text("#confirm-message"); !strings.Contains(msg, "work") {
				t.Errorf("confirmation %q does not name the space", msg)
			}
			b.click("#confirm-ok")
			b.gone(`#spaces tr[data-name="work"]`)
			b.visible("#empty")
		}},
		{"CookieWithoutCSRFHeaderRefused", func(t *testing.T) {
			r := b.fetch("POST", "/api/tokens", map[string]string{"name": "sneaky"}, false)
			if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "X-CSRF-Token") {
				t.Fatalf("without the header = %d %s, want 403 naming X-CSRF-Token", r.Status, r.Body)
			}
			r = b.fetch("POST", "/api/tokens", map[string]string{"name": "honest"}, true)
			if r.Status != http.StatusCreated {
				t.Fatalf("with the header = %d %s, want 201", r.Status, r.Body)
			}
		}},
		{"LeavesPageSaysNotAnOrigin", func(t *testing.T) {
			b.open("/leaves")
			if msg := b.text("#not-origin"); !strings.Contains(msg, "not an origin") {
				t.Fatalf("leaves page says %q", msg)
			}
		}},
		{"AdminCreatesUser", func(t *testing.T) {
			b.open("/users")
			b.visible(`#users tr[data-name="admin"]`)
			b.click("#new-user")
			b.visible("#editor")
			b.typeIn("#editor input[name=username]", "ann")
			b.typeIn("#editor input[name=email]", "ann@example.com")
			b.typeIn("#editor input[name=password]", "short")
			b.click("#editor button[type=submit]")
			if msg := b.text("#editor .field-error"); !strings.HasPrefix(msg, "Password ") {
				t.Fatalf("error shown for a short password: %q", msg)
			}
			b.typeIn("#editor input[name=password]", password)
			b.click("#editor button[type=submit]")
			b.visible(`#users tr[data-name="ann"]`)
			if got := b.text(`#users tr[data-name="ann"] td:nth-child(3)`); got != "User" {
				t.Errorf("ann's roles shown as %q", got)
			}
		}},
		{"TokenSecretShownOnce", func(t *testing.T) {
			b.open("/tokens")
			b.visible(`#tokens tr[data-name="honest"]`)
			b.typeIn("#token-form input[name=name]", "laptop CLI")
			b.click("#token-form button[type=submit]")
			b.visible(`#tokens tr[data-name="laptop CLI"]`)
			if secret := b.text("#secret"); len(secret) < 20 {
				t.Fatalf("secret shown: %q", secret)
			}
			b.open("/tokens")
			b.visible(`#tokens tr[data-name="laptop CLI"]`)
			if n := value(b, "secret on reload", chromedp.Evaluate[int](`document.querySelectorAll('#secret').length`)); n != 0 {
				t.Fatal("the secret is shown again")
			}
		}},
		{"EveryPageLoadsWithoutError", func(t *testing.T) {
			for _, p := range uiAllPages {
				b.open(p)
				b.waitPath(p)
				b.visible(`main[aria-busy="false"]`)
				shown := value(b, "errors on "+p, chromedp.Evaluate[[]string](
					`[...document.querySelectorAll('.error')].filter(e => !e.hidden).map(e => e.textContent)`))
				if len(shown) > 0 {
					t.Errorf("%s shows errors: %q", p, shown)
				}
			}
		}},
		{"UserSeesNoAdministration", func(t *testing.T) {
			u := newTab(t, base)
			u.open("/login")
			u.typeIn("#login-form input[name=email]", "ann@example.com")
			u.typeIn("#login-form input[name=password]", password)
			u.click("#login-form button[type=submit]")
			u.waitPath("/spaces")
			nav := value(u, "navigation", chromedp.Evaluate[[]string](`[...document.querySelectorAll('header nav a')].map(a => a.textContent)`))
			if got := strings.Join(nav, ","); got != "Spaces,Templates,API tokens" {
				t.Fatalf("navigation %q", got)
			}
			for _, api := range []struct{ method, path string }{
				{"GET", "/api/users"},
				{"GET", "/api/audit-logs"},
				{"GET", "/api/templatevars"},
				{"POST", "/api/groups"},
			} {
				var body any
				if api.method == "POST" {
					body = map[string]string{"name": "mine"}
				}
				if r := u.fetch(api.method, api.path, body, true); r.Status != http.StatusForbidden {
					t.Errorf("%s %s = %d %s, want 403", api.method, api.path, r.Status, r.Body)
				}
			}
			u.open("/templates")
			u.visible(`#templates tr[data-name="laptop"]`)
			if hidden := value(u, "new-template hidden", chromedp.Evaluate[bool](`document.getElementById('new-template').hidden`)); !hidden {
				t.Error("a user without Manage Templates is offered New template")
			}
			u.open("/users")
			if msg := u.text("#page-error"); !strings.Contains(msg, "Manage Users") {
				t.Errorf("users page refusal says %q", msg)
			}
		}},
		{"OwnPasswordChangeAsksForTheCurrentOne", func(t *testing.T) {
			b.open("/users")
			b.click(`#users tr[data-name="admin"] button[data-action="edit"]`)
			b.visible("#current-password")
			b.typeIn("#editor input[name=password]", "another-long-password")
			b.click("#editor button[type=submit]")
			if msg := b.text("#editor .field-error"); !strings.HasPrefix(msg, "Current password is required") {
				t.Fatalf("error shown without the current password: %q", msg)
			}
			b.typeIn("#editor input[name=current_password]", password)
			b.click("#editor button[type=submit]")
			b.do("wait for the editor to close", chromedp.WaitNotVisible(chromedp.CSS("#editor")))
			login := map[string]string{"email": "admin@example.com", "password": "another-long-password"}
			if r := b.fetch("POST", "/api/auth", login, false); r.Status != http.StatusOK {
				t.Fatalf("login with the new password = %d %s", r.Status, r.Body)
			}
		}},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			b.t = t // the steps run one after another, each failing its own test
			s.fn(t)
		})
		if !ok {
			return
		}
	}
}
