package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// fillSetupForm sends the first-user form of the login page: the user
// admin, admin@example.com, with password.
func (b *tab) fillSetupForm(password string) {
	b.t.Helper()
	b.open("/login")
	b.typeIn("#setup-form input[name=username]", "admin")
	b.typeIn("#setup-form input[name=email]", "admin@example.com")
	b.typeIn("#setup-form input[name=password]", password)
	b.typeIn("#setup-form input[name=password2]", password)
	b.click("#setup-form button[type=submit]")
}

// setUpAdmin creates the first user, as fillSetupForm, on a server
// without two-factor login, and waits for the spaces page it lands on.
func (b *tab) setUpAdmin(password string) {
	b.t.Helper()
	b.fillSetupForm(password)
	b.waitPath("/spaces")
}

// setupWithTOTP creates the first user, admin@example.com with password,
// on a server with two-factor login on: the login form that follows
// shows the enrolment, whose secret it returns.
func (b *tab) setupWithTOTP(password string) string {
	b.t.Helper()
	b.fillSetupForm(password)
	b.visible("#created")
	b.visible("#totp-enrol")
	return b.text("#totp-secret")
}

// TestTOTPChangeInBrowser moves a user's two-factor login to a new
// authenticator on the My account page: the password and a code of the
// old app show the new QR code and secret, a code computed from that
// secret confirms it, and from then on a login needs the new app's code.
func TestTOTPChangeInBrowser(t *testing.T) {
	base := startUIServer(t, withTOTP)
	b := newTab(t, base)
	const password = "a-long-password"
	old := b.setupWithTOTP(password)
	b.typeIn("#login-form input[name=totp_code]", codeAt(t, old, time.Now()))
	b.click("#login-form button[type=submit]")
	b.waitPath("/spaces")

	b.open("/account")
	b.visible("#totp-form")
	// A wrong password is said next to its field, and no secret is shown.
	b.typeIn("#totp-form input[name=current_password]", "not-the-password")
	b.typeIn("#totp-form input[name=totp_code]", codeAt(t, old, time.Now().Add(30*time.Second)))
	b.click("#totp-form button[type=submit]")
	b.pollUntil("the wrong password said at its field",
		`document.querySelector('#totp-form input[name=current_password]').getAttribute('aria-invalid') === 'true'`, stepTimeout)
	if !eval[bool](b, "confirm form hidden", `document.querySelector('#totp-confirm-form').hidden`) {
		t.Fatal("a wrong password showed a new secret")
	}

	// The code of the next step: the one of the login is used.
	b.typeIn("#totp-form input[name=current_password]", password)
	b.typeIn("#totp-form input[name=totp_code]", codeAt(t, old, time.Now().Add(30*time.Second)))
	b.click("#totp-form button[type=submit]")
	b.visible("#totp-new-qr")
	if w := eval[float64](b, "QR code width", `document.querySelector('#totp-new-qr').naturalWidth`); w != 240 {
		t.Errorf("the QR code image is %v pixels wide, want 240 (not loaded?)", w)
	}
	next := b.text("#totp-new-secret")
	if next == "" || next == old {
		t.Fatalf("the page shows the new secret %q (the old one is %q)", next, old)
	}
	b.groupedSecret("#totp-new-secret", next)
	if strings.Contains(eval[string](b, "the URL", `location.href`), next) {
		t.Fatal("the secret is in the page's URL")
	}
	b.screenshots(t.TempDir(), "account-totp-change")
	b.checkAccessibility("/account with a new two-factor secret")
	b.typeIn("#totp-confirm-form input[name=totp_code]", codeAt(t, next, time.Now()))
	b.click("#totp-confirm-form button[type=submit]")
	b.pollUntil("the change confirmed", `document.querySelector('#totp-confirm-form').hidden && !document.querySelector('#totp-form').hidden &&
		[...document.querySelectorAll('#alerts [role="status"] p')].some(p => p.textContent.startsWith('Your new authenticator is in use'))`, stepTimeout)

	// A new login: the old app's code is refused, the new one's logs in.
	l := newTab(t, base)
	l.open("/login")
	l.visible("#login-form #totp-code")
	l.typeIn("#login-form input[name=email]", "admin@example.com")
	l.typeIn("#login-form input[name=password]", password)
	l.typeIn("#login-form input[name=totp_code]", codeAt(t, old, time.Now().Add(30*time.Second)))
	l.click("#login-form button[type=submit]")
	l.pollUntil("the old code refused", `(document.querySelector('#login-form .error:not([hidden])') || {}).textContent?.includes('two-factor code')`, stepTimeout)
	l.typeIn("#login-form input[name=totp_code]", codeAt(t, next, time.Now().Add(30*time.Second)))
	l.click("#login-form button[type=submit]")
	l.waitPath("/spaces")
}

// TestTOTPResetInBrowser resets a user's two-factor login from the Users
// page: their next login gives them a new secret to enrol.
func TestTOTPResetInBrowser(t *testing.T) {
	base := startUIServer(t, withTOTP)
	b := newTab(t, base)
	const password = "a-long-password"
	b.typeIn("#login-form input[name=totp_code]", codeAt(t, b.setupWithTOTP(password), time.Now()))
	b.click("#login-form button[type=submit]")
	b.waitPath("/spaces")
	if r := b.fetch("POST", "/api/users", map[string]any{"username": "ann", "email": "ann@example.com", "password": testPassword}, true); r.Status != http.StatusCreated {
		t.Fatalf("create ann = %d %s", r.Status, r.Body)
	}
	enrolAt(t, base, "ann@example.com", time.Now())
	// bob has never logged in, so has no two-factor login to reset.
	if r := b.fetch("POST", "/api/users", map[string]any{"username": "bob", "email": "bob@example.com", "password": testPassword}, true); r.Status != http.StatusCreated {
		t.Fatalf("create bob = %d %s", r.Status, r.Body)
	}

	b.open("/users")
	b.visible(`button[aria-label="Reset two-factor ann"]`)
	const resetOf = `(name) => !!document.querySelector('tr[data-name="' + name + '"] button[data-action="reset-totp"]')`
	if !eval[bool](b, "bob's row", `!!document.querySelector('tr[data-name="bob"]')`) {
		t.Fatal("bob is not listed")
	}
	if eval[bool](b, "reset offered for bob", `(`+resetOf+`)('bob')`) {
		t.Error(`"Reset two-factor" is offered for bob, who never set up two-factor login`)
	}
	b.click(`button[aria-label="Reset two-factor ann"]`)
	b.click("#confirm-ok")
	b.pollUntil("the reset said", `[...document.querySelectorAll('#alerts [role="status"] p')].some(p => p.textContent.startsWith('Two-factor login of ann reset'))`, stepTimeout)
	b.pollUntil("no reset offered for ann once reset", `!(`+resetOf+`)('ann') && (`+resetOf+`)('admin')`, stepTimeout)
	a := call(t, base, "POST", "/api/auth", "", loginBody("ann@example.com", ""))
	startEnrolment(t, &resp{code: a.code, body: a.body})
}
