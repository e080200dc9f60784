package web_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestWaysTurnedOffInBrowser checks that the UI offers no way into a
// space that its template turns off: with with_ssh false the spaces list
// has no SSH button for it and its page no SSH panel; with with_terminal
// false its page says why it has no terminal.
func TestWaysTurnedOffInBrowser(t *testing.T) {
	base := startUIServer(t)
	b := newTab(t, base)
	b.setUpAdmin("a-long-password")

	ids := map[string]string{}
	for _, tc := range []struct {
		name          string
		terminal, ssh bool
	}{{"open", true, true}, {"closed", false, false}} {
		r := b.fetch("POST", "/api/templates", map[string]any{"name": tc.name, "kind": "manual", "with_terminal": tc.terminal, "with_ssh": tc.ssh}, true)
		var tpl struct {
			ID string `json:"template_id"`
		}
		if r.Status != 201 || json.Unmarshal([]byte(r.Body), &tpl) != nil {
			t.Fatalf("create template %s: %d %s", tc.name, r.Status, r.Body)
		}
		r = b.fetch("POST", "/api/spaces", map[string]any{"name": tc.name, "template_id": tpl.ID}, true)
		var sp struct {
			ID string `json:"space_id"`
		}
		if r.Status != 201 || json.Unmarshal([]byte(r.Body), &sp) != nil {
			t.Fatalf("create space %s: %d %s", tc.name, r.Status, r.Body)
		}
		ids[tc.name] = sp.ID
	}

	b.open("/spaces")
	b.visible(`tr[data-name="closed"]`)
	b.visible(`tr[data-name="open"] details.ssh`)
	if eval[bool](b, "the SSH button of closed", `Boolean(document.querySelector('tr[data-name="closed"] details.ssh'))`) {
		t.Error("the spaces list offers SSH into a space whose template turns SSH off")
	}

	b.open("/spaces/" + ids["closed"])
	b.pollUntil("the page says why there is no terminal", `document.querySelector('#terminal-off').textContent.includes('turns its terminal off')`, stepTimeout)
	if !eval[bool](b, "the SSH panel", `document.querySelector('#ssh-panel').hidden`) {
		t.Error("the page of a space whose template turns SSH off shows how to connect with SSH")
	}
	b.open("/spaces/" + ids["open"])
	b.pollUntil("the page of open is drawn", `document.querySelector('#space-name').textContent === 'open'`, stepTimeout)
	if got := eval[string](b, "the terminal note", `document.querySelector('#terminal-off').textContent`); strings.Contains(got, "turns its terminal off") || eval[bool](b, "the SSH panel", `document.querySelector('#ssh-panel').hidden`) {
		t.Errorf("the page of a space with both ways on: terminal note %q, SSH panel hidden %v", got, eval[bool](b, "the SSH panel", `document.querySelector('#ssh-panel').hidden`))
	}
}
