package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// axeSource is axe-core, vendored by `make vendor-test`.
var axeSource = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile("testdata/axe/axe.min.js")
	return string(b), err
})

// axeRun is a script: axe-core's check of the page, reduced to its serious
// and critical violations, one line per element.
const axeRun = `axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
	.filter(v => v.impact === 'serious' || v.impact === 'critical')
	.flatMap(v => v.nodes.map(n => v.id + ' (' + v.impact + '): ' + n.target.join(' ') + ' ' + n.html.slice(0, 160).replace(/\s+/g, ' ') +
		(n.failureSummary ? ' -- ' + n.failureSummary.replace(/\s+/g, ' ').slice(0, 240) : ''))))`

// axeView is a view in which a page is checked: a window width and a colour
// scheme.
type axeView struct {
	width, height int64
	scheme        string
}

// axeViews are the views of every check: a desktop and a phone, each light
// and dark.
var axeViews = []axeView{{1280, 900, "light"}, {1280, 900, "dark"}, {390, 844, "light"}, {390, 844, "dark"}}

// checkAccessibility runs axe-core in the page the tab shows, in every
// view of axeViews, and fails the test with each serious or critical
// violation, naming the rule, the page and the element. It leaves the tab
// at the desktop width in the light scheme.
func (b *tab) checkAccessibility(page string) {
	b.t.Helper()
	for _, v := range axeViews {
		b.do("view", chromedp.EmulateViewport(v.width, v.height), colorScheme(v.scheme))
		b.axe(fmt.Sprintf("%s at %d px, %s", page, v.width, v.scheme))
	}
	b.do("desktop view", chromedp.EmulateViewport(1280, 900), colorScheme(""))
}

// axe runs axe-core in the page as it is shown and fails the test with
// each serious or critical violation, after where, which says the page
// and the view.
func (b *tab) axe(where string) {
	b.t.Helper()
	src, err := axeSource()
	if err != nil {
		b.t.Fatalf("axe-core (make vendor-test): %v", err)
	}
	if !eval[bool](b, "axe-core loaded", `typeof axe === 'object'`) {
		eval[bool](b, "load axe-core", src+"\n;true")
	}
	for _, f := range value(b, "axe on "+where, chromedp.Evaluate[[]string](axeRun, chromedp.EvalAwaitPromise)) {
		b.t.Errorf("%s: %s", where, f)
	}
}

// sessionCookie returns the tab's session cookie, failing the test unless
// it is there, HttpOnly (no script reads it) and SameSite.
func (b *tab) sessionCookie() string {
	b.t.Helper()
	got := value(b, "cookies", chromedp.Action[[]*network.Cookie](func(ctx context.Context, t *chromedp.Target) ([]*network.Cookie, error) {
		r, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{})
		if err != nil {
			return nil, err
		}
		return r.Cookies, nil
	}))
	for _, c := range got {
		if c.Name != "__KNOT_SESSION" {
			continue
		}
		if !c.HTTPOnly || (c.SameSite != network.CookieSameSiteStrict && c.SameSite != network.CookieSameSiteLax) {
			b.t.Errorf("the session cookie is HttpOnly %v, SameSite %q", c.HTTPOnly, c.SameSite)
		}
		return c.Value
	}
	b.t.Fatal("no session cookie")
	return ""
}

// holdsNoSecret fails the test when the page, as shown, or its URL holds
// one of secrets.
func (b *tab) holdsNoSecret(page string, secrets []string) {
	b.t.Helper()
	all := eval[string](b, "page", `location.href + '\n' + document.documentElement.outerHTML`)
	for _, s := range secrets {
		if s != "" && strings.Contains(all, s) {
			b.t.Errorf("%s holds the secret %.8s… in its HTML or URL", page, s)
		}
	}
}

// rowButtonsUnnamed is a script: the buttons of the page's list rows whose
// accessible name does not name their row, as "Stop dev" does: the
// button's word alone ("Stop") says nothing of which row it acts on.
const rowButtonsUnnamed = `[...document.querySelectorAll('table tbody tr button')]
	.filter((e) => { const l = (e.getAttribute('aria-label') || '').trim(); const w = e.textContent.trim(); return !(l.length > w.length && l.toLowerCase().startsWith(w.toLowerCase() + ' ')); })
	.map((e) => (e.closest('table').id || 'table') + ': ' + (e.getAttribute('aria-label') || e.textContent.trim()))`

// shoot saves the page's screenshots at the desktop width and at 390 px,
// as <name>-desktop.png and <name>-390.png, and at the desktop width in
// the dark scheme, as <name>-dark.png, in dir and, when
// KNOT_UI_SCREENSHOTS names a directory, there too (as knot-ui-<name>-…).
func (b *tab) shoot(dir, name string) {
	b.t.Helper()
	b.screenshots(dir, "page-"+name)
	b.do("dark scheme", colorScheme("dark"))
	b.screenshot(dir, "page-"+name+"-dark.png")
	b.do("the page's own scheme", colorScheme(""))
}

// TestUIAccessibilityInBrowser runs axe-core on every page of the UI, as
// an administrator of an origin with a leaf would see them, with rows in
// every list and a space whose agent is linked: its page, at the leaf and
// at the origin, shows the agent connected, a command run in its terminal
// and its live log. It checks at a desktop's and a phone's width, in the
// light and the dark scheme. A serious or critical violation fails the test, and so does
// a page that shows a credential or carries one in its URL. Each page's
// screenshots are saved at both widths (KNOT_UI_SCREENSHOTS keeps them).
func TestUIAccessibilityInBrowser(t *testing.T) {
	if _, err := axeSource(); err != nil {
		t.Fatalf("axe-core is vendored by make vendor-test: %v", err)
	}
	af := newAgentFleet(t)
	f := af.fleet
	ob := f.originSW.srv.URL
	f.waitConnected(true)
	shots := t.TempDir()
	if dir := os.Getenv("KNOT_UI_SCREENSHOTS"); dir != "" {
		t.Logf("screenshots in %s", dir)
	}

	b := newTab(t, ob)
	// secrets are the credentials no page may show or carry in its URL: the
	// API and leaf tokens' secrets and the session cookies.
	var secrets []string
	// visit checks the page at path and saves its screenshots as name,
	// once ready, if given, has brought the page to what it shows.
	visit := func(t *testing.T, b *tab, path, name string, ready ...func(*tab)) {
		t.Helper()
		b.t = t
		b.open(path)
		b.visible(`main[aria-busy="false"]`)
		for _, r := range ready {
			r(b)
		}
		b.checkAccessibility(path)
		b.holdsNoSecret(path, secrets)
		for _, bad := range eval[[]string](b, "row buttons", rowButtonsUnnamed) {
			t.Errorf("%s: the row button %q does not name its row", path, bad)
		}
		b.shoot(shots, name)
	}

	t.Run("FirstUserSetup", func(t *testing.T) {
		visit(t, b, "/login", "setup")
	})

	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}, nil)
	session := f.login(ob)
	// A row in every list: rows are where names, badges and buttons are.
	var tmpl, role, group struct {
		Template string `json:"template_id"`
		Role     string `json:"role_id"`
		Group    string `json:"group_id"`
	}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/templates", session, map[string]any{"name": "byo", "kind": "manual", "description": "Your own machine, with the agent",
		"http_ports": []map[string]any{{"port": 8080, "name": "Site"}}}, &tmpl)
	mustCall(t, http.StatusCreated, ob, "POST", "/api/templates", session, map[string]any{"name": "dev-box", "kind": "container", "spec": "image: debian:bookworm\n", "description": "Debian with the usual tools"}, nil)
	mustCall(t, http.StatusCreated, ob, "POST", "/api/templatevars", session, map[string]any{"name": "REGISTRY", "value": "r.example"}, nil)
	mustCall(t, http.StatusCreated, ob, "POST", "/api/roles", session, map[string]any{"name": "auditors", "permissions": []int{9}}, &role)
	mustCall(t, http.StatusCreated, ob, "POST", "/api/groups", session, map[string]any{"name": "team"}, &group)
	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", session, map[string]any{"username": "ann", "email": "ann@example.com", "password": testPassword}, nil)
	var apiToken, leafToken struct {
		Token string `json:"token"`
	}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/tokens", session, map[string]any{"name": "laptop CLI"}, &apiToken)
	mustCall(t, http.StatusCreated, ob, "POST", "/api/leaf-tokens", session, map[string]any{"location": "edge", "name": "rack 2"}, &leafToken)
	secrets = append(secrets, session, apiToken.Token, leafToken.Token)
	var sp api.SpaceCreated
	mustCall(t, http.StatusCreated, ob, "POST", "/api/spaces", session, map[string]any{"name": "dev", "template_id": tmpl.Template, "location": "away"}, &sp)
	mustCall(t, http.StatusOK, ob, "POST", "/api/spaces/"+sp.SpaceID+"/start", session, nil, nil)
	secrets = append(secrets, sp.AgentToken)
	// The space's agent links at the leaf, and the origin hears of it.
	af.runAgent(t, sp.SpaceID, sp.AgentToken, "test")
	eventually(t, 30*time.Second, func() string {
		var s api.Space
		mustCall(t, http.StatusOK, ob, "GET", "/api/spaces/"+sp.SpaceID, session, nil, &s)
		if s.Agent == nil || !s.Agent.Connected || s.Agent.Version != "test" {
			return fmt.Sprintf("the origin shows the agent of dev as %+v", s.Agent)
		}
		return ""
	})
	mustCall(t, http.StatusCreated, ob, "POST", "/api/spaces", session, map[string]any{"name": "docs", "template_id": tmpl.Template, "location": "away"}, nil)

	t.Run("Login", func(t *testing.T) {
		visit(t, newTab(t, ob), "/login", "login")
	})
	b.t = t
	b.open("/login")
	b.login("admin@example.com", testPassword, "/spaces")
	secrets = append(secrets, b.sessionCookie())
	for _, p := range []struct {
		path, name string
		ready      []func(*tab)
	}{
		{"/spaces", "spaces", nil},
		{"/spaces/" + sp.SpaceID, "space", []func(*tab){spaceInUse("echo hello from knot", "hello from knot")}},
		{"/templates", "templates", nil},
		{"/variables", "variables", nil},
		{"/users", "users", nil},
		{"/groups", "groups", nil},
		{"/roles", "roles", nil},
		{"/audit-logs", "audit-logs", nil},
		{"/leaves", "leaves", nil},
		{"/tokens", "tokens", nil},
		{"/account", "account", nil},
		{"/connect?" + url.Values{"port": {"5555"}, "state": {"state-1234"}, "host": {"laptop"},
			"challenge": {shared.ConnectChallenge("a-verifier-of-the-cli-0123456789abcdefghijklm")}}.Encode(), "connect", nil},
		{"/no/such/page", "not-found", nil},
	} {
		t.Run(strings.ReplaceAll(strings.Trim(p.name, "/"), "/", "-"), func(t *testing.T) {
			visit(t, b, p.path, p.name, p.ready...)
		})
	}
	// The dialogs of the pages, open.
	for _, d := range []struct{ path, button, dialog string }{
		{"/spaces", "#new-space", "#editor"},
		{"/templates", "#new-template", "#editor"},
		{"/users", "#new-user", "#editor"},
		{"/groups", "#new-group", "#editor"},
		{"/roles", "#new-role", "#editor"},
		{"/variables", "#new-variable", "#editor"},
		{"/spaces", `#spaces tr[data-name="docs"] button[data-action="delete"]`, "#confirm-dialog"},
		{"/spaces/" + sp.SpaceID, `#space-actions button[data-action="edit"]`, "#editor"},
		{"/leaves", `#leaf-tokens tr[data-location="edge"] button[data-action="rotate"]`, "#rotate-dialog"},
	} {
		name := strings.Trim(d.path, "/")
		if strings.HasPrefix(name, "spaces/") {
			name = "space"
		}
		t.Run("Dialog-"+name+"-"+strings.TrimPrefix(d.dialog, "#"), func(t *testing.T) {
			b.t = t
			b.open(d.path)
			b.visible(`main[aria-busy="false"]`)
			b.click(d.button)
			b.visible(d.dialog)
			b.checkAccessibility(fmt.Sprintf("%s with %s open", d.path, d.dialog))
			b.do("close the dialog", chromedp.KeyEvent(kb.Escape))
		})
	}
	t.Run("MenuOpenOnAPhone", func(t *testing.T) {
		b.t = t
		b.open("/spaces")
		b.visible(`main[aria-busy="false"]`)
		b.do("phone width", chromedp.EmulateViewport(390, 844))
		// The menu closes when the window narrows (navmenu.js): that event
		// comes with a rendering of the page, so the click waits for two.
		b.do("wait for the narrow window", chromedp.Poll[chromedp.Void](`matchMedia('(max-width: 72rem)').matches`, chromedp.WithPollingTimeout(stepTimeout)))
		value(b, "two frames", chromedp.Evaluate[bool](`new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))`, chromedp.EvalAwaitPromise))
		b.click("#nav-toggle")
		b.do("wait for the links", chromedp.Poll[chromedp.Void](navLinksShown, chromedp.WithPollingTimeout(stepTimeout)))
		for _, scheme := range []string{"light", "dark"} {
			b.do("scheme", colorScheme(scheme))
			b.axe("/spaces at 390 px with the menu open, " + scheme)
		}
		b.do("desktop view", chromedp.EmulateViewport(1280, 900), colorScheme(""))
	})
	t.Run("Refusal", func(t *testing.T) {
		u := newTab(t, ob)
		u.open("/login")
		u.login("ann@example.com", testPassword, "/spaces")
		secrets = append(secrets, u.sessionCookie())
		visit(t, u, "/users", "forbidden")
	})
	// On the leaf where the space runs: its page with the terminal and the
	// log, and, with the origin down, the banner every page shows.
	l := newTab(t, f.leafSrv.URL)
	l.open("/login")
	l.login("admin@example.com", testPassword, "/spaces")
	secrets = append(secrets, l.sessionCookie())
	t.Run("LeafSpacePage", func(t *testing.T) {
		visit(t, l, "/spaces/"+sp.SpaceID, "leaf-space", spaceInUse("echo hello again at the leaf", "hello again at the leaf"))
	})
	t.Run("LeafBanner", func(t *testing.T) {
		f.stopOrigin()
		f.waitConnected(false)
		l.t = t
		l.open("/spaces")
		l.visible("#origin-banner")
		visit(t, l, "/spaces", "leaf-banner")
	})
}

// spaceInUse brings the page of a space whose agent is linked to what its
// user sees at work: the agent connected, the command line run in the
// terminal with its output want, and the agent's own lines in the live log.
func spaceInUse(line, want string) func(*tab) {
	return func(b *tab) {
		b.t.Helper()
		rows := `[...document.querySelectorAll('#terminal .xterm-rows > div')].map((r) => r.textContent.trimEnd())`
		b.pollUntil("the agent shows connected", `document.querySelector('#space-agent').textContent === 'Connected, version test'`, 30*time.Second)
		b.pollUntil("the terminal opens a session", `document.querySelector('#terminal').dataset.session`, 30*time.Second)
		b.pollUntil("the shell's prompt shows", rows+`.some((r) => /[#$]$/.test(r))`, 20*time.Second)
		b.typeInTerminal(line)
		b.pollUntil("the command's output shows", rows+`.includes(`+strconv.Quote(want)+`)`, 20*time.Second)
		b.pollUntil("the log shows the agent's lines", `document.querySelector('#logs').textContent.includes('agent linked to its leaf')`, 20*time.Second)
	}
}
