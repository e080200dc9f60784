package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// rowPartsHidden returns a script: for each row of the list table (a
// selector), the parts that should be read on it (its name, what is under
// it, and the cells cols of its other columns that show) that are not
// shown whole in the window, or lie under its pinned buttons or under
// anything else; then "scrolls" when the list's box scrolls sideways.
func rowPartsHidden(table, cols string) string {
	return fmt.Sprintf(`(() => {
	const out = [];
	for (const tr of document.querySelectorAll(%[1]q + ' tbody tr')) {
		const actions = tr.querySelector('td.actions-col').getBoundingClientRect();
		const parts = [tr.querySelector('.name'), ...[...tr.querySelectorAll('.details-under > *, ' + %[2]q)].filter((e) => e.checkVisibility())];
		for (const e of parts) {
			const what = tr.dataset.name + ': ' + e.textContent.trim();
			const r = e.getBoundingClientRect();
			if (!e.checkVisibility() || r.width === 0) out.push(what + ' is not shown');
			else if (r.left < -0.5 || r.right > window.innerWidth + 0.5) out.push(what + ' is outside the window');
			else if (r.right > actions.left + 0.5 && r.left < actions.right && r.bottom > actions.top && r.top < actions.bottom) out.push(what + ' is under the buttons');
			else if (!e.contains(document.elementFromPoint(r.left + 2, r.top + r.height / 2))) out.push(what + ' is covered');
		}
	}
	const box = document.querySelector(%[1]q).closest('.scroll-x');
	if (box.scrollWidth > box.clientWidth + 1) out.push('scrolls');
	return out;
})()`, table, cols)
}

// TestTemplatesListOnAPhoneInBrowser: at a phone's 390 px each template
// of the list shows its name and, under it, its kind, how many spaces are
// made from it and the units they count, beside its buttons; no column
// scrolls under them. On a desktop those are columns of their own.
func TestTemplatesListOnAPhoneInBrowser(t *testing.T) {
	base := startUIServer(t)
	b := newTab(t, base)
	shots := t.TempDir()
	b.setUpAdmin("a-long-password")
	templates := []map[string]any{
		{"name": "byo", "kind": "manual", "description": "Your own machine, with the agent", "compute_units": 1, "storage_units": 2},
		{"name": "dev-box", "kind": "container", "spec": "image: debian:bookworm\n", "description": "Debian with the usual tools and a few more for the web", "compute_units": 12, "storage_units": 30, "locations": []string{"home", "lab"}},
	}
	var byo string
	for _, tpl := range templates {
		r := b.fetch("POST", "/api/templates", tpl, true)
		if r.Status != http.StatusCreated {
			t.Fatalf("create template %s = %d %s", tpl["name"], r.Status, r.Body)
		}
		if tpl["name"] == "byo" {
			byo = eval[string](b, "template id", fmt.Sprintf(`JSON.parse(%q).template_id`, r.Body))
		}
	}
	for _, name := range []string{"dev", "docs"} {
		if r := b.fetch("POST", "/api/spaces", map[string]string{"name": name, "template_id": byo}, true); r.Status != http.StatusCreated {
			t.Fatalf("create space %s = %d %s", name, r.Status, r.Body)
		}
	}
	rowText := func(name string) string {
		t.Helper()
		return eval[string](b, "the row of "+name, fmt.Sprintf(`document.querySelector('#templates tr[data-name=%q]').innerText.replace(/\s+/g, ' ').trim()`, name))
	}
	wantSaid := map[string][]string{
		"byo":     {"byo", "manual", "2 spaces", "1 compute, 2 storage units", "everyone at every location"},
		"dev-box": {"dev-box", "container", "0 spaces", "12 compute, 30 storage units", "everyone at home, lab"},
	}

	for _, w := range []int64{390, 360} {
		b.do(fmt.Sprintf("%d px", w), chromedp.EmulateViewport(w, 844))
		b.open("/templates")
		b.visible(`#templates tr[data-name="dev-box"]`)
		for _, hidden := range eval[[]string](b, "row parts hidden", rowPartsHidden("#templates", "td:nth-child(3), td:nth-child(4)")) {
			t.Errorf("/templates at %d px: %s", w, hidden)
		}
		for name, want := range wantSaid {
			got := rowText(name)
			for _, s := range want {
				if !strings.Contains(strings.ToLower(got), strings.ToLower(s)) {
					t.Errorf("/templates at %d px: the row of %s says %q, not %q", w, name, got, s)
				}
			}
		}
		b.screenshot(shots, fmt.Sprintf("templates-list-%d.png", w))
		// The buttons keep their names.
		if got := eval[string](b, "the buttons' names", `[...document.querySelectorAll('#templates tr[data-name="byo"] button')].map(e => e.getAttribute('aria-label')).join(', ')`); got != "Edit byo, Delete byo" {
			t.Errorf("/templates at %d px: the buttons are named %q", w, got)
		}
	}

	b.do("desktop width", chromedp.EmulateViewport(1280, 900))
	b.open("/templates")
	b.visible(`#templates tr[data-name="dev-box"]`)
	if got := eval[string](b, "the columns", `[...document.querySelectorAll('#templates thead th')].filter(e => e.checkVisibility()).map(e => e.textContent.trim()).join(',')`); got != "Name,Kind,Spaces,Units,Open to,Actions" {
		t.Errorf("/templates on a desktop shows the columns %q", got)
	}
	if n := eval[int](b, "details under names", `[...document.querySelectorAll('#templates .details-under')].filter(e => e.checkVisibility()).length`); n != 0 {
		t.Errorf("/templates on a desktop shows %d rows' details under their names too", n)
	}
	for _, hidden := range eval[[]string](b, "row parts hidden", rowPartsHidden("#templates", "td:nth-child(3), td:nth-child(4)")) {
		t.Errorf("/templates at 1280 px: %s", hidden)
	}
}
