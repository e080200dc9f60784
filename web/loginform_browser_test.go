package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// withoutScripts keeps the UI's scripts from loading in the tab, as when
// a user is quicker than the network, or a proxy drops them.
func withoutScripts() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.SetBlockedURLs, network.SetBlockedURLsParams{
			URLPatterns: []*network.BlockPattern{{URLPattern: "*://*:*/ui/static/js/*", Block: true}}})
		return err
	})
}

// history returns the URLs of the tab's history.
func (b *tab) history() []string {
	b.t.Helper()
	h := value(b, "history", chromedp.Action[page.GetNavigationHistoryResult](func(ctx context.Context, t *chromedp.Target) (page.GetNavigationHistoryResult, error) {
		return cdp.Call(ctx, t, page.GetNavigationHistory, cdp.Empty{})
	}))
	var out []string
	for _, e := range h.Entries {
		out = append(out, e.URL)
	}
	return out
}

// TestLoginWithoutScriptInBrowser logs in on a login page whose script
// never loaded, with two-factor login on: the form sends nothing in a
// URL, the first login shows the new secret, and the code logs in.
func TestLoginWithoutScriptInBrowser(t *testing.T) {
	base := startUIServer(t, withTOTP)
	const password = "a-long-password"
	mustCall(t, http.StatusCreated, base, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": password}, nil)
	b := newTab(t, base)
	b.do("block the UI's scripts", withoutScripts())
	b.open("/login")
	b.waitPath("/login")
	if loaded := eval[bool](b, "whether login.js ran", `performance.getEntriesByType('resource').some((e) => e.name.endsWith('/login.js') && e.responseStatus === 200)`); loaded {
		t.Fatal("the login page's script loaded")
	}
	b.visible("#login-form #totp-code")
	b.typeIn("#login-form input[name=email]", "admin@example.com")
	b.typeIn("#login-form input[name=password]", password)
	b.click("#login-form button[type=submit]")

	secret := b.text("#totp-secret")
	if uri := b.text("#totp-url"); !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "secret="+secret) {
		t.Fatalf("the page shows secret %q and URI %q", secret, uri)
	}
	b.visible("#totp-qr")
	if msg := b.text("#totp-enrol"); !strings.Contains(msg, "no authenticator yet") {
		t.Fatalf("the page says %q", msg)
	}
	b.enrolmentSaysNoMore()
	if got := eval[string](b, "password field", `document.querySelector('#login-form input[name=password]').value`); got != "" {
		t.Fatalf("the page came back with the password %q", got)
	}
	code := codeAt(t, secret, time.Now())
	b.typeIn("#login-form input[name=password]", password)
	b.typeIn("#login-form input[name=totp_code]", code)
	b.click("#login-form button[type=submit]")
	b.waitPath("/spaces")
	if got := b.text("#username"); got != "admin" {
		t.Fatalf("header shows user %q", got)
	}
	for _, u := range b.history() {
		if strings.Contains(u, password) || strings.Contains(u, code) || strings.Contains(u, "email=") {
			t.Fatalf("the history holds %q", u)
		}
	}
}
