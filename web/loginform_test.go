package web_test

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared/testenv"
	"github.com/knot-dev/knot/web"
)

// postLoginForm sends the login form as a browser without the page's
// script does: form-encoded, from a page of the server.
func postLoginForm(e *env, email, password string) *resp {
	e.t.Helper()
	form := url.Values{"email": {email}, "password": {password}, "redirect": {"/templates"}}
	return e.send(req{method: "POST", path: "/login", body: form.Encode(), header: map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://example.com", "Sec-Fetch-Site": "same-origin"}})
}

// The login form sent without its script logs in as the JSON login of
// the page does (the session and CSRF cookies, the audit event), and a
// refused one shows the login page with the reason, echoing no password;
// the request log, at its most verbose, names neither the password of a
// form sent as a GET nor that of a POST.
func TestLoginFormWithoutScriptAtTheServer(t *testing.T) {
	logs := &testenv.Buffer{}
	e := newEnv(t, func(o *web.TestOptions) {
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	e.admin()
	const wrong = "not-the-password-123"

	t.Run("LogsIn", func(t *testing.T) {
		r := postLoginForm(e, "admin@example.com", testPassword)
		if r.code != http.StatusSeeOther || r.header.Get("Location") != "/login?redirect=%2Ftemplates" {
			t.Fatalf("= %d to %q:\n%s", r.code, r.header.Get("Location"), r.body)
		}
		var session, csrf *http.Cookie
		for _, c := range (&http.Response{Header: r.header}).Cookies() {
			switch c.Name {
			case "__KNOT_SESSION":
				session = c
			case "__KNOT_CSRF":
				csrf = c
			}
		}
		if session == nil || csrf == nil || !session.HttpOnly {
			t.Fatalf("cookies %q", r.header.Values("Set-Cookie"))
		}
		// The login page, with the session, sends the user on.
		next := e.page("/login?redirect=%2Ftemplates", []*http.Cookie{session})
		if next.code != http.StatusSeeOther || next.header.Get("Location") != "/templates" {
			t.Fatalf("the login page after the form = %d to %q", next.code, next.header.Get("Location"))
		}
		if !e.hasAudit("Login Success", "admin") {
			t.Error("no audit event for the login")
		}
	})

	t.Run("RefusalEchoesNoPassword", func(t *testing.T) {
		r := postLoginForm(e, "admin@example.com", wrong)
		body := r.String()
		if r.code != http.StatusUnauthorized || !strings.Contains(body, "Invalid email or password.") || !strings.Contains(body, `id="login-form"`) {
			t.Fatalf("= %d:\n%s", r.code, body)
		}
		if strings.Contains(body, wrong) || len(r.header.Values("Set-Cookie")) != 0 {
			t.Fatalf("the refusal echoes the password or sets a cookie:\n%v\n%s", r.header, body)
		}
	})

	t.Run("GETWithCredentialsIsNotLogged", func(t *testing.T) {
		r := e.page("/login?email=admin%40example.com&password="+wrong, nil)
		if r.code != http.StatusSeeOther || r.header.Get("Location") != "/login" {
			t.Fatalf("= %d to %q", r.code, r.header.Get("Location"))
		}
		if len(logs.Lines("route=/login")) == 0 {
			t.Fatal("the request log has no line of the login page")
		}
		if leaked := append(logs.Lines(wrong), logs.Lines(testPassword)...); len(leaked) > 0 {
			t.Fatalf("the log holds a password:\n%s", strings.Join(leaked, "\n"))
		}
	})
}
