package web_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
)

// TestUISpacePageFollowsTheAPIsAccess serves a space's page to those the
// API shows the space to, and to nobody else.
func TestUISpacePageFollowsTheAPIsAccess(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.admin()
	ann, _ := e.user("ann")
	bob, _ := e.user("bob")
	auditor, _ := e.user("audrey", e.role("auditors", shared.PermViewAuditLogs))
	sp := e.space(ann, e.template("box"), "dev")
	page := "/spaces/" + sp.ID

	for _, tt := range []struct {
		name   string
		userID string
		want   int
		says   string
	}{
		{"Owner", ann.ID, http.StatusOK, `data-space-id="` + sp.ID + `"`},
		{"ManageSpaces", admin.ID, http.StatusOK, `<h1 id="space-name">dev</h1>`},
		{"AnotherUser", bob.ID, http.StatusNotFound, "not found"},
		{"NoSpacesPermission", auditor.ID, http.StatusForbidden, "Use Spaces or Manage Spaces"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.page(page, e.cookieSession(tt.userID))
			if r.code != tt.want || !strings.Contains(string(r.body), tt.says) {
				t.Fatalf("= %d, want %d saying %q:\n%s", r.code, tt.want, tt.says, r.body)
			}
			if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "style-src 'self';") || strings.Contains(csp, "unsafe") {
				t.Errorf("Content-Security-Policy %q is not the strict one", csp)
			}
			if r.header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
			}
			if tt.want == http.StatusOK && strings.Contains(string(r.body), "bob") {
				t.Errorf("the page names another user")
			}
		})
	}
	t.Run("Unknown", func(t *testing.T) {
		if r := e.page("/spaces/no-such-space", e.cookieSession(admin.ID)); r.code != http.StatusNotFound {
			t.Fatalf("= %d %s, want 404", r.code, r.body)
		}
	})
	t.Run("NoSession", func(t *testing.T) {
		r := e.page(page, nil)
		if want := "/login?redirect=" + url.QueryEscape(page); r.code != http.StatusSeeOther || r.header.Get("Location") != want {
			t.Fatalf("= %d Location %q, want 303 to %s", r.code, r.header.Get("Location"), want)
		}
	})
	t.Run("OnlyEmbeddedFiles", func(t *testing.T) {
		body := string(e.page(page, e.cookieSession(ann.ID)).body)
		if m := inlineStyle.FindString(body); m != "" {
			t.Errorf("the page holds an inline handler or style: %q", m)
		}
		if n, m := len(scriptTag.FindAllString(body, -1)), len(emptyScript.FindAllString(body, -1)); n != 1 || m != 1 {
			t.Errorf("the page has %d script tags, %d of them empty; want the one module", n, m)
		}
		refs := assetRef.FindAllStringSubmatch(body, -1)
		var names []string
		for _, m := range refs {
			names = append(names, m[1])
			if r := e.page(m[1], nil); r.code != http.StatusOK || len(r.body) == 0 {
				t.Errorf("%s = %d", m[1], r.code)
			}
		}
		for _, want := range []string{"/ui/static/js/space.js", "/ui/static/vendor/xterm/xterm.css"} {
			if !slices.Contains(names, want) {
				t.Errorf("the page does not load %s: %q", want, names)
			}
		}
	})
	t.Run("NavigationShowsSpaces", func(t *testing.T) {
		r := e.page(page, e.cookieSession(ann.ID))
		if !strings.Contains(string(r.body), `<a href="/spaces" aria-current="page">`) {
			t.Fatalf("the Spaces link is not current:\n%s", r.body)
		}
	})
}

// TestUITerminalAssetsAreVendored checks that the terminal's xterm.js, its
// fit addon and their licences are embedded and served from this site, as
// the page's Content-Security-Policy requires.
func TestUITerminalAssetsAreVendored(t *testing.T) {
	e := newEnv(t)
	for ref, want := range map[string]string{
		"/ui/static/vendor/xterm/xterm.mjs":         "text/javascript",
		"/ui/static/vendor/xterm/xterm.css":         "text/css",
		"/ui/static/vendor/addon-fit/addon-fit.mjs": "text/javascript",
		"/ui/static/vendor/xterm/LICENSE":           "",
		"/ui/static/vendor/addon-fit/LICENSE":       "",
		"/ui/static/js/terminal.js":                 "text/javascript",
	} {
		r := e.page(ref, nil)
		if r.code != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), want) {
			t.Errorf("%s = %d %q, want 200 %s", ref, r.code, r.header.Get("Content-Type"), want)
		}
		if strings.HasSuffix(ref, "LICENSE") && !strings.Contains(string(r.body), "MIT") && !strings.Contains(string(r.body), "Permission is hereby granted") {
			t.Errorf("%s is not the MIT licence: %.200s", ref, r.body)
		}
	}
	r := e.page("/ui/static/js/terminal.js", nil)
	for _, imp := range []string{"'../vendor/xterm/xterm.mjs'", "'../vendor/addon-fit/addon-fit.mjs'"} {
		if !strings.Contains(string(r.body), imp) {
			t.Errorf("terminal.js does not import %s", imp)
		}
	}
}
