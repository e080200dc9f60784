package web_test

import (
	"net/http"
	"testing"
)

// Every list a page refreshes answers with an ETag naming its body, 304
// without a body while the list is the one the client holds, and the new
// list once a record is added: a page that polls transfers a list only
// when it changed.
func TestListsAnswerNotModified(t *testing.T) {
	e := newOriginEnv(t)
	_, tok := e.admin()
	for _, tc := range []struct {
		path string
		add  any // the body of a POST to path that adds a record
	}{
		{"/api/users", map[string]string{"username": "ann", "email": "ann@example.com", "password": testPassword}},
		{"/api/groups", map[string]string{"name": "devs"}},
		{"/api/roles", map[string]any{"name": "viewers", "permissions": []int{}}},
		{"/api/tokens", map[string]string{"name": "cli"}},
		{"/api/templates", map[string]string{"name": "byo", "kind": "manual"}},
		{"/api/templatevars", map[string]string{"name": "REGISTRY", "value": "r.example"}},
		{"/api/leaf-tokens", map[string]string{"location": "edge"}},
		{"/api/audit-logs", nil}, // the other additions add events
		{"/api/leaves", nil},
	} {
		t.Run(tc.path, func(t *testing.T) {
			first := e.must(http.StatusOK, "GET", tc.path, tok, nil)
			tag := first.header.Get("ETag")
			if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
				t.Fatalf("ETag %q, want a quoted tag", tag)
			}
			same := e.send(req{method: "GET", path: tc.path, token: tok, header: map[string]string{"If-None-Match": tag}})
			if same.code != http.StatusNotModified || len(same.body) != 0 || same.header.Get("ETag") != tag {
				t.Fatalf("with If-None-Match of the list = %d %q (ETag %q), want 304 without a body", same.code, same.body, same.header.Get("ETag"))
			}
			if tc.add == nil {
				return
			}
			e.must(http.StatusCreated, "POST", tc.path, tok, tc.add)
			changed := e.send(req{method: "GET", path: tc.path, token: tok, header: map[string]string{"If-None-Match": tag}})
			if changed.code != http.StatusOK || changed.header.Get("ETag") == tag || len(changed.body) <= len(first.body) {
				t.Fatalf("after an addition = %d %s (ETag %q, was %q), want the longer list with a new tag", changed.code, changed.body, changed.header.Get("ETag"), tag)
			}
		})
	}
	// The audit log holds the additions now.
	tag := e.must(http.StatusOK, "GET", "/api/audit-logs", tok, nil).header.Get("ETag")
	e.must(http.StatusCreated, "POST", "/api/groups", tok, map[string]string{"name": "ops"})
	if r := e.send(req{method: "GET", path: "/api/audit-logs", token: tok, header: map[string]string{"If-None-Match": tag}}); r.code != http.StatusOK {
		t.Fatalf("the audit log after an event = %d, want 200 with it", r.code)
	}
}
