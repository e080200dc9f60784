package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// knot has no tunnels: the predecessor's max_tunnels stays in the API at
// 0, any other value is refused saying why, and no page offers it.
func TestNoTunnelQuota(t *testing.T) {
	e := newEnv(t)
	admin, token := e.admin()
	ann, _ := e.user("ann")
	for _, r := range []*resp{
		e.must(http.StatusBadRequest, "POST", "/api/groups", token, map[string]any{"name": "devs", "max_tunnels": 2}),
		e.must(http.StatusBadRequest, "PUT", "/api/users/"+ann.ID, token, map[string]any{"max_tunnels": 1}),
	} {
		if msg := r.errMsg(t); !strings.Contains(msg, "knot has no tunnels") {
			t.Errorf("message %q", msg)
		}
	}
	e.must(http.StatusCreated, "POST", "/api/groups", token, map[string]any{"name": "devs", "max_tunnels": 0})
	for _, page := range []string{"/users", "/groups", "/ui/static/js/users.js", "/ui/static/js/groups.js"} {
		r := e.page(page, e.cookieSession(admin.ID))
		if r.code != http.StatusOK || strings.Contains(strings.ToLower(string(r.body)), "tunnel") {
			t.Errorf("%s = %d and offers tunnels", page, r.code)
		}
	}
}
