package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

func spaceNames(l api.SpaceList) string {
	var n []string
	for _, sp := range l.Spaces {
		n = append(n, sp.Name)
	}
	return strings.Join(n, ",")
}

func TestListSpacesPagesSearchesSortsAndFilters(t *testing.T) {
	e := newEnv(t)
	admin, token := e.admin()
	ann, _ := e.user("ann")
	tpl := e.template("go")
	py := e.template("python")
	for i := range 12 {
		e.space(admin, tpl, fmt.Sprintf("dev-%02d", i))
	}
	e.space(ann, py, "web")
	api2 := e.space(ann, py, "api")
	api2.State = shared.SpaceFailed
	if err := e.store.Put(context.Background(), api2); err != nil {
		t.Fatal(err)
	}

	get := func(query string) api.SpaceList {
		t.Helper()
		var l api.SpaceList
		e.must(http.StatusOK, "GET", "/api/spaces?all=true&"+query, token, nil).decode(t, &l)
		return l
	}
	t.Run("NoOptionsListsAllAsBefore", func(t *testing.T) {
		l := get("")
		if l.Count != 14 || l.Total != 14 || len(l.Spaces) != 14 || l.States[shared.SpaceStopped] != 13 || l.States[shared.SpaceFailed] != 1 {
			t.Fatalf("count %d total %d len %d states %v", l.Count, l.Total, len(l.Spaces), l.States)
		}
	})
	t.Run("Pages", func(t *testing.T) {
		first, second := get("sort=name&limit=5"), get("sort=name&limit=5&offset=5")
		if spaceNames(first) != "api,dev-00,dev-01,dev-02,dev-03" || first.Total != 14 || first.Count != 5 {
			t.Fatalf("first page %s (count %d, total %d)", spaceNames(first), first.Count, first.Total)
		}
		if spaceNames(second) != "dev-04,dev-05,dev-06,dev-07,dev-08" {
			t.Fatalf("second page %s", spaceNames(second))
		}
		if last := get("sort=name&limit=5&offset=20"); len(last.Spaces) != 0 || last.Total != 14 {
			t.Fatalf("past the end: %s, total %d", spaceNames(last), last.Total)
		}
	})
	t.Run("SortsDescending", func(t *testing.T) {
		if l := get("sort=-name&limit=2"); spaceNames(l) != "web,dev-11" {
			t.Fatalf("-name: %s", spaceNames(l))
		}
	})
	t.Run("SearchesNameOwnerAndTemplate", func(t *testing.T) {
		if l := get("q=DEV-1&sort=name"); spaceNames(l) != "dev-10,dev-11" || l.Total != 2 {
			t.Fatalf("q=DEV-1: %s", spaceNames(l))
		}
		if l := get("q=python&sort=name"); spaceNames(l) != "api,web" {
			t.Fatalf("q=python (template): %s", spaceNames(l))
		}
		if l := get("q=ann&sort=name"); spaceNames(l) != "api,web" {
			t.Fatalf("q=ann (owner): %s", spaceNames(l))
		}
	})
	t.Run("FiltersWithCountsPerState", func(t *testing.T) {
		l := get("owner=ann&state=failed")
		if spaceNames(l) != "api" || l.Total != 1 || l.States[shared.SpaceStopped] != 1 || l.States[shared.SpaceFailed] != 1 {
			t.Fatalf("owner=ann&state=failed: %s total %d states %v", spaceNames(l), l.Total, l.States)
		}
		if l := get("owner=" + ann.ID); l.Total != 2 {
			t.Fatalf("owner by id: total %d", l.Total)
		}
		if l := get("location=HOME&state=stopped"); l.Total != 13 {
			t.Fatalf("location=HOME&state=stopped: total %d", l.Total)
		}
		if l := get("location=elsewhere"); l.Total != 0 || len(l.Spaces) != 0 {
			t.Fatalf("location=elsewhere: %s", spaceNames(l))
		}
	})
	t.Run("ETagAnswers304UntilTheListChanges", func(t *testing.T) {
		path := "/api/spaces?all=true&limit=3&sort=name"
		r := e.must(http.StatusOK, "GET", path, token, nil)
		tag := r.header.Get("ETag")
		if tag == "" {
			t.Fatal("no ETag")
		}
		again := e.send(req{method: "GET", path: path, token: token, header: map[string]string{"If-None-Match": tag}})
		if again.code != http.StatusNotModified || len(again.body) != 0 {
			t.Fatalf("same list with If-None-Match = %d %q, want 304 without a body", again.code, again.body)
		}
		api2.Name = "aaa"
		if err := e.store.Put(context.Background(), api2); err != nil {
			t.Fatal(err)
		}
		changed := e.send(req{method: "GET", path: path, token: token, header: map[string]string{"If-None-Match": tag}})
		if changed.code != http.StatusOK || changed.header.Get("ETag") == tag || !strings.Contains(changed.String(), `"aaa"`) {
			t.Fatalf("changed list = %d, ETag %s: %s", changed.code, changed.header.Get("ETag"), changed.body)
		}
	})
}

func TestListBadParametersAre400NamingThem(t *testing.T) {
	e := newEnv(t)
	_, token := e.admin()
	for _, tt := range []struct{ path, name string }{
		{"/api/spaces?limit=x", "limit"},
		{"/api/spaces?limit=5000", "limit"},
		{"/api/spaces?offset=-1", "offset"},
		{"/api/spaces?sort=size", "sort"},
		{"/api/spaces?state=asleep", "state"},
		{"/api/spaces?q=" + strings.Repeat("x", 300), "q"},
		{"/api/users?sort=password", "sort"},
		{"/api/users?state=gone", "state"},
		{"/api/groups?limit=-3", "limit"},
		{"/api/roles?sort=x", "sort"},
		{"/api/templates?offset=z", "offset"},
		{"/api/templatevars?sort=value", "sort"},
		{"/api/tokens?sort=secret", "sort"},
	} {
		r := e.must(http.StatusBadRequest, "GET", tt.path, token, nil)
		if msg := r.errMsg(t); !strings.HasPrefix(msg, tt.name+" ") && !strings.Contains(msg, "parameter "+tt.name+" ") {
			t.Errorf("GET %.60s: %q does not name %s", tt.path, msg, tt.name)
		}
	}
}

func TestListOtherRecordsPageAndSearch(t *testing.T) {
	e := newEnv(t)
	_, token := e.admin()
	for _, n := range []string{"carol", "bob", "dave", "erin"} {
		e.user(n)
	}
	for _, n := range []string{"go", "rust", "python"} {
		e.template(n)
	}
	var users api.UserList
	e.must(http.StatusOK, "GET", "/api/users?sort=-name&limit=2&offset=1", token, nil).decode(t, &users)
	if users.Total != 5 || users.Count != 2 || users.Users[0].Username != "dave" || users.Users[1].Username != "carol" {
		t.Fatalf("users page = %+v", users)
	}
	e.must(http.StatusOK, "GET", "/api/users?q=ERIN%40example", token, nil).decode(t, &users)
	if users.Total != 1 || users.Users[0].Username != "erin" {
		t.Fatalf("users q=ERIN@example = %+v", users)
	}
	var ts api.TemplateList
	e.must(http.StatusOK, "GET", "/api/templates?q=ru", token, nil).decode(t, &ts)
	if ts.Total != 1 || ts.Templates[0].Name != "rust" {
		t.Fatalf("templates q=ru = %+v", ts)
	}
	e.must(http.StatusOK, "GET", "/api/templates", token, nil).decode(t, &ts)
	if ts.Total != 3 || ts.Count != 3 {
		t.Fatalf("templates without options = count %d total %d", ts.Count, ts.Total)
	}
	var roles api.RoleList
	e.must(http.StatusOK, "GET", "/api/roles?sort=name&limit=1", token, nil).decode(t, &roles)
	if roles.Total != 2 || len(roles.Roles) != 1 || roles.Roles[0].Name != "Admin" {
		t.Fatalf("roles = %+v", roles)
	}
	r := e.must(http.StatusOK, "GET", "/api/tokens?limit=1", token, nil)
	if r.header.Get("X-Total-Count") != "0" {
		t.Fatalf("tokens X-Total-Count = %q", r.header.Get("X-Total-Count"))
	}
}

func TestAuditLogSearches(t *testing.T) {
	e := newEnv(t)
	_, token := e.admin()
	ctx := context.Background()
	for i := range 30 {
		ev := &shared.AuditEvent{At: e.clock.Now(), Actor: "admin", ActorType: "user", Event: "Space Start",
			Details: fmt.Sprintf("space dev-%02d started", i), Location: "home"}
		if i%3 == 0 {
			ev.Event, ev.Details, ev.Location = "Template Create", fmt.Sprintf("template t-%02d created", i), "away"
		}
		if err := e.store.AppendAudit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	var l api.AuditList
	e.must(http.StatusOK, "GET", "/api/audit-logs?q=TEMPLATE&max_items=4&start=2", token, nil).decode(t, &l)
	if l.Count != 10 || len(l.Items) != 4 || l.Items[0].Details != "template t-21 created" {
		t.Fatalf("q=TEMPLATE page 2: count %d, %+v", l.Count, l.Items)
	}
	e.must(http.StatusOK, "GET", "/api/audit-logs?location=home&q=dev-1&max_items=50", token, nil).decode(t, &l)
	if l.Count != 7 || len(l.Items) != 7 { // dev-10 … dev-19 less 12, 15, 18
		t.Fatalf("location=home&q=dev-1: count %d, %d items", l.Count, len(l.Items))
	}
	e.must(http.StatusOK, "GET", "/api/audit-logs?max_items=5", token, nil).decode(t, &l)
	if l.Count != 30 || len(l.Items) != 5 {
		t.Fatalf("without a query: count %d, %d items", l.Count, len(l.Items))
	}
	if msg := e.must(http.StatusBadRequest, "GET", "/api/audit-logs?sort=name", token, nil).errMsg(t); !strings.HasPrefix(msg, "sort ") {
		t.Fatalf("sort on the audit log: %q", msg)
	}
}

func TestUserListCountsSpacesAfterAChange(t *testing.T) {
	e := newEnv(t)
	_, token := e.admin()
	ann, _ := e.user("ann")
	tpl := e.template("go")
	count := func() int {
		t.Helper()
		var l api.UserList
		e.must(http.StatusOK, "GET", "/api/users?q=ann&sort=name&limit=5", token, nil).decode(t, &l)
		if len(l.Users) != 1 {
			t.Fatalf("q=ann lists %d users", len(l.Users))
		}
		return l.Users[0].NumberSpaces
	}
	if n := count(); n != 0 {
		t.Fatalf("ann has %d spaces before any", n)
	}
	e.space(ann, tpl, "one")
	e.space(ann, tpl, "two")
	if n := count(); n != 2 {
		t.Fatalf("ann has %d spaces after two were made, want 2", n)
	}
}
