package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/runtime"
)

// TestLeafSpaceFromTheOriginInBrowser uses, in Chromium and through the
// origin's UI, a space that runs at a leaf: until its agent links, its page
// says the agent is not connected yet; then it opens a terminal
// relayed to the leaf's agent, a command typed in it prints its output, a
// reload reattaches to the same session and replays what it showed, and
// the page follows the space's log as the leaf keeps it.
func TestLeafSpaceFromTheOriginInBrowser(t *testing.T) {
	af := newAgentFleet(t)
	ob := af.originSW.srv.URL
	session, sp := af.manualSpace(t)
	mustCall(t, http.StatusOK, ob, "POST", "/api/spaces/"+sp.SpaceID+"/start", session, nil, nil)
	a := call(t, ob, "GET", "/api/spaces/"+sp.SpaceID+"/agent-env", session, nil)
	if a.code != http.StatusOK {
		t.Fatalf("agent-env at the origin: %d %s", a.code, a.body)
	}
	env := map[string]string{}
	for _, line := range strings.Fields(string(a.body)) {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}

	b := newTab(t, ob)
	b.open("/login")
	b.login("admin@example.com", testPassword, "/spaces")
	// Until its agent links, the space's page at the origin says the agent
	// is not connected yet, and from where it hears so only as a detail.
	page := "/spaces/" + sp.SpaceID
	b.open(page)
	b.pollUntil("the agent shows not connected", `document.querySelector('#space-agent').textContent === 'Not connected yet (as location away reports)'`, 20*time.Second)
	b.open("/spaces")
	af.runAgent(t, sp.SpaceID, env["KNOT_AGENT_TOKEN"], "test")
	// The origin hears of the agent at the leaf: its dashboard offers the
	// space's terminal.
	b.pollUntil("the dashboard offers the terminal", `!!document.querySelector('#spaces tr[data-name="dev"][data-state="running"] a[href$="#terminal-title"]')`, 30*time.Second)
	b.open(page)
	b.pollUntil("the terminal opens a session at the leaf", `document.querySelector('#terminal').dataset.session`, 30*time.Second)
	b.typeInTerminal("echo far-$((6*7))-done")
	b.pollUntil("the command's output shows", `document.querySelector('#terminal .xterm-rows').textContent.includes('far-42-done')`, 20*time.Second)

	before := eval[string](b, "session", `document.querySelector('#terminal').dataset.session`)
	b.open(page)
	b.pollUntil("the page reattaches", `document.querySelector('#terminal-status').textContent.startsWith('Reattached')`, 30*time.Second)
	if after := eval[string](b, "session", `document.querySelector('#terminal').dataset.session`); after != before {
		t.Fatalf("reattached to session %q, not %q", after, before)
	}
	b.pollUntil("the earlier output is replayed", `document.querySelector('#terminal .xterm-rows').textContent.includes('far-42-done')`, 20*time.Second)

	af.manager.Append(sp.SpaceID, runtime.LogEntry{At: time.Now(), Level: "info", Text: "a line kept at the leaf"})
	b.pollUntil("the page follows the leaf's log", `document.querySelector('#logs').textContent.includes('a line kept at the leaf')`, 20*time.Second)
}
