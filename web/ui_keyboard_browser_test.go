package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// holdFetches is a script that runs in every page before the page's own:
// while window.__hold is true, the page's requests to paths starting with
// prefix wait, until window.__release() lets them go.
const holdFetches = `(() => {
	const real = window.fetch.bind(window);
	const held = [];
	window.__hold = true;
	window.__release = () => { window.__hold = false; held.splice(0).forEach((go) => go()); };
	window.fetch = (input, init) => (window.__hold && String(input).startsWith(%q))
		? new Promise((resolve, reject) => held.push(() => real(input, init).then(resolve, reject)))
		: real(input, init);
})()`

// onEveryPage runs script in every page the tab opens from now on, before
// the page's scripts.
func onEveryPage(script string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script})
		return err
	})
}

// focused is a script: the accessible name of the element with the focus.
const focused = `(() => { const e = document.activeElement; return e === document.body ? 'body' : (e.getAttribute('aria-label') || e.id || e.textContent.trim()); })()`

// TestUIKeyboardInBrowser checks in Chromium what a keyboard user relies on:
// every page starts with a skip link to its main content; a dialog gives the
// focus back to the button that opened it, even when saving rebuilt that
// button's row; a list says it is loading until it knows, and only then
// that it is empty; and a user who may not use spaces lands, after logging
// in, on a page they may see.
func TestUIKeyboardInBrowser(t *testing.T) {
	base := startUIServer(t)
	b := newTab(t, base)
	shots := t.TempDir()
	const password = "a-long-password"

	b.setUpAdmin(password)
	r := b.fetch("POST", "/api/roles", map[string]any{"name": "auditors", "permissions": []int{9}}, true)
	if r.Status != http.StatusCreated {
		t.Fatalf("create role = %d %s", r.Status, r.Body)
	}
	roleID := eval[string](b, "role id", fmt.Sprintf(`JSON.parse(%q).role_id`, r.Body))
	if r := b.fetch("POST", "/api/users", map[string]any{"username": "audrey", "email": "audrey@example.com", "password": password, "roles": []string{roleID}}, true); r.Status != http.StatusCreated {
		t.Fatalf("create user = %d %s", r.Status, r.Body)
	}
	if r := b.fetch("POST", "/api/groups", map[string]any{"name": "team"}, true); r.Status != http.StatusCreated {
		t.Fatalf("create group = %d %s", r.Status, r.Body)
	}

	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"EveryPageStartsWithASkipLink", func(t *testing.T) {
			for _, p := range append(uiAllPages[:len(uiAllPages):len(uiAllPages)], "/no/such/page") {
				b.open(p)
				b.visible(`main[aria-busy="false"]`)
				b.do("tab to the first link", chromedp.KeyEvent("\t"))
				if got := eval[string](b, "first focus", `document.activeElement.textContent + ' -> ' + document.activeElement.getAttribute('href')`); got != "Skip to main content -> #main" {
					t.Errorf("%s: the first Tab reaches %q", p, got)
					continue
				}
				if !eval[bool](b, "skip link shown", `document.activeElement.getBoundingClientRect().top >= 0`) {
					t.Errorf("%s: the focused skip link is off the screen", p)
				}
				b.do("follow the skip link", chromedp.KeyEvent("\r"))
				if got := eval[string](b, "focus after skip", `document.activeElement.id`); got != "main" {
					t.Errorf("%s: after the skip link the focus is on #%s", p, got)
				}
			}
		}},
		{"DialogGivesTheFocusBack", func(t *testing.T) {
			b.open("/groups")
			b.visible(`#groups tr[data-name="team"] button[data-action="edit"]`)
			eval[bool](b, "focus New group", `(document.getElementById('new-group').focus(), true)`)
			b.do("open the dialog", chromedp.KeyEvent("\r"))
			b.visible("#editor")
			b.do("close it with Escape", chromedp.KeyEvent(kb.Escape))
			b.do("wait for the dialog to close", chromedp.WaitNotVisible(chromedp.CSS("#editor")))
			if got := eval[string](b, "focus", focused); got != "new-group" {
				t.Errorf("after Escape the focus is on %q, want New group", got)
			}

			// Saving rebuilds the row, and its Edit button with it.
			eval[bool](b, "focus Edit team", `(document.querySelector('#groups tr[data-name="team"] button[data-action="edit"]').focus(), true)`)
			b.do("open the editor", chromedp.KeyEvent("\r"))
			b.visible("#editor")
			b.typeIn("#editor input[name=max_spaces]", "3")
			b.do("save with Enter", chromedp.KeyEvent("\r"))
			b.do("wait for the dialog to close", chromedp.WaitNotVisible(chromedp.CSS("#editor")))
			if got := b.text(`#groups tr[data-name="team"] td:nth-child(2)`); got != "3" {
				t.Fatalf("the row shows max spaces %q after saving 3", got)
			}
			// The focus moves once the rebuilt row is in: wait for it.
			b.pollUntil("after saving, the focus on Edit team", focused+" === 'Edit team'", 5*time.Second)
		}},
		{"LoadingIsNotEmpty", func(t *testing.T) {
			h := newTab(t, base)
			h.do("hold the spaces", onEveryPage(fmt.Sprintf(holdFetches, "/api/spaces")))
			h.open("/login")
			h.login("admin@example.com", password, "/spaces")
			h.visible("#loading")
			if got := h.text("#loading"); got != "Loading…" {
				t.Errorf("while loading the page says %q", got)
			}
			if eval[bool](h, "empty shown", `document.getElementById('empty').checkVisibility()`) {
				t.Error("the page says there are no spaces before it knows")
			}
			if got := eval[[]string](h, "pager buttons shown", `[...document.querySelectorAll('#space-pager button')].filter(e => e.checkVisibility()).map(e => e.textContent)`); len(got) != 0 {
				t.Errorf("while loading the page offers %q, with nothing to page through", got)
			}
			h.screenshots(shots, "spaces-loading")
			eval[bool](h, "release", `(window.__release(), true)`)
			h.visible("#empty")
			h.screenshots(shots, "spaces-empty")
			if got := h.text("#empty"); !strings.HasPrefix(got, "No spaces yet") {
				t.Errorf("empty list says %q", got)
			}
			if eval[bool](h, "loading shown", `document.getElementById('loading').checkVisibility()`) {
				t.Error("the page still says it is loading")
			}
		}},
		{"RowKeepsTheFocusThroughRefreshes", func(t *testing.T) {
			r := b.fetch("POST", "/api/templates", map[string]any{"name": "own-machine", "kind": "manual"}, true)
			if r.Status != http.StatusCreated {
				t.Fatalf("create template = %d %s", r.Status, r.Body)
			}
			tplID := eval[string](b, "template id", fmt.Sprintf(`JSON.parse(%q).template_id`, r.Body))
			r = b.fetch("POST", "/api/spaces", map[string]any{"name": "keys", "template_id": tplID}, true)
			if r.Status != http.StatusCreated {
				t.Fatalf("create space = %d %s", r.Status, r.Body)
			}
			spaceID := eval[string](b, "space id", fmt.Sprintf(`JSON.parse(%q).space_id`, r.Body))
			b.open("/spaces")
			start := `#spaces tr[data-name="keys"] button[data-action="start"]`
			b.visible(start)
			eval[bool](b, "focus Start keys", fmt.Sprintf(`(document.querySelector('%s').focus(), true)`, start))
			b.do("start with Enter", chromedp.KeyEvent("\r"))
			b.pollUntil("after starting, the focus on Stop keys", focused+" === 'Stop keys'", 5*time.Second)
			// Each change of the space makes a refresh rebuild its row, and
			// its buttons with it: the focus stays on the row's button.
			for _, d := range []string{"first change", "second change"} {
				if r := b.fetch("PUT", "/api/spaces/"+spaceID, map[string]any{"description": d}, true); r.Status != http.StatusOK {
					t.Fatalf("update space = %d %s", r.Status, r.Body)
				}
				b.pollUntil("the refreshed row", fmt.Sprintf(`document.querySelector('#spaces tr[data-name="keys"] .sub')?.textContent === %q`, d), 10*time.Second)
				if got := eval[string](b, "focus", focused); got != "Stop keys" {
					t.Fatalf("after a refresh (%s) the focus is on %q, want Stop keys", d, got)
				}
			}
		}},
		{"UserWithoutSpacesLandsOnAPageTheyMaySee", func(t *testing.T) {
			u := newTab(t, base)
			u.open("/")
			u.waitPath("/login")
			u.login("audrey@example.com", password, "/templates")
			u.visible(`main[aria-busy="false"]`)
			if n := eval[int](u, "refusals", `document.querySelectorAll('.refusal').length`); n != 0 {
				t.Error("audrey lands on a refusal")
			}
			nav := eval[[]string](u, "navigation", `[...document.querySelectorAll('header nav a')].map(a => a.textContent)`)
			if got := strings.Join(nav, ","); got != "Templates,Audit log,API tokens" {
				t.Errorf("navigation %q", got)
			}
			// Asked for the spaces, the login ends on a page she may see.
			u.click("#logout")
			u.waitPath("/login")
			u.open("/spaces")
			u.waitPath("/login?redirect=%2Fspaces")
			u.login("audrey@example.com", password, "/templates")
		}},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			b.t = t
			s.fn(t)
		})
		if !ok {
			return
		}
	}
}
