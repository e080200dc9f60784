package web_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// auditRowsScript is a script: the events the audit log shows, each with
// its event, its details sentence and its properties as the page labels
// them, whether each value is in monospace and fits the window, and the
// text of its details cell.
const auditRowsScript = `JSON.stringify([...document.querySelectorAll('#audit tbody tr')].map((tr) => ({
	event: tr.children[2].textContent,
	details: tr.children[3].firstElementChild.textContent,
	cell: tr.children[3].textContent,
	props: [...tr.children[3].querySelectorAll('dl.props dt')].map((dt) => {
		const dd = dt.nextElementSibling;
		return { label: dt.textContent, value: dd.textContent, mono: getComputedStyle(dd).fontFamily.includes('monospace'),
			fits: dd.getBoundingClientRect().right <= window.innerWidth + 0.5 };
	}),
})))`

type auditRow struct {
	Event, Details, Cell string
	Props                []struct {
		Label, Value string
		Mono, Fits   bool
	}
}

// TestAuditLogPropertiesInBrowser checks in Chromium that the audit log
// shows an event's properties as a person reads them: its details sentence
// first, then labelled pairs ("From 127.0.0.1", "Browser Mozilla/…") with
// ids in monospace, never key=value text, and at a phone's width as on a
// desktop every value wraps within the window.
func TestAuditLogPropertiesInBrowser(t *testing.T) {
	base := startUIServer(t)
	mustCall(t, http.StatusCreated, base, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}, nil)
	b := newTab(t, base)
	b.open("/login")
	b.login("admin@example.com", testPassword, "/spaces")
	var user struct {
		ID string `json:"user_id"`
	}
	if r := b.fetch("GET", "/api/users/whoami", nil, false); r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &user) != nil || user.ID == "" {
		t.Fatalf("whoami = %d %s", r.Status, r.Body)
	}
	keyValue := regexp.MustCompile(`\b[a-z_]+=\S`)
	for _, w := range []int64{1280, 390} {
		b.do("width", chromedp.EmulateViewport(w, 900))
		b.open("/audit-logs")
		b.visible(`main[aria-busy="false"]`)
		var rows []auditRow
		if err := json.Unmarshal([]byte(eval[string](b, "events", auditRowsScript)), &rows); err != nil {
			t.Fatal(err)
		}
		var login *auditRow
		for i, r := range rows {
			if keyValue.MatchString(r.Cell) {
				t.Errorf("at %d px the event %q shows key=value text: %q", w, r.Event, r.Cell)
			}
			for _, p := range r.Props {
				if !p.Fits {
					t.Errorf("at %d px the event %q's %s %q runs out of the window", w, r.Event, p.Label, p.Value)
				}
				if isID := strings.HasSuffix(p.Label, " id") || p.Label == "Session"; isID != p.Mono {
					t.Errorf("at %d px the event %q's %s is in monospace: %v", w, r.Event, p.Label, p.Mono)
				}
				if p.Label == "User id" && p.Value == user.ID && strings.HasPrefix(r.Details, "logged in as") {
					login = &rows[i]
				}
			}
		}
		if login == nil {
			t.Fatalf("at %d px no login event shows the user id %s: %+v", w, user.ID, rows)
		}
		if p := login.Props; len(p) < 3 || p[0].Label != "From" || p[0].Value != "127.0.0.1" || p[1].Label != "Browser" || !strings.HasPrefix(p[1].Value, "Mozilla/") {
			t.Errorf("at %d px the login event shows %q, then %+v; want where from, then the browser", w, login.Details, p)
		}
	}
}
