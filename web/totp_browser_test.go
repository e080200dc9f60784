package web_test

import (
	"strings"
	"testing"
	"time"
)

// TestTOTPEnrolmentInBrowser sets up two-factor login on the login page:
// the first login shows the secret and its URI, and a code logs in.
func TestTOTPEnrolmentInBrowser(t *testing.T) {
	base := startUIServer(t, withTOTP)
	b := newTab(t, base)
	const password = "a-long-password"
	b.open("/")
	b.waitPath("/login")
	b.typeIn("#setup-form input[name=username]", "admin")
	b.typeIn("#setup-form input[name=email]", "admin@example.com")
	b.typeIn("#setup-form input[name=password]", password)
	b.typeIn("#setup-form input[name=password2]", password)
	b.click("#setup-form button[type=submit]")
	b.visible("#login-form #totp-code")
	b.typeIn("#login-form input[name=email]", "admin@example.com")
	b.typeIn("#login-form input[name=password]", password)
	b.click("#login-form button[type=submit]")
	secret := b.text("#totp-secret")
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
	b.typeIn("#login-form input[name=totp_code]", codeAt(t, secret, time.Now()))
	b.click("#login-form button[type=submit]")
	b.waitPath("/spaces")
	if got := b.text("#username"); got != "admin" {
		t.Fatalf("header shows user %q", got)
	}
}
