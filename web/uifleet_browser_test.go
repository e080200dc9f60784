package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/web"
)

// TestFleetUIInBrowser walks the fleet in Chromium, against an origin and a
// leaf on loopback: the admin sees the leaf on the origin's Leaves page
// with its location and version (flagged outdated), issues, rotates and
// revokes a leaf token there; on the leaf, while the origin is down, every
// page carries a banner saying why and what cannot be done, and the
// controls that would fail are disabled; once the leaf is gone, the
// origin shows it disconnected and its spaces unreachable, with Stop
// disabled.
func TestFleetUIInBrowser(t *testing.T) {
	f := newFleetWithOptions(t, func(f *fleet) {
		f.leafVersion = "1.3.0"
		f.originOpts = func(o *web.TestOptions) { o.Version = "1.4.0" }
	})
	ob, lb := f.originSW.srv.URL, f.leafSrv.URL
	f.waitConnected(true)
	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}, nil)
	session := f.login(ob)
	var tmpl struct {
		ID string `json:"template_id"`
	}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/templates", session, map[string]any{"name": "byo", "kind": "manual"}, &tmpl)
	var shared1 struct {
		ID string `json:"templatevar_id"`
	}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/templatevars", session, map[string]any{"name": "REGISTRY", "value": "r.example"}, &shared1)
	waitRecord(t, f.leafStore, shared.KindTemplate, tmpl.ID, false)
	waitRecord(t, f.leafStore, shared.KindTemplateVar, shared1.ID, false)
	mustCall(t, http.StatusCreated, lb, "POST", "/api/templatevars", f.login(lb), map[string]any{"name": "CACHE", "value": "here", "local": true}, nil)
	var sp struct {
		ID string `json:"space_id"`
	}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/spaces", session, map[string]any{"name": "dev", "template_id": tmpl.ID, "location": "away"}, &sp)
	mustCall(t, http.StatusOK, ob, "POST", "/api/spaces/"+sp.ID+"/start", session, nil, nil)
	shots := t.TempDir()

	o := newTab(t, ob)
	o.open("/login")
	o.login("admin@example.com", testPassword, "/spaces")

	t.Run("LeafOnTheLeavesPage", func(t *testing.T) {
		o.open("/leaves")
		row := `#leaves tr[data-node="node-away"][data-connected="true"]`
		o.visible(row)
		if got := o.text(row + " td:nth-child(2)"); got != "away" {
			t.Errorf("location shown %q, want away", got)
		}
		if got := o.text(row + " td:nth-child(3)"); !strings.HasPrefix(got, "1.3.0") || !strings.Contains(got, "outdated") {
			t.Errorf("version shown %q, want 1.3.0 flagged outdated against the origin's 1.4.0", got)
		}
		if got := o.text(row + " td:nth-child(5)"); got != "docker" {
			t.Errorf("runtimes shown %q", got)
		}
		// What the leaf came with, and what the terse columns mean, in
		// words a new admin can read; before any leaf token, what the
		// shared token is and where to issue a better one.
		if got := o.text(row + " .credential"); !strings.Contains(got, "shared token (server.shared_token)") {
			t.Errorf("the credential shown %q", got)
		}
		if got := o.text("#leaves-legend"); !strings.Contains(got, "Protocol: the version of the link protocol") || !strings.Contains(got, "Applied revision: ") || !strings.Contains(got, "Lag: how many changes the leaf is behind") {
			t.Errorf("the legend under the leaves says %q", got)
		}
		if got := o.text("#tokens-empty"); !strings.Contains(got, "server.shared_token in this origin's configuration") || !strings.Contains(got, "Issue one") {
			t.Errorf("without a leaf token the page says %q", got)
		}
		if got := eval[string](o, "the link to the form", `document.querySelector('#tokens-empty a').getAttribute('href')`); got != "#leaf-token-location" || !eval[bool](o, "its target", `!!document.querySelector('#leaf-token-form #leaf-token-location')`) {
			t.Errorf("the link to issue a token goes to %q", got)
		}
		o.screenshots(shots, "leaves")
	})

	t.Run("NoTerminalLinkThatLeadsNowhere", func(t *testing.T) {
		// The space's agent has not connected: its page could not open a
		// terminal, so neither the origin's dashboard nor the leaf's,
		// where the space runs, offers one.
		link := `document.querySelector('#spaces tr[data-name="dev"] a[href$="#terminal-title"]')`
		o.open("/spaces")
		o.visible(`#spaces tr[data-name="dev"][data-state="running"]`)
		if eval[bool](o, "terminal link at the origin", "!!"+link) {
			t.Error("the origin's dashboard offers the terminal of a space at location away whose agent it has not heard of")
		}
		l := newTab(t, lb)
		l.open("/login")
		l.login("admin@example.com", testPassword, "/spaces")
		l.visible(`#spaces tr[data-name="dev"][data-state="running"]`)
		if eval[bool](l, "terminal link at the leaf", "!!"+link) {
			t.Error("the leaf's dashboard offers the terminal of its own running space whose agent has not connected")
		}
	})

	t.Run("LeafTokenIssuedRotatedRevoked", func(t *testing.T) {
		o.open("/leaves")
		o.visible("#leaf-token-form")
		o.typeIn("#leaf-token-form input[name=location]", "edge")
		o.typeIn("#leaf-token-form input[name=name]", "rack 2")
		o.click("#leaf-token-form button[type=submit]")
		o.visible(`#leaf-tokens tr[data-location="edge"]`)
		first := o.text("#secret")
		if len(first) < 20 {
			t.Fatalf("secret shown: %q", first)
		}
		// The location of the token shows in the fleet, no leaf seen yet.
		o.visible(`#leaves tr[data-location="edge"][data-connected="false"]`)

		o.click(`#leaf-tokens tr[data-location="edge"] button[data-action="rotate"]`)
		o.visible("#rotate-dialog")
		o.setValue("#rotate-dialog select[name=overlap]", "1h")
		o.click("#rotate-dialog button[type=submit]")
		o.pollUntil("two tokens of edge", `document.querySelectorAll('#leaf-tokens tr[data-location="edge"]').length === 2`, 5*time.Second)
		second := o.text("#secret")
		if second == first || len(second) < 20 {
			t.Fatalf("rotation showed %q, want a new secret (the first was %q)", second, first)
		}
		if n := eval[int](o, "secrets shown", `document.querySelectorAll('#secret').length`); n != 1 {
			t.Errorf("%d secrets shown, want the new one alone", n)
		}
		if notice := o.text("#notice"); !strings.Contains(notice, "1 hour") {
			t.Errorf("notice %q does not say the overlap", notice)
		}
		if href := eval[string](o, "url", `location.href`); strings.Contains(href, first) || strings.Contains(href, second) {
			t.Fatalf("a secret is in the URL %s", href)
		}
		// The old token expires after the overlap; the new one never.
		old := eval[string](o, "old token", `[...document.querySelectorAll('#leaf-tokens tr[data-location="edge"]')].find(r => r.querySelector('td:nth-child(4)').textContent.startsWith('expires')).dataset.key`)
		if old == "" {
			t.Fatal("no token of edge shows its expiry")
		}
		o.screenshots(shots, "leaves-tokens")
		// The token the rotation replaced is rotated already: it offers no
		// Rotate; its successor does. Both say no connected leaf uses them.
		oldRow := `#leaf-tokens tr[data-key="` + old + `"]`
		if eval[bool](o, "rotate of the old", `!!document.querySelector('`+oldRow+` button[data-action="rotate"]')`) {
			t.Error("the token a rotation replaced offers Rotate again")
		}
		if !eval[bool](o, "rotate of the new", `!!document.querySelector('#leaf-tokens tr[data-location="edge"]:not([data-key="`+old+`"]) button[data-action="rotate"]')`) {
			t.Error("the new token offers no Rotate")
		}
		if got := o.text(oldRow + " .used-by"); got != "no connected leaf" {
			t.Errorf("the old token's users: %q", got)
		}

		// The question names which of the two same-named tokens it is.
		o.click(oldRow + ` button[data-action="revoke"]`)
		o.visible("#confirm-dialog")
		if q := o.text("#confirm-message"); !strings.Contains(q, "“rack 2” of edge, issued ") || !strings.Contains(q, "the one a rotation replaced, working until ") {
			t.Errorf("the revoke question is %q", q)
		}
		o.click("#confirm-ok")
		o.gone(`#leaf-tokens tr[data-key="` + old + `"]`)
		// The notice no longer says that the old token works.
		o.pollUntil("the notice says the old token stopped", `document.querySelector('#notice').textContent.includes('no longer works')`, 5*time.Second)
		if notice := o.text("#notice"); strings.Contains(notice, "keeps working") || !strings.Contains(notice, second) {
			t.Errorf("after the revocation the notice says %q", notice)
		}
		o.visible(`#leaf-tokens tr[data-location="edge"]`)
		var list struct {
			Tokens []struct {
				ID string `json:"leaf_token_id"`
			} `json:"leaf_tokens"`
		}
		mustCall(t, http.StatusOK, ob, "GET", "/api/leaf-tokens", session, nil, &list)
		if len(list.Tokens) != 1 || list.Tokens[0].ID == old {
			t.Fatalf("leaf tokens after the revocation: %+v", list.Tokens)
		}
	})

	l := newTab(t, lb)
	t.Run("LeafBannerWhileTheOriginIsDown", func(t *testing.T) {
		l.open("/login")
		l.login("admin@example.com", testPassword, "/spaces")
		l.open("/users")
		l.visible(`#users tr[data-name="admin"]`)
		if !eval[bool](l, "banner hidden", `document.getElementById('origin-banner').hidden`) {
			t.Fatal("the banner shows while the origin is reachable")
		}
		f.stopOrigin()
		f.waitConnected(false)
		for _, p := range []string{"/spaces", "/templates", "/variables", "/users", "/groups", "/roles", "/tokens", "/leaves", "/spaces/" + sp.ID} {
			l.open(p)
			msg := l.text("#origin-banner")
			if !strings.Contains(msg, "has been unreachable since") || !strings.Contains(msg, "they change at the origin") {
				t.Errorf("%s: banner %q", p, msg)
			}
			reason := f.uplink.Status().Reason
			if reason == "" || !strings.Contains(msg, reason) {
				t.Errorf("%s: banner %q does not give the reason %q", p, msg, reason)
			}
		}
		// The cause is said in words; the network's own error is there for
		// an operator, folded.
		st := f.uplink.Status()
		if strings.Contains(st.Reason, "WebSocket") || strings.Contains(st.Reason, "dial") || st.ReasonDetail == "" {
			t.Errorf("the reason %q is not in words, or has no detail (%q)", st.Reason, st.ReasonDetail)
		}
		l.pollUntil("the error in full", `!!document.querySelector('#origin-banner details.cause-detail code')`, 5*time.Second)
		folded := eval[[]string](l, "the folded error", `(() => { const d = document.querySelector('#origin-banner details.cause-detail');
			return [String(d.open), d.querySelector('summary').textContent, d.querySelector('code').textContent]; })()`)
		if folded[0] != "false" || folded[1] != "The error in full" || folded[2] != f.uplink.Status().ReasonDetail {
			t.Errorf("the banner's folded error: open %s, %q, %q; want closed with %q", folded[0], folded[1], folded[2], f.uplink.Status().ReasonDetail)
		}
		l.open("/users")
		l.visible(`#users tr[data-name="admin"]`)
		l.pollUntil("New user disabled", `document.getElementById('new-user').disabled`, 5*time.Second)
		l.pollUntil("Edit disabled", `document.querySelector('#users tr[data-name="admin"] button[data-action="edit"]').disabled`, 5*time.Second)
		if title := eval[string](l, "reason", `document.getElementById('new-user').title`); !strings.Contains(title, "origin cannot be reached") {
			t.Errorf("the disabled New user says %q", title)
		}
		l.screenshots(shots, "leaf-banner-users")
		l.open("/templates")
		l.pollUntil("New template disabled", `document.getElementById('new-template').disabled`, 5*time.Second)
		// A local variable is the leaf's own: it can still be changed; a
		// shared one cannot.
		l.open("/variables")
		l.visible(`#variables tr[data-name="CACHE"]`)
		l.pollUntil("Edit of the shared variable disabled", `document.querySelector('#variables tr[data-name="REGISTRY"] button[data-action="edit"]').disabled`, 5*time.Second)
		if eval[bool](l, "local edit", `document.querySelector('#variables tr[data-name="CACHE"] button[data-action="edit"]').disabled`) {
			t.Error("Edit of a local variable is disabled while the origin is down")
		}
		l.open("/spaces")
		l.visible("#origin-banner")
		l.screenshots(shots, "leaf-banner-spaces")

		// The origin back, the banner says so in its place, and the page
		// does not move until the banner goes by itself.
		top := func() float64 {
			return eval[float64](l, "the top of the page", `document.getElementById('main').getBoundingClientRect().top`)
		}
		before := top()
		f.startOrigin()
		f.waitConnected(true)
		l.pollUntil("the banner says the origin is back", `document.getElementById('origin-banner').textContent.includes('The origin is reachable again.')`, 15*time.Second)
		if after := top(); after != before {
			t.Errorf("the page moved from %v to %v px as the origin came back", before, after)
		}
		if !eval[bool](l, "the live region", `(() => { const b = document.getElementById('origin-banner');
			return !b.hidden && b.getAttribute('aria-live') === 'polite' && !!b.querySelector('#origin-back-dismiss'); })()`) {
			t.Error("the word that the origin is back is not in a polite live region with a Dismiss button")
		}
		l.pollUntil("the word goes by itself", `document.getElementById('origin-banner').hidden`, 15*time.Second)
		l.open("/users")
		l.pollUntil("banner gone", `document.getElementById('origin-banner').hidden && document.body.dataset.originReachable === 'true'`, 10*time.Second)
		if eval[bool](l, "new user", `document.getElementById('new-user').disabled`) {
			t.Error("New user stays disabled with the origin back")
		}
	})

	t.Run("StoppedLeafShownDisconnectedItsSpacesUnreachable", func(t *testing.T) {
		o.open("/spaces")
		row := `#spaces tr[data-name="dev"]`
		o.visible(row + `[data-state="running"][data-reachable="true"]`)
		if eval[bool](o, "stop", `document.querySelector('`+row+` button[data-action="stop"]').disabled`) {
			t.Fatal("Stop is disabled while the leaf is connected")
		}
		f.uplinkRun.stop()
		o.open("/leaves")
		o.visible(`#leaves tr[data-node="node-away"][data-connected="false"]`)
		if got := o.text(`#leaves tr[data-node="node-away"] td:first-child`); !strings.Contains(got, "disconnected") {
			t.Errorf("leaf shown as %q", got)
		}
		o.screenshots(shots, "leaves-disconnected")

		o.open("/spaces")
		o.visible(row + `[data-reachable="false"]`)
		if got := o.text(row + " td.state-cell .state"); got != "unreachable" {
			t.Errorf("state shown %q, want unreachable", got)
		}
		if !eval[bool](o, "stop", `document.querySelector('`+row+` button[data-action="stop"]').disabled`) {
			t.Error("Stop is enabled for a space of an unreachable leaf")
		}
		o.screenshots(shots, "spaces-unreachable")

		o.open("/spaces/" + sp.ID)
		o.pollUntil("space page unreachable", `document.getElementById('space').dataset.reachable === 'false'`, 5*time.Second)
		if msg := o.text("#space-unreachable"); !strings.Contains(msg, "away") {
			t.Errorf("space page says %q", msg)
		}
		if got := o.text("#state-badge"); got != "unreachable" {
			t.Errorf("space page state %q", got)
		}
		if !eval[bool](o, "stop", `document.querySelector('#space-actions button[data-action="stop"]').disabled`) {
			t.Error("the space page's Stop is enabled for a space of an unreachable leaf")
		}
		o.screenshots(shots, "space-unreachable")

		// The origin restarts; the leaf does not come back. Its location is
		// still shown, with its space, which stays unreachable.
		f.stopOrigin()
		f.startOrigin()
		o.open("/leaves")
		o.visible(`#leaves tr[data-location="away"][data-connected="false"]`)
		if got := o.text(`#leaves tr[data-location="away"] td:first-child`); !strings.Contains(got, "disconnected") || !strings.Contains(got, "1 space") {
			t.Errorf("after a restart the leaf's location is shown as %q", got)
		}
		o.screenshots(shots, "leaves-after-restart")
		o.open("/spaces")
		o.visible(row + `[data-reachable="false"]`)
	})
}

// On a leaf whose origin is back while the leaf waits out a long
// back-off, the banner's Try now has the leaf dial at once: the banner
// goes, and the controls come back, without waiting for the next attempt.
func TestLeafBannerTryNowInBrowser(t *testing.T) {
	f := newFleetWithOptions(t, func(f *fleet) {
		f.uplinkOpts = func(o *leaf.Options) { o.MinBackoff, o.MaxBackoff = 10*time.Minute, 10*time.Minute }
	})
	lb := f.leafSrv.URL
	f.waitConnected(true)
	var admin struct {
		ID string `json:"user_id"`
	}
	mustCall(t, http.StatusCreated, f.originSW.srv.URL, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}, &admin)
	waitRecord(t, f.leafStore, shared.KindUser, admin.ID, false)
	l := newTab(t, lb)
	l.open("/login")
	l.login("admin@example.com", testPassword, "/spaces")
	f.stopOrigin()
	f.waitConnected(false)
	l.open("/users")
	l.visible("#origin-banner #origin-retry")
	if next := f.uplink.Status().NextAttempt; time.Until(next) < 5*time.Minute {
		t.Fatalf("the next attempt is at %v: the back-off is not long", next)
	}
	f.startOrigin()
	l.click("#origin-retry")
	// The banner says the origin is back, and the focus, which was on Try
	// now, is on its Dismiss; Dismiss takes the word away.
	l.pollUntil("the origin said back", `document.getElementById('origin-banner').textContent.includes('The origin is reachable again.') && document.body.dataset.originReachable === 'true'`, 10*time.Second)
	if !f.uplink.Status().Connected {
		t.Fatal("the banner says the origin is back but the leaf is not connected")
	}
	if got := eval[string](l, "the focus", `document.activeElement?.id || ''`); got != "origin-back-dismiss" {
		t.Errorf("the focus is on %q, not on the banner's Dismiss", got)
	}
	l.click("#origin-back-dismiss")
	l.pollUntil("banner gone", `document.getElementById('origin-banner').hidden`, 5*time.Second)
	if got := eval[string](l, "the focus", `document.activeElement?.id || ''`); got != "main" {
		t.Errorf("the focus is on %q after Dismiss, not on the page", got)
	}
}
