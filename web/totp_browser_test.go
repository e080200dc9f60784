package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// groupedSecret fails the test unless the two-factor secret at css shows
// at a phone's width as authenticator apps show it, in groups of four
// characters that no line breaks inside, and a selection of it copies as
// the secret, without spaces.
func (b *tab) groupedSecret(css, secret string) {
	b.t.Helper()
	b.do("phone width", chromedp.EmulateViewport(390, 844))
	got := eval[string](b, "the secret's groups", fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		const groups = [...el.children].filter((e) => e.tagName === 'SPAN');
		const broken = groups.filter((g) => g.getClientRects().length !== 1).length;
		const r = document.createRange();
		r.selectNodeContents(el);
		const sel = getSelection();
		sel.removeAllRanges();
		sel.addRange(r);
		const copied = sel.toString();
		sel.removeAllRanges();
		return groups.map((g) => g.textContent).join(' ') + ' | broken inside ' + broken + ' | copied ' + copied;
	})()`, css))
	var want []string
	for s := secret; s != ""; s = s[min(4, len(s)):] {
		want = append(want, s[:min(4, len(s))])
	}
	if w := strings.Join(want, " ") + " | broken inside 0 | copied " + secret; got != w || len(secret) < 16 {
		b.t.Errorf("%s at 390 px shows %q, want %q", css, got, w)
	}
	b.do("desktop width again", chromedp.EmulateViewport(1280, 900))
}

// enrolmentSaysNoMore fails the test when the login page that shows a
// two-factor enrolment also shows an error: the API's message for it
// names its JSON fields (totp_secret, totp_code), and the enrolment's
// notice says what to do in words.
func (b *tab) enrolmentSaysNoMore() {
	b.t.Helper()
	b.visible("#totp-enrol")
	if msg := eval[string](b, "the form's error", `(() => { const e = document.querySelector('#login-form .error'); return e.checkVisibility() ? e.textContent : ''; })()`); msg != "" {
		b.t.Errorf("the enrolment shows the error %q", msg)
	}
}

// TestTOTPEnrolmentInBrowser sets up two-factor login on the login page:
// the first login shows the secret and its URI, and a code logs in.
func TestTOTPEnrolmentInBrowser(t *testing.T) {
	base := startUIServer(t, withTOTP)
	b := newTab(t, base)
	const password = "a-long-password"
	b.open("/")
	b.waitPath("/login")
	// The account is made, and the login form says so, holds what was
	// typed and shows the enrolment at once.
	secret := b.setupWithTOTP(password)
	if got := b.text("#created"); !strings.HasPrefix(got, "The account admin is created") || !strings.Contains(got, "two-factor login is on") {
		t.Errorf("after creating the first user the login form says %q", got)
	}
	if got := eval[[]string](b, "login form", `['email', 'totp_code'].map(n => document.querySelector('#login-form [name=' + n + ']').value)
		.concat([document.activeElement.name, String(document.querySelector('#setup-form').checkVisibility())])`); strings.Join(got, "|") != "admin@example.com||totp_code|false" {
		t.Errorf("after creating the first user the login form holds email %q and code %q, focus is on %q, the first user's form shows: %s", got[0], got[1], got[2], got[3])
	}
	b.groupedSecret("#totp-secret", secret)
	b.enrolmentSaysNoMore()
	if uri := b.text("#totp-url"); !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "secret="+secret) {
		t.Fatalf("the page shows secret %q and URI %q", secret, uri)
	}
	// The QR code shows: the data: URL loads under the page's CSP.
	b.visible("#totp-qr")
	if w := eval[float64](b, "QR code width", `document.querySelector('#totp-qr').naturalWidth`); w != 240 {
		t.Errorf("the QR code image is %v pixels wide, want 240 (not loaded?)", w)
	}
	b.screenshots(t.TempDir(), "login-totp-enrol")
	b.checkAccessibility("/login with the two-factor enrolment")
	// Log in pressed before the code is typed asks for it: a login without
	// a code would make a new secret, which the app just set up would not
	// match.
	b.click("#login-form button[type=submit]")
	b.visible("#login-form .error")
	if got := b.text("#login-form .error"); got != "Enter the code your authenticator app shows for the secret above." {
		t.Errorf("Log in without a code during the enrolment says %q", got)
	}
	if got := b.text("#totp-secret"); got != secret {
		t.Fatalf("Log in without a code during the enrolment changed the secret from %s to %s", secret, got)
	}
	b.typeIn("#login-form input[name=totp_code]", codeAt(t, secret, time.Now()))
	b.click("#login-form button[type=submit]")
	b.waitPath("/spaces")
	if got := b.text("#username"); got != "admin" {
		t.Fatalf("header shows user %q", got)
	}
}
