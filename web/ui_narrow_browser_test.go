package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// navLinksShown is a script: whether every link of the header's
// navigation is shown.
const navLinksShown = `(() => { const a = [...document.querySelectorAll('header nav a')]; return a.length > 0 && a.every(e => e.checkVisibility()); })()`

// navLinksHidden is a script: whether no link of the navigation is shown.
const navLinksHidden = `[...document.querySelectorAll('header nav a')].every(e => !e.checkVisibility())`

// rowButtonsOutOfSight is a script: the buttons and links of the page's
// list rows that are shown but lie, in whole or in part, outside the
// window, named as people hear them.
const rowButtonsOutOfSight = `[...document.querySelectorAll('table.list tbody :is(button, a.button, summary)')]
	.filter((e) => e.checkVisibility() && (e.getBoundingClientRect().right > window.innerWidth + 0.5 || e.getBoundingClientRect().left < -0.5))
	.map((e) => e.getAttribute('aria-label') || e.textContent.trim())`

// namesBrokenAcrossLines is a script: the names in the rows of the lists
// of things named by a word (not the free text of a token's name) that
// lie on more than one line.
const namesBrokenAcrossLines = `[...document.querySelectorAll(':is(#templates, #spaces, #users, #groups, #roles, #variables) tbody .name')]
	.map((e) => e.querySelector('a') || e)
	.filter((e) => {
		if (!e.checkVisibility()) return false;
		const r = document.createRange();
		r.selectNodeContents(e);
		return new Set([...r.getClientRects()].map((c) => Math.round(c.bottom))).size > 1;
	})
	.map((e) => e.textContent)`

// seenThroughPinned is a script: with each list box that scrolls sideways
// scrolled halfway, what shows at the left edge and middle of a row's
// pinned button cell, where it is not that cell, or the cell's background
// where it is not opaque; then "checked N" for the points it looked at.
const seenThroughPinned = `(() => {
	const out = [];
	let checked = 0;
	for (const box of document.querySelectorAll('.scroll-x')) {
		if (!box.checkVisibility() || box.scrollWidth <= box.clientWidth + 1) continue;
		box.scrollLeft = (box.scrollWidth - box.clientWidth) / 2;
		for (const cell of box.querySelectorAll('tbody td.actions-col')) {
			const r = cell.getBoundingClientRect();
			const bg = getComputedStyle(cell).backgroundColor;
			if (!bg.startsWith('rgb(')) out.push(box.querySelector('table').id + ': background ' + bg);
			for (const [x, y] of [[r.left + 1.5, r.top + 4], [r.left + 1.5, r.bottom - 4], [r.left + r.width / 2, r.top + r.height / 2]]) {
				if (y < 0 || y >= window.innerHeight) continue;
				checked++;
				const at = document.elementFromPoint(x, y);
				if (!at || !cell.contains(at)) out.push(box.querySelector('table').id + ': ' + (at ? at.tagName + ' ' + at.textContent.trim().slice(0, 30) : 'nothing'));
			}
		}
		box.scrollLeft = 0;
	}
	return [...out, 'checked ' + checked];
})()`

// pinnedEdgeWrong is a script (a promise): the lists whose pinned
// button column shows the edge (border and shadow) of columns going under
// it where none do, or shows none where they do: looked at with each list
// box at the start and at the end of its sideways scroll, two frames after
// each scroll so that the scroll-driven edge has followed; then
// "scroll N fit M": how many boxes with rows scroll and how many fit.
const pinnedEdgeWrong = `(async () => {
	const frames = () => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
	const out = [];
	let scroll = 0, fit = 0;
	for (const box of document.querySelectorAll('.scroll-x')) {
		const cell = box.querySelector('tbody td.actions-col');
		if (!box.checkVisibility() || !cell) continue;
		const id = box.querySelector('table').id;
		const edge = () => getComputedStyle(cell).boxShadow !== 'none';
		const scrolls = box.scrollWidth > box.clientWidth + 1;
		scrolls ? scroll++ : fit++;
		box.scrollLeft = 0;
		await frames();
		if (edge() !== scrolls) out.push(id + (scrolls ? ': no edge while columns go under' : ': an edge on a list that fits'));
		if (!scrolls) continue;
		box.scrollLeft = box.scrollWidth;
		await frames();
		if (edge()) out.push(id + ': an edge with the list scrolled to its end');
		box.scrollLeft = 0;
		await frames();
	}
	return [...out, 'scroll ' + scroll + ' fit ' + fit];
})()`

// statesUnreadable is a script: the rows of the spaces list whose state
// does not show whole, in sight and above everything else, as one badge.
const statesUnreadable = `[...document.querySelectorAll('#spaces tbody tr')].filter((tr) => {
	const shown = [...tr.querySelectorAll('.badge.state')].filter((e) => e.checkVisibility());
	if (shown.length !== 1) return true;
	const r = shown[0].getBoundingClientRect();
	return [[r.left + 1, r.top + r.height / 2], [r.right - 1, r.top + r.height / 2]].some(([x, y]) =>
		x < 0 || x >= window.innerWidth || !shown[0].contains(document.elementFromPoint(x, y)));
}).map((tr) => tr.dataset.name + ' (' + tr.dataset.state + ')')`

// buttonsWithTwoIcons is a script: the buttons that hold an icon of their
// own and get their action's icon from the stylesheet too.
const buttonsWithTwoIcons = `[...document.querySelectorAll('button')]
	.filter((e) => e.querySelector(':scope > .icon') && getComputedStyle(e, '::before').content !== 'none')
	.map((e) => e.getAttribute('aria-label') || e.textContent.trim())`

// buttonsTooSmall is a script: the buttons in sight that are smaller than
// 24 by 24 CSS pixels, the least a finger or an unsteady pointer is given
// by WCAG 2.2 (2.5.8, Target Size).
const buttonsTooSmall = `[...document.querySelectorAll('main button, main .button')]
	.filter((e) => e.checkVisibility())
	.map((e) => [e, e.getBoundingClientRect()])
	.filter(([e, r]) => r.width < 24 || r.height < 24)
	.map(([e, r]) => (e.getAttribute('aria-label') || e.textContent.trim()) + ' ' + Math.round(r.width) + '×' + Math.round(r.height))`

// fitsWidth fails the test when the page at path scrolls sideways, naming
// the elements that stick out.
func (b *tab) fitsWidth(path string) {
	b.t.Helper()
	if w := eval[float64](b, "page width", `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
		wide := eval[string](b, "widest", `[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '#' + e.id + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right)).slice(0, 12).join(' ')`)
		b.t.Errorf("%s at %v px is %v px wider than the window: %s", path, eval[float64](b, "window width", `window.innerWidth`), w, wide)
	}
}

// TestUINarrowInBrowser checks in Chromium that the UI works on a phone:
// at 360 px no page an administrator sees scrolls sideways (a list scrolls
// in its own box), and the navigation folds behind a menu button that the
// keyboard opens and Escape closes; on a desktop the links show and the
// button does not.
func TestUINarrowInBrowser(t *testing.T) {
	base := startUIServer(t)
	b := newTab(t, base)
	shots := t.TempDir()
	const password = "a-long-password"

	b.setUpAdmin(password)
	// Rows in the lists, with long names: a row is what makes a list wide.
	r := b.fetch("POST", "/api/templates", map[string]any{"name": "debian-bookworm-with-the-usual-tools", "kind": "container", "spec": "image: debian:bookworm\n"}, true)
	if r.Status != http.StatusCreated {
		t.Fatalf("create template = %d %s", r.Status, r.Body)
	}
	tmplID := eval[string](b, "template id", fmt.Sprintf(`JSON.parse(%q).template_id`, r.Body))
	r = b.fetch("POST", "/api/spaces", map[string]any{"name": "a-space-with-a-long-name", "template_id": tmplID}, true)
	if r.Status != http.StatusCreated {
		t.Fatalf("create space = %d %s", r.Status, r.Body)
	}
	spaceID := eval[string](b, "space id", fmt.Sprintf(`JSON.parse(%q).space_id`, r.Body))
	if r := b.fetch("POST", "/api/tokens", map[string]string{"name": "a token for the laptop's command line"}, true); r.Status != http.StatusCreated {
		t.Fatalf("create token = %d %s", r.Status, r.Body)
	}
	pages := append(uiAllPages[:len(uiAllPages):len(uiAllPages)], "/spaces/"+spaceID)

	b.do("phone width", chromedp.EmulateViewport(360, 740))
	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"NoPageScrollsSideways", func(t *testing.T) {
			for _, p := range pages {
				b.open(p)
				b.waitPath(p)
				b.visible(`main[aria-busy="false"]`)
				b.visible("#nav-toggle")
				b.fitsWidth(p)
				for _, out := range eval[[]string](b, "row buttons out of sight", rowButtonsOutOfSight) {
					t.Errorf("%s at 360 px: the row button %q is outside the window", p, out)
				}
				for _, broken := range eval[[]string](b, "names broken across lines", namesBrokenAcrossLines) {
					t.Errorf("%s at 360 px: the name %q lies on more than one line", p, broken)
				}
				// The pinned column of a row's buttons hides what scrolls under it.
				seen := eval[[]string](b, "what shows through the pinned column", seenThroughPinned)
				for _, s := range seen[:len(seen)-1] {
					t.Errorf("%s at 360 px, the list scrolled halfway: the pinned buttons' column shows %q", p, s)
				}
				if (p == "/templates" || p == "/tokens") && seen[len(seen)-1] == "checked 0" {
					t.Errorf("%s at 360 px: no list scrolls sideways under its pinned buttons to check", p)
				}
				edges := value(b, "the pinned columns' edges", chromedp.Evaluate[[]string](pinnedEdgeWrong, chromedp.EvalAwaitPromise))
				for _, s := range edges[:len(edges)-1] {
					t.Errorf("%s at 360 px: %s", p, s)
				}
				if want := map[string]string{"/tokens": "scroll 1 fit 0", "/roles": "scroll 0 fit 1"}[p]; want != "" && edges[len(edges)-1] != want {
					t.Errorf("%s at 360 px: the lists with rows: %s, want %s", p, edges[len(edges)-1], want)
				}
				for _, small := range eval[[]string](b, "buttons too small", buttonsTooSmall) {
					t.Errorf("%s at 360 px: the button %s px is smaller than 24×24 px", p, small)
				}
				for _, two := range eval[[]string](b, "buttons with two icons", buttonsWithTwoIcons) {
					t.Errorf("%s: the button %q shows two icons", p, two)
				}
				switch {
				case p == "/spaces":
					// The state is what a phone user looks at the list for.
					for _, row := range eval[[]string](b, "states unreadable", statesUnreadable) {
						t.Errorf("/spaces at 360 px: the state of %s is not shown whole", row)
					}
				case p == "/audit-logs":
					// An event's details are what the log is read for.
					if got := eval[string](b, "details in sight", `(() => { const d = [...document.querySelectorAll('#audit tbody tr')].map(tr => tr.children[3]); return d.length + ' ' + d.filter(e => e.checkVisibility() && e.getBoundingClientRect().right <= window.innerWidth + 0.5).length; })()`); got == "0 0" || strings.Split(got, " ")[0] != strings.Split(got, " ")[1] {
						t.Errorf("/audit-logs at 360 px: of the events, this many have their details in sight: %q", got)
					}
				case strings.HasPrefix(p, "/spaces/"):
					// This server keeps no space logs: the page says so, with
					// no empty box under it that looks like a log loading.
					b.do("wait for the log's status", chromedp.Poll[chromedp.Void](`document.getElementById('logs-status').textContent !== ''`, chromedp.WithPollingTimeout(stepTimeout)))
					if got := eval[string](b, "log", `document.getElementById('logs-status').textContent + ' | ' + document.getElementById('logs').checkVisibility()`); got != "this server keeps no space logs | false" {
						t.Errorf("%s: the log's status and whether its box shows: %q", p, got)
					}
				}
				if !eval[bool](b, "links hidden", navLinksHidden) {
					t.Errorf("%s at 360 px shows the navigation's links with the menu closed", p)
				}
				name := strings.ReplaceAll(strings.Trim(p, "/"), "/", "-")
				if strings.HasPrefix(p, "/spaces/") {
					name = "space"
				}
				b.screenshot(shots, "narrow-"+name+"-360.png")
			}
		}},
		{"MenuOpensWithTheKeyboardAndEscapeCloses", func(t *testing.T) {
			b.open("/tokens")
			b.visible(`main[aria-busy="false"]`)
			if got := eval[string](b, "controls", `(() => { const m = document.getElementById(document.getElementById('nav-toggle').getAttribute('aria-controls')); return m ? m.tagName + ' ' + document.getElementById('nav-toggle').getAttribute('aria-expanded') : ''; })()`); got != "DIV false" {
				t.Fatalf("the menu button controls %q, want a closed DIV", got)
			}
			eval[bool](b, "focus the button", `(document.getElementById('nav-toggle').focus(), true)`)
			b.do("press Enter", chromedp.KeyEvent("\r"))
			b.do("wait for the links", chromedp.Poll[chromedp.Void](navLinksShown, chromedp.WithPollingTimeout(stepTimeout)))
			if got := eval[string](b, "expanded", `document.getElementById('nav-toggle').getAttribute('aria-expanded')`); got != "true" {
				t.Errorf("open menu: aria-expanded %q", got)
			}
			if !eval[bool](b, "username shown", `document.getElementById('username').checkVisibility() && document.getElementById('logout').checkVisibility()`) {
				t.Error("the open menu does not show the account link and Log out")
			}
			b.fitsWidth("/tokens with the menu open")
			b.screenshot(shots, "narrow-menu-open-360.png")
			// The open menu takes the dark scheme's colours too.
			b.do("dark scheme", colorScheme("dark"))
			if got := eval[string](b, "menu colours", `getComputedStyle(document.querySelector('header.top')).backgroundColor + ' ' + getComputedStyle(document.querySelector('header nav a')).color`); got != "rgb(28, 32, 39) rgb(154, 163, 176)" {
				t.Errorf("the open menu in the dark scheme has the colours %q", got)
			}
			b.screenshot(shots, "narrow-menu-open-dark-360.png")
			b.do("light scheme", colorScheme(""))
			b.do("tab into the menu", chromedp.KeyEvent("\t"))
			if got := eval[string](b, "focus", `document.activeElement.textContent`); got != "Spaces" {
				t.Errorf("Tab from the menu button goes to %q, want the first link", got)
			}
			b.do("press Escape", chromedp.KeyEvent(kb.Escape))
			b.do("wait for the links to go", chromedp.Poll[chromedp.Void](navLinksHidden, chromedp.WithPollingTimeout(stepTimeout)))
			if got := eval[string](b, "after Escape", `document.activeElement.id + ' ' + document.getElementById('nav-toggle').getAttribute('aria-expanded')`); got != "nav-toggle false" {
				t.Errorf("after Escape the focus and aria-expanded are %q, want the closed menu's button", got)
			}
			// A click opens the menu and a second closes it.
			b.click("#nav-toggle")
			b.do("wait for the links", chromedp.Poll[chromedp.Void](navLinksShown, chromedp.WithPollingTimeout(stepTimeout)))
			b.click("#nav-toggle")
			b.do("wait for the links to go", chromedp.Poll[chromedp.Void](navLinksHidden, chromedp.WithPollingTimeout(stepTimeout)))
		}},
		{"DesktopShowsTheLinks", func(t *testing.T) {
			// 1160 px is just wider than the width where the menu folds
			// (72rem in knot.css): an administrator's links fit one row there.
			for _, w := range []int64{1160, 1280} {
				b.do("desktop width", chromedp.EmulateViewport(w, 900))
				for _, p := range []string{"/spaces", "/tokens"} {
					b.open(p)
					b.visible(`main[aria-busy="false"]`)
					if eval[bool](b, "button shown", `document.getElementById('nav-toggle').checkVisibility()`) {
						t.Errorf("%s at %d px shows the menu button", p, w)
					}
					if !eval[bool](b, "links shown", navLinksShown) {
						t.Errorf("%s at %d px hides the navigation's links", p, w)
					}
					b.fitsWidth(p)
					if h := eval[float64](b, "header height", `document.querySelector('header.top').getBoundingClientRect().height`); h > 64 {
						t.Errorf("%s at %d px: the header is %v px high, more than one row", p, w, h)
					}
				}
				b.screenshot(shots, fmt.Sprintf("narrow-desktop-%d.png", w))
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) {
			b.t = t
			s.fn(t)
		}) {
			t.FailNow()
		}
	}
}

// colorScheme emulates prefers-color-scheme: scheme, or ends the emulation
// when scheme is "".
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		var p emulation.SetEmulatedMediaParams
		if scheme != "" {
			p.Features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
		}
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, p)
		return err
	})
}
