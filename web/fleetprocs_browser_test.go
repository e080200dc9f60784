package web_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// fleetKey seals the TOTP secrets of the walk's servers.
const fleetKey = "VF9hmdXZyzNF3rcP6M0PVF9hmdXZyzNF"

// TestFleetProcessesInBrowser walks knot in Chromium as a team starts it,
// against real knot server processes on loopback: an origin, and a leaf
// that runs its spaces on a private Docker engine. The admin sets up the
// origin and logs in with a TOTP code, issues the leaf's token, writes a
// template (a bad spec's error shows at its line), creates a space at the
// leaf's location from the origin and starts it, types a command in its
// terminal and reads the output, reloads and reattaches, follows its log,
// rotates the leaf's token (the leaf, restarted with the new one, keeps
// replicating), sees a refused action's error stay, and a user sees no
// administration; when the origin process stops, the leaf's pages say so.
func TestFleetProcessesInBrowser(t *testing.T) {
	e := startDocker(t)
	bin := e.Knot(t)
	shared := randomHex(t)
	origin := startKnotServer(t, bin, t.TempDir(), "--listen", "127.0.0.1:0", "--listen-agent", "127.0.0.1:0",
		"--location", "hq", "--shared-token", shared, "--totp-enabled", "--encrypt", fleetKey)
	// The leaf keeps its store in leafDir across a restart.
	leafDir := t.TempDir()
	var leaf *knotProc
	startLeaf := func(token string) {
		leaf = startKnotServer(t, bin, leafDir, "--listen", "127.0.0.1:0", "--listen-agent", "127.0.0.1:0",
			"--location", "branch", "--shared-token", token, "--origin-server", origin.base, "--docker-host", e.Host,
			"--totp-enabled", "--encrypt", fleetKey)
	}
	defer func() {
		if t.Failed() {
			t.Logf("origin log:\n%s", origin)
			if leaf != nil {
				t.Logf("leaf log:\n%s", leaf)
			}
		}
	}()
	const password = "a-long-password"
	b := newTab(t, origin.base)
	shots := t.TempDir()
	var totpSecret, leafToken, spacePage string
	var loggedIn time.Time // when the admin's code logged in at the origin
	var leafTab *tab       // opened by a step, used by later ones
	top := t

	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"FirstUserSetupAndTOTPLogin", func(t *testing.T) {
			b.open("/")
			b.waitPath("/login")
			totpSecret = b.setupWithTOTP(password)
			b.visible("#totp-qr")
			loggedIn = time.Now()
			b.typeIn("#login-form input[name=totp_code]", codeAt(t, totpSecret, loggedIn))
			b.click("#login-form button[type=submit]")
			b.waitPath("/spaces")
			b.open("/account")
			b.pollUntil("the account page says two-factor login is on", `document.querySelector('#totp-state').textContent.startsWith('On.')`, stepTimeout)
		}},
		{"LeafTokenIssuedAndTheLeafConnects", func(t *testing.T) {
			b.open("/leaves")
			b.typeIn("#leaf-token-form input[name=location]", "branch")
			b.typeIn("#leaf-token-form input[name=name]", "rack 1")
			b.click("#leaf-token-form button[type=submit]")
			b.visible(`#leaf-tokens tr[data-location="branch"]`)
			leafToken = b.text("#secret")
			startLeaf(leafToken)
			// The Leaves page refreshes itself: the leaf shows up.
			b.pollUntil("the leaf shows connected", `document.querySelector('#leaves tr[data-location="branch"][data-connected="true"]')`, 30*time.Second)
			if got := b.text(`#leaves tr[data-location="branch"][data-connected="true"] td:nth-child(5)`); got != "docker" {
				t.Errorf("the leaf's runtimes shown as %q", got)
			}
			b.screenshots(shots, "procs-leaves")
		}},
		{"TemplateErrorAtItsLine", func(t *testing.T) {
			b.open("/templates")
			b.click("#new-template")
			b.visible("#editor")
			b.typeIn("#editor input[name=name]", "box")
			b.setValue("#editor select[name=kind]", "container")
			// Line 3 is indented less than its block.
			bad := "image: " + e.Image + "\nnetwork: host\n  environment: [A=1]\nx\n"
			b.do("type the spec", chromedp.SendKeys(chromedp.CSS("#editor textarea[name=spec]"), bad))
			b.pollUntil("the error is marked at a line", `document.querySelector('#editor .ce-message')?.dataset.line`, stepTimeout)
			msg := b.text("#editor .ce-message")
			line := eval[string](b, "the marked line", `document.querySelector('#editor .ce-message').dataset.line`)
			if line != "3" || !strings.HasPrefix(msg, "Line 3: ") {
				t.Fatalf("the error %q is marked at line %s, want 3", msg, line)
			}
			b.setValue("#editor textarea[name=spec]", "image: "+e.Image+"\nnetwork: host\n")
			b.click("#editor button[type=submit]")
			b.visible(`#templates tr[data-name="box"]`)
		}},
		{"SpaceAtTheLeafStarts", func(t *testing.T) {
			b.open("/spaces")
			b.click("#new-space")
			b.visible("#editor")
			b.typeIn("#editor input[name=name]", "dev")
			id := eval[string](b, "template id", `[...document.querySelectorAll('#editor select[name=template_id] option')].find(o => o.textContent.startsWith('box')).value`)
			b.setValue("#editor select[name=template_id]", id)
			b.typeIn("#editor input[name=location]", "branch")
			b.click("#editor button[type=submit]")
			row := `#spaces tr[data-name="dev"]`
			b.visible(row)
			if got := b.text(row + " td:nth-child(4)"); got != "branch" {
				t.Errorf("the space's location shown as %q", got)
			}
			b.click(row + ` button[data-action="start"]`)
			b.pollUntil("the space runs", `document.querySelector('#spaces tr[data-name="dev"][data-state="running"]')`, 90*time.Second)
			spacePage = eval[string](b, "the space's page", `document.querySelector('#spaces tr[data-name="dev"] .name a').getAttribute('href')`)
		}},
		{"TerminalInTheSpacePage", func(t *testing.T) {
			b.click(`#spaces tr[data-name="dev"] .name a`)
			b.waitPath(spacePage)
			b.pollUntil("the agent connects", `document.querySelector('#space-agent').textContent.startsWith('Connected')`, 60*time.Second)
			b.pollUntil("the terminal opens a session at the leaf", `document.querySelector('#terminal').dataset.session`, 30*time.Second)
			b.typeInTerminal("echo procs-$((6*7))-done")
			b.pollUntil("the command's output shows", `document.querySelector('#terminal .xterm-rows').textContent.includes('procs-42-done')`, 20*time.Second)
		}},
		{"ReloadReattaches", func(t *testing.T) {
			before := eval[string](b, "session", `document.querySelector('#terminal').dataset.session`)
			b.open(spacePage)
			b.pollUntil("the page reattaches", `document.querySelector('#terminal-status').textContent.startsWith('Reattached')`, 30*time.Second)
			if after := eval[string](b, "session", `document.querySelector('#terminal').dataset.session`); after != before {
				t.Fatalf("reattached to session %q, not %q", after, before)
			}
			b.pollUntil("the earlier output is replayed", `document.querySelector('#terminal .xterm-rows').textContent.includes('procs-42-done')`, 20*time.Second)
			// Only now the screenshots: the one at 390 px narrows the
			// terminal, and busybox ash, told of a new size at its
			// prompt, may redraw the prompt lines up and clear below it,
			// over the output (the replay would faithfully show that).
			b.screenshots(shots, "procs-space")
		}},
		{"LogsFollowed", func(t *testing.T) {
			var logs struct{ Entries []struct{ Text string } }
			mustFetch(t, b.fetch("GET", "/api"+spacePage+"/logs", nil, false), http.StatusOK, &logs)
			if len(logs.Entries) == 0 {
				t.Fatal("the space has no log")
			}
			last := logs.Entries[len(logs.Entries)-1].Text
			b.pollUntil("the log shows its last line", fmt.Sprintf(`document.querySelector('#logs').textContent.includes(%q)`, last), 15*time.Second)
			b.pollUntil("the log is followed", `document.querySelector('#logs-status').textContent === 'Following the log.'`, 15*time.Second)
		}},
		{"LeafTokenRotatedTheLeafKeepsWorking", func(t *testing.T) {
			b.open("/leaves")
			b.visible(`#leaves tr[data-location="branch"][data-connected="true"]`)
			old := eval[string](b, "the token's key", `document.querySelector('#leaf-tokens tr[data-location="branch"]').dataset.key`)
			b.click(`#leaf-tokens tr[data-key="` + old + `"] button[data-action="rotate"]`)
			b.visible("#rotate-dialog")
			b.setValue("#rotate-dialog select[name=overlap]", "1h")
			b.click("#rotate-dialog button[type=submit]")
			b.pollUntil("two tokens of branch", `document.querySelectorAll('#leaf-tokens tr[data-location="branch"]').length === 2`, stepTimeout)
			next := b.text("#secret")
			if next == leafToken || len(next) < 20 {
				t.Fatalf("the rotation showed %q", next)
			}
			// The leaf restarts with the new token, and the old one goes.
			if err := leaf.stop(); err != nil {
				t.Fatalf("the leaf exited with %v", err)
			}
			startLeaf(next)
			b.click(`#leaf-tokens tr[data-key="` + old + `"] button[data-action="revoke"]`)
			b.visible("#confirm-dialog")
			b.click("#confirm-ok")
			b.gone(`#leaf-tokens tr[data-key="` + old + `"]`)
			b.pollUntil("the leaf shows connected on the new token", `document.querySelector('#leaves tr[data-location="branch"][data-connected="true"]')`, 30*time.Second)
			// What the origin changes now reaches the leaf.
			mustFetch(t, b.fetch("POST", "/api/groups", map[string]string{"name": "after-rotation"}, true), http.StatusCreated, nil)
			l := newTab(top, leaf.base)
			l.open("/login")
			l.typeIn("#login-form input[name=email]", "admin@example.com")
			l.typeIn("#login-form input[name=password]", password)
			l.typeIn("#login-form input[name=totp_code]", codeAfter(t, totpSecret, loggedIn))
			l.click("#login-form button[type=submit]")
			l.waitPath("/spaces")
			l.open("/groups")
			l.pollUntil("the group made after the rotation shows at the leaf", `document.querySelector('#groups tr[data-name="after-rotation"]')`, 30*time.Second)
			leafTab = l
		}},
		{"RefusedActionErrorStays", func(t *testing.T) {
			b.open("/templates")
			b.click(`#templates tr[data-name="box"] button[data-action="delete"]`)
			b.visible("#confirm-dialog")
			b.click("#confirm-ok")
			alert := `#alerts [role="alert"] p`
			if msg := b.text(alert); !strings.Contains(msg, "Could not delete box") || !strings.Contains(msg, "used by 1 space:") {
				t.Fatalf("the error shown is %q", msg)
			}
			// Longer than the page's refresh, which must not take it away.
			b.stays("the error stays", `document.querySelector('`+alert+`')?.textContent.includes('Could not delete box')`, 4*time.Second)
			b.visible(`#templates tr[data-name="box"]`)
		}},
		{"UserSeesNoAdministration", func(t *testing.T) {
			mustFetch(t, b.fetch("POST", "/api/users", map[string]any{"username": "ann", "email": "ann@example.com", "password": password}, true), http.StatusCreated, nil)
			u := newTab(t, origin.base)
			u.open("/login")
			u.typeIn("#login-form input[name=email]", "ann@example.com")
			u.typeIn("#login-form input[name=password]", password)
			u.click("#login-form button[type=submit]")
			secret := u.text("#totp-secret")
			u.typeIn("#login-form input[name=totp_code]", codeAt(t, secret, time.Now()))
			u.click("#login-form button[type=submit]")
			u.waitPath("/spaces")
			nav := eval[[]string](u, "navigation", `[...document.querySelectorAll('header nav a')].map(a => a.getAttribute('href'))`)
			if !slices.Contains(nav, "/spaces") {
				t.Fatalf("the navigation is %q", nav)
			}
			adminPages := []string{"/users", "/groups", "/roles", "/variables", "/audit-logs", "/leaves"}
			for _, p := range adminPages {
				if slices.Contains(nav, p) {
					t.Errorf("a user is offered %s in %q", p, nav)
				}
			}
			// Opened by their address, they say the user may not see them.
			for _, p := range adminPages {
				u.open(p)
				if msg := u.text("#page-error"); msg == "" {
					t.Errorf("%s shows a user no refusal", p)
				}
				if n := eval[int](u, "rows", `document.querySelectorAll('main table tbody tr').length`); n != 0 {
					t.Errorf("%s shows a user %d rows", p, n)
				}
			}
			for _, api := range []struct {
				path string
				body any
			}{
				{"/api/users", map[string]string{"username": "eve", "email": "eve@example.com", "password": password}},
				{"/api/groups", map[string]string{"name": "mine"}},
				{"/api/roles", map[string]any{"name": "mine", "permissions": []int{}}},
				{"/api/templatevars", map[string]string{"name": "MINE", "value": "x"}},
				{"/api/leaf-tokens", map[string]string{"location": "elsewhere"}},
			} {
				if r := u.fetch("POST", api.path, api.body, true); r.Status != http.StatusForbidden {
					t.Errorf("POST %s as a user = %d %s, want 403", api.path, r.Status, r.Body)
				}
			}
			u.open("/users")
			if msg := u.text("#page-error"); !strings.Contains(msg, "Manage Users") {
				t.Errorf("the users page says %q", msg)
			}
		}},
		{"OriginStoppedTheLeafSaysSo", func(t *testing.T) {
			l := leafTab
			l.open("/spaces")
			if !eval[bool](l, "banner hidden", `document.getElementById('origin-banner').hidden`) {
				t.Fatal("the banner shows while the origin runs")
			}
			if err := origin.stop(); err != nil {
				t.Fatalf("the origin exited with %v", err)
			}
			l.pollUntil("the banner shows", `!document.getElementById('origin-banner').hidden`, 30*time.Second)
			if msg := l.text("#origin-banner"); !strings.Contains(msg, "has been unreachable since") || !strings.Contains(msg, "they change at the origin") {
				t.Errorf("the banner says %q", msg)
			}
			l.open("/groups")
			l.visible(`#groups tr[data-name="after-rotation"]`)
			l.pollUntil("New group disabled", `document.getElementById('new-group').disabled`, stepTimeout)
			l.screenshots(shots, "procs-leaf-banner")
		}},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			b.t = t // the steps run one after another, each failing its own test
			if leafTab != nil {
				leafTab.t = t
			}
			s.fn(t)
		})
		if !ok {
			return
		}
	}
}

// mustFetch checks the status of what the page's fetch got and decodes its
// body into v, unless v is nil.
func mustFetch(t *testing.T, r fetchResult, want int, v any) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("= %d %s, want %d", r.Status, r.Body, want)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(r.Body), v); err != nil {
			t.Fatal(err)
		}
	}
}

// codeAfter returns the current TOTP code of secret, once its 30 s step is
// not that of used, when a code logged in: a code is taken once. (The
// walk is longer than a step, so this rarely waits, and then for the
// clock, not for a server.)
func codeAfter(t *testing.T, secret string, used time.Time) string {
	t.Helper()
	next := used.Truncate(30 * time.Second).Add(30 * time.Second)
	if wait := time.Until(next); wait > 0 {
		<-time.After(wait)
	}
	return codeAt(t, secret, time.Now())
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
