package web_test

import (
	"net/http"
	"testing"
)

type auditPage struct {
	Count int `json:"count"`
	Items []struct {
		ID         int64             `json:"audit_log_id"`
		Actor      string            `json:"actor"`
		ActorType  string            `json:"actor_type"`
		Event      string            `json:"event"`
		Details    string            `json:"details"`
		Location   string            `json:"location"`
		Properties map[string]string `json:"properties"`
	} `json:"items"`
}

func TestAuditLogs(t *testing.T) {
	f := newFixture(t)
	login(f.env, "ann@example.com", "wrong-password")
	login(f.env, "ann@example.com", testPassword)

	var all auditPage
	f.must(http.StatusOK, "GET", "/api/audit-logs?max_items=1000", f.admin, nil).decode(t, &all)

	t.Run("EveryWriteAndLoginIsRecorded", func(t *testing.T) {
		want := []string{"Group Create", "Role Create", "Template Create", "Variable Create", "Space Create", "Login Failed", "Login Success"}
		seen := map[string]bool{}
		for _, it := range all.Items {
			seen[it.Event] = true
		}
		for _, ev := range want {
			if !seen[ev] {
				t.Errorf("no %q event in %+v", ev, all.Items)
			}
		}
		if all.Count != len(all.Items) {
			t.Errorf("count %d, items %d", all.Count, len(all.Items))
		}
	})

	t.Run("NewestFirstWithActorAddressAndLocation", func(t *testing.T) {
		newest := all.Items[0]
		if newest.Event != "Login Success" || newest.Actor != "ann" || newest.ActorType != "user" || newest.Location != "home" ||
			newest.Properties["ip"] == "" || newest.Properties["user_id"] != f.user.ID {
			t.Fatalf("newest event = %+v", newest)
		}
		failed := all.Items[1]
		if failed.Event != "Login Failed" || failed.Actor != "ann@example.com" {
			t.Fatalf("failed login event = %+v", failed)
		}
		for i := 1; i < len(all.Items); i++ {
			if all.Items[i].ID >= all.Items[i-1].ID {
				t.Fatalf("events are not newest first: %d after %d", all.Items[i].ID, all.Items[i-1].ID)
			}
		}
	})

	t.Run("Paging", func(t *testing.T) {
		var page auditPage
		f.must(http.StatusOK, "GET", "/api/audit-logs?start=1&max_items=2", f.admin, nil).decode(t, &page)
		if page.Count != all.Count || len(page.Items) != 2 || page.Items[0].ID != all.Items[1].ID || page.Items[1].ID != all.Items[2].ID {
			t.Fatalf("page = %+v", page)
		}
		f.must(http.StatusOK, "GET", "/api/audit-logs", f.admin, nil).decode(t, &page)
		if len(page.Items) != 10 && len(page.Items) != all.Count {
			t.Fatalf("default page has %d items", len(page.Items))
		}
	})

	t.Run("NeedsViewAuditLogs", func(t *testing.T) {
		r := f.must(http.StatusForbidden, "GET", "/api/audit-logs", f.userToken, nil)
		r.errMsg(t)
	})
}
