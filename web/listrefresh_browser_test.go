package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/web"
)

// TestListPagesRefreshThemselvesInBrowser opens each list page of an origin
// in Chromium and adds a record through the API: its row appears without a
// reload. While nothing changes, the page's refreshes send the ETag of the
// list it holds and get 304 without the list.
func TestListPagesRefreshThemselvesInBrowser(t *testing.T) {
	var hub *origin.Hub
	base := startUIServer(t, func(o *web.TestOptions) {
		h, err := origin.New(origin.Options{Store: o.Store, Logger: quietLog(), SharedTokenHash: crypt.HashToken(fleetToken), EnableLeafAPITokens: true})
		if err != nil {
			t.Fatal(err)
		}
		o.Hub, hub = h, h
	})
	run(t, hub.Run)
	mustCall(t, http.StatusCreated, base, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}, nil)
	var auth struct{ Token string }
	mustCall(t, http.StatusOK, base, "POST", "/api/auth", "", map[string]string{"email": "admin@example.com", "password": testPassword}, &auth)
	b := newTab(t, base)
	b.open("/login")
	b.login("admin@example.com", testPassword, "/spaces")

	for _, tc := range []struct {
		page, list string // the page, and the API list it shows
		add, body  any    // what the API is sent: the path, and the record
		row        string // the new row
	}{
		{"/templates", "/api/templates", "/api/templates", map[string]string{"name": "added", "kind": "manual"}, `#templates tr[data-name="added"]`},
		{"/users", "/api/users", "/api/users", map[string]string{"username": "added", "email": "added@example.com", "password": testPassword}, `#users tr[data-name="added"]`},
		{"/groups", "/api/groups", "/api/groups", map[string]string{"name": "added"}, `#groups tr[data-name="added"]`},
		{"/roles", "/api/roles", "/api/roles", map[string]any{"name": "added", "permissions": []int{}}, `#roles tr[data-name="added"]`},
		{"/variables", "/api/templatevars", "/api/templatevars", map[string]string{"name": "ADDED", "value": "x"}, `#variables tr[data-name="ADDED"]`},
		{"/tokens", "/api/tokens", "/api/tokens", map[string]string{"name": "added"}, `#tokens tr[data-name="added"]`},
		{"/audit-logs", "/api/audit-logs", "/api/groups", map[string]string{"name": "audited-group"}, ""},
		{"/leaves", "/api/leaf-tokens", "/api/leaf-tokens", map[string]string{"location": "edge", "name": "added"}, `#leaf-tokens tr[data-location="edge"]`},
	} {
		t.Run(strings.TrimPrefix(tc.page, "/"), func(t *testing.T) {
			b.t = t
			b.open(tc.page)
			b.visible(`main[aria-busy="false"]`)
			eval[bool](b, "mark the page", `window.notReloaded = true`)
			b.pollUntil("a refresh answered 304", fmt.Sprintf(`performance.getEntriesByType('resource').some(e => new URL(e.name).pathname === %q && e.responseStatus === 304)`, tc.list), 10*time.Second)
			mustCall(t, http.StatusCreated, base, "POST", tc.add.(string), auth.Token, tc.body, nil)
			if tc.row != "" {
				b.pollUntil("the new row shows", fmt.Sprintf(`document.querySelector(%q)`, tc.row), 10*time.Second)
			} else {
				b.pollUntil("the new event shows", `document.querySelector('#audit tbody').textContent.includes('audited-group')`, 10*time.Second)
			}
			if !eval[bool](b, "the page's mark", `window.notReloaded === true`) {
				t.Error("the page was reloaded")
			}
		})
	}
}
