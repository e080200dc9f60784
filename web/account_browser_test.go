package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/knot-dev/knot/shared/api"
)

// TestAccountPageInBrowser checks in Chromium that a user keeps their own
// account on the My account page: shell and time zone survive a reload; a
// wrong current password is said next to that field and nothing typed is
// lost; tokens are created with an expiry and deleted; another session of
// theirs is revoked and refused from then on; their quota in use shows;
// email and password change with the current password, this session going
// on; and the page fits a phone.
func TestAccountPageInBrowser(t *testing.T) {
	base := startUIServer(t)
	admin := newTab(t, base)
	shots := t.TempDir()
	if dir := os.Getenv("KNOT_UI_SCREENSHOTS"); dir != "" {
		t.Logf("screenshots in %s and %s", shots, dir)
	}
	const password = "a-long-password"

	admin.setUpAdmin(password)
	r := admin.fetch("POST", "/api/users", map[string]any{"username": "ann", "email": "ann@example.com", "password": password}, true)
	if r.Status != http.StatusCreated {
		t.Fatalf("create user = %d %s", r.Status, r.Body)
	}
	annID := eval[string](admin, "user id", fmt.Sprintf(`JSON.parse(%q).user_id`, r.Body))
	if r := admin.fetch("PUT", "/api/users/"+annID, map[string]any{"max_spaces": 3, "compute_units": 10}, true); r.Status != http.StatusOK {
		t.Fatalf("set ann's quota = %d %s", r.Status, r.Body)
	}

	b := newTab(t, base)
	b.open("/account")
	b.waitPath("/login?redirect=%2Faccount")
	b.login("ann@example.com", password, "/account")
	loaded := func() {
		t.Helper()
		b.do("wait for the page", chromedp.Poll[chromedp.Void](`document.querySelector('main').getAttribute('aria-busy') === 'false'`, chromedp.WithPollingTimeout(stepTimeout)))
	}
	loaded()
	status := func(want string) {
		t.Helper()
		cond := fmt.Sprintf(`[...document.querySelectorAll('#alerts [role="status"] p')].some(p => p.textContent === %q)`, want)
		b.do("wait for "+want, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(stepTimeout)))
	}

	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"ShellAndTimezoneAreKept", func(t *testing.T) {
			if got := b.text("#account-who"); got != "ann · ann@example.com" {
				t.Errorf("the page says it is %q's", got)
			}
			b.setValue("#profile-form select[name=preferred_shell]", "zsh")
			b.typeIn("#profile-form input[name=timezone]", "Europe/Paris")
			b.click("#profile-form button[type=submit]")
			status("Profile saved.")
			b.open("/account")
			loaded()
			got := eval[[]string](b, "profile", `[document.querySelector('#profile-form select[name=preferred_shell]').value, document.querySelector('#profile-form input[name=timezone]').value]`)
			if got[0] != "zsh" || got[1] != "Europe/Paris" {
				t.Fatalf("after a reload the profile shows shell %q and time zone %q", got[0], got[1])
			}
		}},
		{"ListsAddsAndRemovesSSHKeys", func(t *testing.T) {
			laptop, laptopFP := pubKey(t, "ann@laptop")
			desktop, desktopFP := pubKey(t, "ann@desktop")
			old, oldFP := pubKey(t, "ann@old")
			b.visible("#ssh-empty")
			// A bad key is refused in words, next to its field.
			b.setValue("#ssh-form textarea[name=key]", "ssh-ed25519 not-a-key")
			b.click("#ssh-form button[type=submit]")
			if msg := b.text(`#ssh-form textarea[name=key] ~ .field-error`); !strings.HasPrefix(msg, "Key: not an SSH public key: give a line of a .pub file") {
				t.Errorf("a bad key is refused with %q next to its field", msg)
			}
			b.setValue("#ssh-form textarea[name=key]", laptop)
			b.click("#ssh-form button[type=submit]")
			status("SSH key ann@laptop added.")
			b.setValue("#ssh-form textarea[name=key]", desktop)
			b.typeIn("#ssh-form input[name=name]", "work desktop")
			b.click("#ssh-form button[type=submit]")
			status("SSH key work desktop added.")
			// A key of the older single field shows too, as such.
			if r := b.fetch("PUT", "/api/users/"+annID, map[string]any{"ssh_public_key": old}, true); r.Status != http.StatusOK {
				t.Fatalf("set ann's older key field = %d %s", r.Status, r.Body)
			}
			b.open("/account")
			loaded()
			// Each row: name, type, fingerprint, whether it says when it was
			// added, whether it is of the older field.
			rows := func() string {
				return strings.Join(eval[[]string](b, "keys", `[...document.querySelectorAll('#ssh-keys tbody tr')].map(r =>
					[...r.cells].slice(0, 3).map(c => c.textContent).concat([r.cells[3].textContent === '—' ? 'undated' : 'dated', r.dataset.legacy]).join(' / '))`), "\n")
			}
			want := strings.Join([]string{
				"ann@laptop / Ed25519 / " + laptopFP + " / dated / false",
				"work desktop / Ed25519 / " + desktopFP + " / dated / false",
				"ann@oldolder field / Ed25519 / " + oldFP + " / undated / true",
			}, "\n")
			if got := rows(); got != want {
				t.Errorf("the SSH keys listed are\n%s\nwant\n%s", got, want)
			}
			b.visible("#ssh-legacy-hint")
			b.screenshots(shots, "account-ssh-keys")
			remove := func(name, fp string) {
				t.Helper()
				b.click(fmt.Sprintf(`#ssh-keys tr[data-name=%q] button[data-action="remove"]`, name))
				if msg := b.text("#confirm-message"); msg != fmt.Sprintf("Remove the SSH key %s (%s)? Your spaces stop accepting it for SSH.", name, fp) {
					t.Errorf("removing asks %q", msg)
				}
				b.click("#confirm-ok")
				b.gone(fmt.Sprintf(`#ssh-keys tr[data-name=%q]`, name))
			}
			remove("ann@laptop", laptopFP)
			remove("ann@old", oldFP)
			r := b.fetch("GET", "/api/users/"+annID+"/ssh-keys", nil, false)
			if r.Status != http.StatusOK || strings.Contains(r.Body, laptopFP) || !strings.Contains(r.Body, desktopFP) {
				t.Errorf("after removing one key the API lists %d %s", r.Status, r.Body)
			}
			if r := b.fetch("GET", "/api/users/whoami", nil, false); strings.Contains(r.Body, "ssh-ed25519") {
				t.Errorf("the older key field still holds a key: %s", r.Body)
			}
			if got := rows(); !strings.HasPrefix(got, "work desktop / Ed25519 / "+desktopFP) || strings.Contains(got, "\n") {
				t.Errorf("after removing two keys the list shows\n%s", got)
			}
			b.gone("#ssh-legacy-hint:not([hidden])")
		}},
		{"UnknownTimezoneIsSaidAtItsField", func(t *testing.T) {
			b.typeIn("#profile-form input[name=timezone]", "Mars/Olympus")
			b.click("#profile-form button[type=submit]")
			msg := b.text(`#profile-form input[name=timezone] ~ .field-error`)
			if !strings.HasPrefix(msg, `Time zone "Mars/Olympus" is not a known time zone`) {
				t.Errorf("time zone error %q", msg)
			}
			b.typeIn("#profile-form input[name=timezone]", "Europe/Paris")
		}},
		{"WrongCurrentPasswordIsSaidAtItsField", func(t *testing.T) {
			b.typeIn("#password-form input[name=current_password]", "not-my-password")
			b.typeIn("#password-form input[name=email]", "ann@new.example.com")
			b.typeIn("#password-form input[name=new_password]", "another-long-password")
			b.typeIn("#password-form input[name=new_password2]", "another-long-password")
			b.click("#password-form button[type=submit]")
			msg := b.text(`#password-form input[name=current_password] ~ .field-error`)
			if msg != "Current password is not your password" {
				t.Errorf("error next to the current password: %q", msg)
			}
			got := eval[[]string](b, "fields", `['current_password', 'email', 'new_password', 'new_password2'].map(n => document.querySelector('#password-form [name=' + n + ']').value)
				.concat([document.activeElement.name, document.querySelector('#password-form [name=current_password]').getAttribute('aria-invalid')])`)
			want := []string{"not-my-password", "ann@new.example.com", "another-long-password", "another-long-password", "current_password", "true"}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("after the refusal the form holds %q, want %q (values, focused field, aria-invalid)", got, want)
			}
			b.screenshots(shots, "account-password-error")
			// Nothing changed: the old password still logs in.
			if r := b.fetch("POST", "/api/auth", map[string]string{"email": "ann@example.com", "password": password}, false); r.Status != http.StatusOK {
				t.Errorf("the old password no longer logs in: %d %s", r.Status, r.Body)
			}
			b.open("/account")
			loaded()
		}},
		{"CreatesAndDeletesAToken", func(t *testing.T) {
			b.typeIn("#token-form input[name=name]", "laptop CLI")
			b.setValue("#token-form select[name=expires_at]", "30")
			b.click("#token-form button[type=submit]")
			b.visible(`#tokens tr[data-name="laptop CLI"]`)
			secret := b.text("#notice code.secret")
			if len(secret) < 20 {
				t.Fatalf("the new token's secret shown is %q", secret)
			}
			expires := b.text(`#tokens tr[data-name="laptop CLI"] td:nth-child(3)`)
			if expires == "never" || expires == "—" {
				t.Errorf("a token made to expire in 30 days shows expiry %q", expires)
			}
			b.click(`#tokens tr[data-name="laptop CLI"] button[data-action="delete"]`)
			b.click("#confirm-ok")
			b.gone(`#tokens tr[data-name="laptop CLI"]`)
			status("API token laptop CLI deleted.")
		}},
		{"RevokesAnotherSession", func(t *testing.T) {
			other := newTab(t, base)
			other.open("/login")
			other.login("ann@example.com", password, "/spaces")
			if r := other.fetch("GET", "/api/users/whoami", nil, false); r.Status != http.StatusOK {
				t.Fatalf("the other session: %d %s", r.Status, r.Body)
			}
			// The knot command line and a leaf log in as programs.
			for _, ua := range []string{"knot/1.2.3", "knot/1.2.3 leaf/branch"} {
				loginAs(t, base, ua, "ann@example.com", password)
			}
			b.open("/account")
			loaded()
			// Ann has this session, the other tab's, the one the check
			// of her old password opened with POST /api/auth, and the
			// programs'.
			rows := eval[[]string](b, "sessions", `[...document.querySelectorAll('#sessions tbody tr')].map(r => r.dataset.current)`)
			if strings.Count(strings.Join(rows, ","), "true") != 1 || len(rows) != 5 {
				t.Fatalf("sessions shown (current flags): %q, want this one and four others", rows)
			}
			if got := b.text(`#sessions tr[data-current="true"] .badge`); got != "this session" {
				t.Errorf("the current session is marked %q", got)
			}
			names := eval[[]string](b, "session names", `[...document.querySelectorAll('#sessions tbody tr .name')].map(n => n.textContent).sort()`)
			want := []string{"Chrome on Linux", "Chrome on Linux", "Chrome on Linux", "The knot command line (knot 1.2.3)", "Your login at the leaf branch"}
			if strings.Join(names, "|") != strings.Join(want, "|") {
				t.Errorf("the sessions are named %q, want %q", names, want)
			}
			if got := b.text("#sessions-hint"); !strings.HasPrefix(got, "Where you are logged in at this standalone server (location ") {
				t.Errorf("the sessions are said to be %q", got)
			}
			if n := eval[int](b, "revoke buttons", `document.querySelectorAll('#sessions tr[data-current="true"] button').length`); n != 0 {
				t.Errorf("the current session has %d buttons, want no Revoke", n)
			}
			b.screenshots(shots, "account")
			for left := 4; left > 0; left-- {
				b.click(`#sessions tr[data-current="false"] button[data-action="revoke"]`)
				b.click("#confirm-ok")
				cond := fmt.Sprintf(`document.querySelectorAll('#sessions tr[data-current="false"]').length === %d`, left-1)
				b.do("wait for the session to go", chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(stepTimeout)))
			}
			if r := other.fetch("GET", "/api/users/whoami", nil, false); r.Status != http.StatusUnauthorized {
				t.Errorf("the revoked session gets %d %s, want 401", r.Status, r.Body)
			}
			if r := b.fetch("GET", "/api/users/whoami", nil, false); r.Status != http.StatusOK {
				t.Errorf("this session after revoking the other: %d %s", r.Status, r.Body)
			}
		}},
		{"ShowsQuotaInUse", func(t *testing.T) {
			if got := b.text(`#quota dd[data-quota="Spaces"]`); got != "0 of 3" {
				t.Errorf("spaces quota shows %q", got)
			}
			if got := b.text(`#quota dd[data-quota="Compute units"]`); got != "0 of 10" {
				t.Errorf("compute quota shows %q", got)
			}
		}},
		{"ChangesEmailAndPassword", func(t *testing.T) {
			b.open("/account")
			loaded()
			const newPassword = "another-long-password"
			// With a token, the form asks what a new password does to it,
			// and deletes it unless told to keep it.
			b.typeIn("#token-form input[name=name]", "deploy bot")
			b.click("#token-form button[type=submit]")
			b.visible(`#tokens tr[data-name="deploy bot"]`)
			b.visible("#tokens-choice")
			if got := b.text("#tokens-choice legend"); got != "Your API token, when the password changes" {
				t.Errorf("the choice of what happens to the tokens is titled %q", got)
			}
			if got := eval[string](b, "token choice", `document.querySelector('#password-form [name=tokens_on_change]:checked').parentElement.textContent.trim()`); !strings.HasPrefix(got, "Delete it:") {
				t.Errorf("the choice made for the tokens is %q, want to delete them", got)
			}
			b.typeIn("#password-form input[name=current_password]", password)
			b.typeIn("#password-form input[name=email]", "ann@new.example.com")
			b.typeIn("#password-form input[name=new_password]", newPassword)
			b.typeIn("#password-form input[name=new_password2]", "a-typo-password")
			b.click("#password-form button[type=submit]")
			if msg := b.text(`#password-form input[name=new_password2] ~ .field-error`); msg != "New password again must be the same as the new password above" {
				t.Errorf("a mistyped repetition says %q", msg)
			}
			b.typeIn("#password-form input[name=new_password2]", newPassword)
			b.click("#password-form button[type=submit]")
			// The outcome is said next to the form's button, in view, not
			// only at the top of the page.
			const saved = "Your email is now ann@new.example.com. Your password is changed; your other sessions are logged out. Your API token is deleted."
			b.do("wait for the change said at the form", chromedp.Poll[chromedp.Void](fmt.Sprintf(`(s => s.checkVisibility() && s.textContent === %q &&
				s.closest('.form-actions').contains(document.querySelector('#password-form button[type=submit]')))(document.querySelector('#password-form [role=status]'))`, saved),
				chromedp.WithPollingTimeout(stepTimeout)))
			b.do("wait for the tokens to go", chromedp.Poll[chromedp.Void](`!document.querySelector('#tokens tr[data-name="deploy bot"]')`, chromedp.WithPollingTimeout(stepTimeout)))
			if !eval[bool](b, "the message in view", `(r => r.top >= 0 && r.bottom <= innerHeight)(document.querySelector('#password-form [role=status]').getBoundingClientRect())`) {
				t.Errorf("the message %q is out of view", saved)
			}
			b.gone(`#tokens tr[data-name="deploy bot"]`)
			b.do("wait for the token choice to go", chromedp.Poll[chromedp.Void](`document.querySelector('#tokens-choice').hidden`, chromedp.WithPollingTimeout(stepTimeout)))
			if got := b.text("#account-who"); got != "ann · ann@new.example.com" {
				t.Errorf("after the change the page says %q", got)
			}
			if got := eval[string](b, "current password", `document.querySelector('#password-form [name=current_password]').value`); got != "" {
				t.Errorf("the current password stays typed after saving")
			}
			// This session goes on; the new password logs in, the old one not.
			if r := b.fetch("GET", "/api/users/whoami", nil, false); r.Status != http.StatusOK {
				t.Errorf("this session after the change: %d %s", r.Status, r.Body)
			}
			if r := b.fetch("POST", "/api/auth", map[string]string{"email": "ann@new.example.com", "password": password}, false); r.Status != http.StatusUnauthorized {
				t.Errorf("the old password still logs in: %d %s", r.Status, r.Body)
			}
			if r := b.fetch("POST", "/api/auth", map[string]string{"email": "ann@new.example.com", "password": newPassword}, false); r.Status != http.StatusOK {
				t.Errorf("the new password does not log in: %d %s", r.Status, r.Body)
			}
		}},
		{"FitsAPhone", func(t *testing.T) {
			b.do("360 px", chromedp.EmulateViewport(360, 800))
			defer b.do("desktop width again", chromedp.EmulateViewport(1280, 900))
			if w := eval[float64](b, "page width", `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
				wide := eval[string](b, "widest", `[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '#' + e.id + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right)).slice(0, 12).join(' ')`)
				t.Errorf("at 360 px the page is %v px wider than the window: %s", w, wide)
			}
			for _, list := range []string{"#tokens", "#sessions", "#ssh-keys"} {
				js := fmt.Sprintf(`document.querySelector('%s').getBoundingClientRect().width - document.querySelector('%s').parentElement.clientWidth`, list, list)
				if w := eval[float64](b, list+" width", js); w > 0 {
					t.Errorf("at 360 px the list %s is %v px wider than its box", list, w)
				}
			}
		}},
		{"HeaderLeadsToTheAccount", func(t *testing.T) {
			b.open("/tokens")
			b.click("#username")
			b.waitPath("/account")
			if got := eval[string](b, "current", `document.querySelector('#username').getAttribute('aria-current') || ''`); got != "page" {
				t.Errorf("the header's link to the account is not marked current: %q", got)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.fn) {
			t.FailNow()
		}
	}
}

// loginAs logs in at base with the user agent ua, as a program does.
func loginAs(t *testing.T, base, ua, email, password string) {
	t.Helper()
	body, err := json.Marshal(map[string]string{"email": email, "password": password})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", base+"/api/auth", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", ua)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login as %s = %d", ua, resp.StatusCode)
	}
}

// withoutWebCrypto is a script that runs in every page before the page's
// own: the page has no crypto.subtle, as on plain http to a host other
// than localhost, and window.__subtleAsked says whether it looked.
const withoutWebCrypto = `(() => {
	window.__subtleAsked = false;
	Object.defineProperty(Crypto.prototype, 'subtle', { configurable: true, get() { window.__subtleAsked = true; return undefined; } });
})()`

// TestAccountSSHKeysShowTheServersFingerprints checks in Chromium, on a
// page without crypto.subtle, that the My account page shows the
// fingerprint the server gives for a key of the older ssh_public_key
// field, and for a line of it that is not a key, why; that the line is
// removed from the field there; and that the page never asks for
// crypto.subtle.
func TestAccountSSHKeysShowTheServersFingerprints(t *testing.T) {
	base := startUIServer(t)
	b := newTab(t, base)
	b.do("take crypto.subtle away", onEveryPage(withoutWebCrypto))
	b.setUpAdmin("a-long-password")
	id := eval[string](b, "user id", fmt.Sprintf(`JSON.parse(%q).user_id`, b.fetch("GET", "/api/users/whoami", nil, false).Body))
	old, oldFP := pubKey(t, "admin@old")
	const bad = "ssh-ed25519 not*base64 admin@broken"
	if r := b.fetch("PUT", "/api/users/"+id, map[string]any{"ssh_public_key": old + "\n" + bad}, true); r.Status != http.StatusOK {
		t.Fatalf("set the older key field = %d %s", r.Status, r.Body)
	}
	var list api.SSHKeyList
	if r := b.fetch("GET", "/api/users/"+id+"/ssh-keys", nil, false); json.Unmarshal([]byte(r.Body), &list) != nil ||
		len(list.LegacyKeys) != 2 || list.LegacyKeys[0].Fingerprint != oldFP {
		t.Fatalf("the server lists %d %s, want %s first", r.Status, r.Body, oldFP)
	}

	b.open("/account")
	b.do("wait for the page", chromedp.Poll[chromedp.Void](`document.querySelector('main').getAttribute('aria-busy') === 'false'`, chromedp.WithPollingTimeout(stepTimeout)))
	rows := func() string {
		return strings.Join(eval[[]string](b, "keys", `[...document.querySelectorAll('#ssh-keys tbody tr')].map(r =>
			[...r.cells].slice(0, 3).map(c => c.textContent).join(' / '))`), "\n")
	}
	want := "admin@oldolder field / Ed25519 / " + oldFP + "\n" +
		"Line 2older field / — / " + list.LegacyKeys[1].Error
	if got := rows(); got != want {
		t.Errorf("the SSH keys listed are\n%s\nwant\n%s", got, want)
	}
	if !strings.HasPrefix(list.LegacyKeys[1].Error, "not a valid public key: ") {
		t.Errorf("the server says of the line that is not a key %q", list.LegacyKeys[1].Error)
	}

	b.click(`#ssh-keys tr[data-name="Line 2"] button[data-action="remove"]`)
	b.click("#confirm-ok")
	b.gone(`#ssh-keys tr[data-name="Line 2"]`)
	var me struct {
		SSHPublicKey string `json:"ssh_public_key"`
	}
	if r := b.fetch("GET", "/api/users/whoami", nil, false); json.Unmarshal([]byte(r.Body), &me) != nil || me.SSHPublicKey != old {
		t.Errorf("after removing the line that is not a key the field is %d %s", r.Status, r.Body)
	}
	if got := rows(); got != "admin@oldolder field / Ed25519 / "+oldFP {
		t.Errorf("after removing the line that is not a key the list shows\n%s", got)
	}
	if eval[bool](b, "crypto.subtle asked", `window.__subtleAsked`) {
		t.Error("the page asked for crypto.subtle")
	}
}
