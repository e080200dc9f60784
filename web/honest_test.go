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

// A user's storage units (theirs and their groups') bound the storage
// units of the templates of their spaces: a new space over it is refused
// with 507 saying how much is in use.
func TestStorageUnitQuota(t *testing.T) {
	e := newEnv(t)
	_, admin := e.admin()
	ann, token := e.user("ann")
	tpl := e.template("big")
	tpl.StorageUnits = 6
	if err := e.store.Put(t.Context(), tpl); err != nil {
		t.Fatal(err)
	}
	e.must(http.StatusOK, "PUT", "/api/users/"+ann.ID, admin, map[string]any{"storage_units": 10})
	e.must(http.StatusCreated, "POST", "/api/spaces", token, map[string]any{"name": "one", "template_id": tpl.ID})
	r := e.must(http.StatusInsufficientStorage, "POST", "/api/spaces", token, map[string]any{"name": "two", "template_id": tpl.ID})
	if msg := r.errMsg(t); msg != `storage unit quota exceeded: 6 of 10 in use, and space "two" needs 6` {
		t.Fatalf("message %q", msg)
	}
	e.must(http.StatusOK, "PUT", "/api/users/"+ann.ID, admin, map[string]any{"storage_units": 12})
	e.must(http.StatusCreated, "POST", "/api/spaces", token, map[string]any{"name": "two", "template_id": tpl.ID})
}
