package web_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

// fillStore puts n users, each owning one space of one of 10 templates,
// into st: a quarter of the spaces running, a quarter failed.
func fillStore(t *testing.T, st *memory.Store, n int) {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var tpls []*shared.Template
	for i := range 10 {
		tp := &shared.Template{Meta: shared.Meta{ID: newUUID(t), CreatedAt: now}, Name: fmt.Sprintf("template-%d", i), Kind: shared.TemplateManual}
		tp.Hash = tp.ComputeHash()
		if err := st.Put(ctx, tp); err != nil {
			t.Fatal(err)
		}
		tpls = append(tpls, tp)
	}
	states := []shared.SpaceState{shared.SpaceRunning, shared.SpaceStopped, shared.SpaceStopped, shared.SpaceFailed}
	for i := range n {
		u := &shared.User{Meta: shared.Meta{ID: newUUID(t), CreatedAt: now}, Username: fmt.Sprintf("user-%05d", i),
			Email: fmt.Sprintf("user-%05d@example.com", i), Roles: []string{shared.UserRoleID}, Active: true}
		if err := st.Put(ctx, u); err != nil {
			t.Fatal(err)
		}
		tp := tpls[i%len(tpls)]
		sp := &shared.Space{Meta: shared.Meta{ID: newUUID(t), CreatedAt: now.Add(time.Duration(i) * time.Second)},
			UserID: u.ID, TemplateID: tp.ID, Name: fmt.Sprintf("space-%05d", i), Location: "home", Shell: "bash",
			State: states[i%len(states)], TemplateHash: tp.Hash}
		if err := st.Put(ctx, sp); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSpacesPageWith10kSpacesInBrowser pages through 10,000 spaces in
// Chromium, searches, filters and sorts them on the server, does the same
// with 10,000 users, finds a template by typing in the New space dialog,
// and checks that the spaces page's
// refresh transfers the list only when it changed (304 otherwise) and that
// each page's list is under 200 KB.
func TestSpacesPageWith10kSpacesInBrowser(t *testing.T) {
	st := memory.New()
	base := startUIServer(t, func(o *web.TestOptions) { o.Store = st })
	b := newTab(t, base)
	shots := t.TempDir()
	if dir := os.Getenv("KNOT_UI_SCREENSHOTS"); dir != "" {
		shots = dir
	}
	b.setUpAdmin("a-long-password")
	fillStore(t, st, scaleRecords)

	rows := `document.querySelectorAll('#spaces tbody tr').length`
	firstRow := `document.querySelector('#spaces tbody tr').dataset.name`
	status := `document.querySelector('.pager-status').textContent`
	waitFor := func(what, cond string) {
		t.Helper()
		b.do(what, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(stepTimeout), chromedp.WithPollingInterval(50*time.Millisecond)))
	}

	// step runs fn as a subtest whose failures the tab reports to it.
	step := func(name string, fn func(t *testing.T)) {
		parent := b.t
		t.Run(name, func(t *testing.T) {
			b.t = t
			defer func() { b.t = parent }()
			fn(t)
		})
	}

	step("AdminWithoutSpacesIsOfferedEveryones", func(t *testing.T) {
		b.open("/spaces")
		b.visible("#others")
		if got := b.text("#show-others"); got != "Show everyone's spaces (10,000)" {
			t.Errorf("the offer to show everyone's spaces says %q", got)
		}
		if eval[bool](b, "empty shown", `document.getElementById('empty').checkVisibility()`) {
			t.Error("the page says there are no spaces while 10,000 are there")
		}
		b.click("#show-others")
		waitFor("everyone's spaces", fmt.Sprintf(`%s === '1–50 of 10,000'`, status))
		b.waitPath("/spaces?all=true")
		// Leaving and coming back keeps the choice.
		b.open("/templates")
		b.open("/spaces")
		waitFor("everyone's spaces again", fmt.Sprintf(`%s === '1–50 of 10,000' && document.getElementById('show-all').checked`, status))
	})

	t0 := time.Now()
	b.open("/spaces?all=true")
	waitFor("the first page", fmt.Sprintf(`%s === '1–50 of 10,000' && %s === 50`, status, rows))
	t.Logf("first page of 10,000 spaces shown %s after navigation", time.Since(t0).Round(time.Millisecond))
	if got := b.text("#space-summary"); got != "10,000 spaces · 2,500 running · 2,500 failed" {
		t.Errorf("summary %q", got)
	}
	if got := eval[string](b, "first row", firstRow); got != "space-00000" {
		t.Errorf("first row %q, want space-00000", got)
	}
	b.screenshots(shots, "spaces-10k")

	step("PagesForwardAndToTheEnd", func(t *testing.T) {
		b.click(`#space-pager button[data-page="next"]`)
		waitFor("the second page", fmt.Sprintf(`%s === '51–100 of 10,000' && %s === 'space-00050'`, status, firstRow))
		b.waitPath("/spaces?offset=50&all=true")
		// The new page is seen from its top, though Next is below it, and
		// the focus stays on Next (a top scrolled to a fraction of a pixel
		// above the view is in view).
		listTopInView := `(r => r.top > -1 && r.top < innerHeight)(document.querySelector('#spaces').getBoundingClientRect())`
		waitFor("the second page's top in view", listTopInView)
		if got := eval[string](b, "the focus", `document.activeElement.dataset.page || document.activeElement.tagName`); got != "next" {
			t.Errorf("after Next the focus is on %q, want the Next button", got)
		}
		// Last and First, with the keyboard: the focus stays in the pager.
		eval[bool](b, "focus Last page", `(document.querySelector('#space-pager button[data-page="last"]').focus(), true)`)
		b.do("press Enter on Last page", chromedp.KeyEvent("\r"))
		waitFor("the last page by its button", fmt.Sprintf(`%s === '9,951–10,000 of 10,000' && %s === 'space-09950'`, status, firstRow))
		b.waitPath("/spaces?offset=9950&all=true")
		waitFor("the focus on Previous page", `document.activeElement.dataset.page === 'prev'`)
		waitFor("the last page's top in view", listTopInView)
		b.click(`#space-pager button[data-page="first"]`)
		waitFor("the first page by its button", fmt.Sprintf(`%s === '1–50 of 10,000' && %s === 'space-00000'`, status, firstRow))
		b.waitPath("/spaces?all=true")
		if got := eval[string](b, "disabled pager buttons", `[...document.querySelectorAll('#space-pager button:disabled')].map(e => e.dataset.page).join(',')`); got != "first,prev" {
			t.Errorf("on the first page the disabled pager buttons are %q", got)
		}
		b.open("/spaces?all=true&offset=9950")
		waitFor("the last page", fmt.Sprintf(`%s === '9,951–10,000 of 10,000' && %s === 'space-09950'`, status, firstRow))
		if eval[bool](b, "next disabled", `!document.querySelector('#space-pager button[data-page="next"]').disabled`) {
			t.Error("Next is enabled on the last page")
		}
	})
	step("SearchesOnTheServer", func(t *testing.T) {
		b.open("/spaces?all=true")
		waitFor("the first page", fmt.Sprintf(`%s === 50`, rows))
		b.typeIn("#space-search", "space-0999")
		waitFor("the search's page", fmt.Sprintf(`%s === 10 && %s === 'space-09990'`, rows, firstRow))
		if got := b.text("#space-summary"); got != "10 spaces that match · 2 running · 3 failed" {
			t.Errorf("summary of the search %q", got)
		}
		b.typeIn("#space-search", "no-such-space")
		b.visible("#none-found")
		b.click("#clear-filters")
		waitFor("every space again", fmt.Sprintf(`%s === '1–50 of 10,000'`, status))
	})
	step("FiltersByStateAndSortsByHeader", func(t *testing.T) {
		b.click(`#state-filters button[data-state="failed"]`)
		waitFor("the failed spaces", fmt.Sprintf(`%s === '1–50 of 2,500' && %s === 'space-00003'`, status, firstRow))
		if got := eval[string](b, "pressed", `document.querySelector('#state-filters [aria-pressed="true"]').dataset.state`); got != "failed" {
			t.Errorf("pressed state filter %q", got)
		}
		// The summary says what it counts: the failed ones, of all.
		if got := b.text("#space-summary"); got != "2,500 failed of 10,000 spaces" {
			t.Errorf("summary with the failed spaces shown %q", got)
		}
		b.click(`#spaces th[data-sort="name"] button`)
		waitFor("descending names", fmt.Sprintf(`%s === 'space-09999'`, firstRow))
		if got := eval[string](b, "aria-sort", `document.querySelector('#spaces th[data-sort="name"]').getAttribute('aria-sort')`); got != "descending" {
			t.Errorf("aria-sort %q", got)
		}
		b.screenshots(shots, "spaces-10k-failed")
	})
	step("RefreshIs304UntilTheListChanges", func(t *testing.T) {
		b.open("/spaces?all=true")
		waitFor("the first page", fmt.Sprintf(`%s === 50`, rows))
		// The page asks again every 3 s; the server answers 304 without a
		// body while nothing changed.
		not := `performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/spaces?') && e.responseStatus === 304).length > 0`
		waitFor("a 304 refresh", not)
		sizes := eval[[]float64](b, "transfer sizes", `performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/spaces?')).map((e) => e.encodedBodySize)`)
		for _, n := range sizes {
			if n >= maxPageBytes {
				t.Errorf("a page of spaces is %v bytes, want under %d", n, maxPageBytes)
			}
		}
		spaces, err := storage.List[shared.Space](context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(spaces, func(s *shared.Space) bool { return s.Name == "space-00000" })
		first := spaces[i]
		first.Description = "changed while the page was open"
		if err := st.Put(context.Background(), first); err != nil {
			t.Fatal(err)
		}
		waitFor("the change on the page", `document.querySelector('#spaces tbody tr .sub') && document.querySelector('#spaces tbody tr .sub').textContent === 'changed while the page was open'`)
	})
	step("UsersPagePagesAndSearches", func(t *testing.T) {
		urows := `document.querySelectorAll('#users tbody tr').length`
		ustatus := `document.querySelector('#users-pager .pager-status').textContent`
		b.open("/users")
		waitFor("the first page of users", fmt.Sprintf(`%s === '1–50 of 10,001' && %s === 50`, ustatus, urows))
		// The heading counts the users of every page, as the spaces'
		// does its spaces.
		if got := b.text("#users-summary"); got != "10,001 users" {
			t.Errorf("the users' summary says %q, want 10,001 users", got)
		}
		b.click(`#users th[data-sort="name"] button`)
		waitFor("users by name, descending", `document.querySelector('#users tbody tr').dataset.name === 'user-09999'`)
		b.typeIn("#users-search", "USER-0999")
		waitFor("the users found", fmt.Sprintf(`%s === 10 && %s === '1–10 of 10'`, urows, ustatus))
		if got := b.text("#users-summary"); got != "10 users that match" {
			t.Errorf("the users' summary of a search says %q, want 10 users that match", got)
		}
		b.screenshots(shots, "users-10k-search")
	})
	step("NewSpaceFindsATemplateByTyping", func(t *testing.T) {
		b.open("/spaces")
		b.visible(`main[aria-busy="false"]`)
		b.click("#new-space")
		b.visible("#editor")
		waitFor("the templates", `document.querySelectorAll('#editor select[name=template_id] option').length === 10`)
		b.typeIn("#template-search", "plate-7")
		waitFor("the template found", `document.querySelectorAll('#editor select[name=template_id] option').length === 1 && document.querySelector('#editor select[name=template_id]').selectedOptions[0].textContent === 'template-7'`)
		b.screenshots(shots, "spaces-new-space-search")
		b.click("#editor button.cancel")
	})
}
