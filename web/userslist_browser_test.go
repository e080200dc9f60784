package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage/memory"
	"github.com/knot-dev/knot/web"
)

// TestUsersListOnAPhoneInBrowser: at a phone's 390 and 360 px each user of
// the list shows their username and, under it, their email, state, spaces,
// roles and groups, beside their buttons (with two-factor login on, the
// most a row has); no column goes under them and the list does not scroll
// sideways. On a desktop those are columns of their own.
func TestUsersListOnAPhoneInBrowser(t *testing.T) {
	st := memory.New()
	base := startUIServer(t, withTOTP, func(o *web.TestOptions) { o.Store = st })
	b := newTab(t, base)
	shots := t.TempDir()
	const password = "a-long-password"
	b.typeIn("#login-form input[name=totp_code]", codeAt(t, b.setupWithTOTP(password), time.Now()))
	b.click("#login-form button[type=submit]")
	b.waitPath("/spaces")

	var groups []string
	// ann is in web and platform-team, in that order.
	for _, name := range []string{"web", "platform-team"} {
		var g struct {
			ID string `json:"group_id"`
		}
		mustFetch(t, b.fetch("POST", "/api/groups", map[string]string{"name": name}, true), http.StatusCreated, &g)
		groups = append(groups, g.ID)
	}
	const annEmail = "ann.marie-longname@engineering.example.com"
	mustFetch(t, b.fetch("POST", "/api/users", map[string]any{"username": "ann", "email": annEmail, "password": testPassword, "groups": groups}, true), http.StatusCreated, nil)
	enrolAt(t, base, annEmail, time.Now())
	mustFetch(t, b.fetch("POST", "/api/users", map[string]any{"username": "bob", "email": "bob@example.com", "password": testPassword, "active": false}, true), http.StatusCreated, nil)
	// The admin's spaces: one running, one not.
	startedSpace(t, b, st)
	var tpls struct {
		Templates []struct {
			ID string `json:"template_id"`
		} `json:"templates"`
	}
	mustFetch(t, b.fetch("GET", "/api/templates", nil, false), http.StatusOK, &tpls)
	mustFetch(t, b.fetch("POST", "/api/spaces", map[string]string{"name": "docs", "template_id": tpls.Templates[0].ID}, true), http.StatusCreated, nil)

	rowText := func(name string) string {
		t.Helper()
		return eval[string](b, "the row of "+name, fmt.Sprintf(`document.querySelector('#users tr[data-name=%q]').innerText.replace(/\s+/g, ' ').trim()`, name))
	}
	wantSaid := map[string][]string{
		"admin": {"admin", "you", "admin@example.com", "active", "2 spaces, 1 deployed", "Roles: " + shared.BuiltinRoles()[0].Name, "Groups: none"},
		"ann":   {"ann", annEmail, "active", "0 spaces", "Roles: " + shared.BuiltinRoles()[1].Name, "Groups: web, platform-team"},
		"bob":   {"bob", "bob@example.com", "inactive", "0 spaces", "Groups: none"},
	}
	buttons := map[string]string{
		"admin": "Edit admin, Reset two-factor admin",
		"ann":   "Edit ann, Reset two-factor ann, Delete ann",
		"bob":   "Edit bob, Delete bob",
	}
	partsHidden := rowPartsHidden("#users", "td:not(:first-child, .actions-col)")

	for _, w := range []int64{390, 360} {
		b.do(fmt.Sprintf("%d px", w), chromedp.EmulateViewport(w, 844))
		b.open("/users")
		b.visible(`#users tr[data-name="bob"]`)
		for _, hidden := range eval[[]string](b, "row parts hidden", partsHidden) {
			t.Errorf("/users at %d px: %s", w, hidden)
		}
		for name, want := range wantSaid {
			got := rowText(name)
			for _, s := range want {
				if !strings.Contains(got, s) {
					t.Errorf("/users at %d px: the row of %s says %q, not %q", w, name, got, s)
				}
			}
		}
		if got := rowText("bob"); strings.Contains(got, " active") {
			t.Errorf("/users at %d px: the row of the inactive bob says %q", w, got)
		}
		b.fitsWidth("/users")
		b.screenshot(shots, fmt.Sprintf("users-list-%d.png", w))
		// The buttons keep their names.
		for name, want := range buttons {
			if got := eval[string](b, "the buttons' names", fmt.Sprintf(`[...document.querySelectorAll('#users tr[data-name=%q] button')].map(e => e.getAttribute('aria-label')).join(', ')`, name)); got != want {
				t.Errorf("/users at %d px: the buttons of %s are named %q, want %q", w, name, got, want)
			}
		}
	}

	b.do("desktop width", chromedp.EmulateViewport(1280, 900))
	b.open("/users")
	b.visible(`#users tr[data-name="bob"]`)
	if got := eval[string](b, "the columns", `[...document.querySelectorAll('#users thead th')].filter(e => e.checkVisibility()).map(e => e.textContent.trim()).join(',')`); got != "Username,Email,Roles,Groups,Spaces,State,Actions" {
		t.Errorf("/users on a desktop shows the columns %q", got)
	}
	if n := eval[int](b, "details under names", `[...document.querySelectorAll('#users .details-under')].filter(e => e.checkVisibility()).length`); n != 0 {
		t.Errorf("/users on a desktop shows %d rows' details under their names too", n)
	}
	for _, hidden := range eval[[]string](b, "row parts hidden", partsHidden) {
		t.Errorf("/users at 1280 px: %s", hidden)
	}
	if got := eval[string](b, "ann's email cell", `document.querySelector('#users tr[data-name="ann"] td:nth-child(2)').textContent`); got != annEmail {
		t.Errorf("/users on a desktop: ann's Email column says %q", got)
	}
}
