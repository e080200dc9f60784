package ui

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
)

// fakeUsers is a user service that says whether the first user is to be
// created.
type fakeUsers struct {
	shared.UserService
	setup bool
}

func (f fakeUsers) NeedsSetup(context.Context) (bool, error) { return f.setup, nil }

const (
	formPassword = "correct-horse-battery"
	formCode     = "123456"
)

// formUI is the UI on Deps that edit changes, over a login that takes
// ann@example.com with formPassword and records what it was sent.
func formUI(t *testing.T, edit func(*Deps)) (http.Handler, *[]shared.LoginRequest) {
	t.Helper()
	var logins []shared.LoginRequest
	statuses := map[string]int{shared.EUNAUTHORIZED: 401, shared.EFORBIDDEN: 403, shared.EINVALID: 400, shared.ERATELIMIT: 429}
	r := chi.NewRouter()
	d := Deps{
		Authenticate: func(*http.Request) (*shared.Actor, error) { return nil, shared.Errorf(shared.EUNAUTHORIZED, "log in") },
		Status: func(err error) int {
			if s, ok := statuses[shared.ErrorCode(err)]; ok {
				return s
			}
			return 500
		},
		Spaces: fakeSpaces{},
		Users:  fakeUsers{},
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Role:   "standalone", Location: "here", Version: "v1",
		Login: func(w http.ResponseWriter, r *http.Request, req shared.LoginRequest) (*shared.LoginResult, error) {
			logins = append(logins, req)
			if req.Email != "ann@example.com" || req.Password != formPassword {
				return nil, shared.Errorf(shared.EUNAUTHORIZED, "invalid email or password")
			}
			http.SetCookie(w, &http.Cookie{Name: "__KNOT_SESSION", Value: "s1"})
			return &shared.LoginResult{Secret: "s1"}, nil
		},
	}
	if edit != nil {
		edit(&d)
	}
	Mount(r, d)
	return r, &logins
}

// postForm sends form to path as a browser on this site does.
func postForm(h http.Handler, path string, form url.Values, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://example.com") // httptest's host
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func loginForm(password, code string) url.Values {
	return url.Values{"email": {"ann@example.com"}, "password": {password}, "totp_code": {code}, "redirect": {"/templates?x=1"}}
}

// A login form sent without its script logs in, and goes on to the page
// the login was for; a refused one shows the login page again with the
// reason and the email, but never the password or the code.
func TestLoginFormWithoutScript(t *testing.T) {
	h, logins := formUI(t, nil)

	t.Run("LogsInAndGoesOn", func(t *testing.T) {
		w := postForm(h, "/login", loginForm(formPassword, formCode))
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login?redirect="+url.QueryEscape("/templates?x=1") {
			t.Fatalf("= %d to %q, want 303 to the login page that sends the user on:\n%s", w.Code, w.Header().Get("Location"), w.Body)
		}
		if !strings.Contains(w.Header().Get("Set-Cookie"), "__KNOT_SESSION=s1") {
			t.Fatalf("no session cookie: %q", w.Header().Values("Set-Cookie"))
		}
		got := (*logins)[len(*logins)-1]
		if got.Email != "ann@example.com" || got.Password != formPassword || got.TOTPCode != formCode {
			t.Fatalf("the login was sent %+v", got)
		}
	})

	t.Run("RefusalShowsTheReasonAndNoSecret", func(t *testing.T) {
		w := postForm(h, "/login", loginForm("wrong-"+formPassword, formCode))
		body := w.Body.String()
		if w.Code != http.StatusUnauthorized || !strings.Contains(body, "Invalid email or password.") {
			t.Fatalf("= %d, want 401 with the reason:\n%s", w.Code, body)
		}
		if strings.Contains(body, formPassword) || strings.Contains(body, formCode) {
			t.Fatalf("the page echoes the password or the code:\n%s", body)
		}
		if !strings.Contains(body, `value="ann@example.com"`) || !strings.Contains(body, `id="login-form" class="card" method="post" action="/login"`) {
			t.Fatalf("the page has not the login form with the email typed:\n%s", body)
		}
		if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Content-Security-Policy") != csp {
			t.Fatalf("headers %v", w.Header())
		}
	})

	t.Run("RateLimitSaysWhenToRetry", func(t *testing.T) {
		h, _ := formUI(t, func(d *Deps) {
			d.Login = func(http.ResponseWriter, *http.Request, shared.LoginRequest) (*shared.LoginResult, error) {
				return nil, &shared.RetryError{Err: shared.Errorf(shared.ERATELIMIT, "too many logins"), After: 1500 * time.Millisecond}
			}
		})
		w := postForm(h, "/login", loginForm(formPassword, ""))
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "2" || !strings.Contains(w.Body.String(), "Too many logins.") {
			t.Fatalf("= %d Retry-After %q:\n%s", w.Code, w.Header().Get("Retry-After"), w.Body)
		}
	})

	t.Run("EnrolmentShowsTheSecret", func(t *testing.T) {
		h, _ := formUI(t, func(d *Deps) {
			d.UsingTOTP = func() bool { return true }
			d.Login = func(http.ResponseWriter, *http.Request, shared.LoginRequest) (*shared.LoginResult, error) {
				return nil, &shared.TOTPEnrolment{Secret: "JBSWY3DPEHPK3PXP", URI: "otpauth://totp/Knot:ann?secret=JBSWY3DPEHPK3PXP"}
			}
		})
		w := postForm(h, "/login", loginForm(formPassword, ""))
		body := w.Body.String()
		for _, want := range []string{`id="totp-secret"><span>JBSW</span><wbr><span>Y3DP</span><wbr><span>EHPK</span><wbr><span>3PXP</span></code>`, `src="data:image/png;base64,`, `<div id="totp-enrol" class="notice">`, `<label id="totp-code">`} {
			if !strings.Contains(body, want) {
				t.Fatalf("= %d, the enrolment page lacks %q:\n%s", w.Code, want, body)
			}
		}
		if w.Code != http.StatusUnauthorized || strings.Contains(body, formPassword) {
			t.Fatalf("= %d, or the password is echoed:\n%s", w.Code, body)
		}
		// The notice says what to do; the API's message names JSON fields.
		if strings.Contains(body, "totp_secret") || !strings.Contains(body, `<p class="error" role="alert" hidden>`) {
			t.Fatalf("the enrolment page shows an error:\n%s", body)
		}
	})

	t.Run("AnotherSitesFormIsRefused", func(t *testing.T) {
		before := len(*logins)
		for _, h2 := range [][]string{
			{"Origin", "https://evil.example"},
			{"Sec-Fetch-Site", "cross-site"},
			{"Sec-Fetch-Site", "same-site"},
			{"Origin", ""},
		} {
			w := postForm(h, "/login", loginForm(formPassword, ""), h2...)
			if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "not sent from a page of this site") {
				t.Fatalf("with %s: %q = %d:\n%s", h2[0], h2[1], w.Code, w.Body)
			}
		}
		if len(*logins) != before {
			t.Fatal("a form of another site was sent on to the login")
		}
		if w := postForm(h, "/login", loginForm(formPassword, ""), "Origin", "", "Sec-Fetch-Site", "same-origin"); w.Code != http.StatusSeeOther {
			t.Fatalf("with Sec-Fetch-Site same-origin = %d", w.Code)
		}
	})

	t.Run("FirstUserFormAsksForJavaScript", func(t *testing.T) {
		h, logins := formUI(t, func(d *Deps) { d.Users = fakeUsers{setup: true} })
		form := url.Values{"username": {"ann"}, "email": {"ann@example.com"}, "password": {formPassword}, "password2": {formPassword}}
		w := postForm(h, "/login", form)
		body := w.Body.String()
		if w.Code != http.StatusBadRequest || !strings.Contains(body, "This form needs JavaScript") || !strings.Contains(body, `id="setup-form"`) ||
			!strings.Contains(body, `value="ann"`) || strings.Contains(body, formPassword) || len(*logins) != 0 {
			t.Fatalf("= %d:\n%s", w.Code, body)
		}
	})

	t.Run("OversizedFormIsRefused", func(t *testing.T) {
		w := postForm(h, "/login", url.Values{"email": {strings.Repeat("a", maxFormBody)}})
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "could not be read") {
			t.Fatalf("= %d:\n%s", w.Code, w.Body)
		}
	})
}

// A login form sent as a GET (an older page, or a link) leaves no password
// in the address bar: the login page sends the browser to itself without
// the query, keeping only where to go after.
func TestLoginPageDropsCredentialsFromTheURL(t *testing.T) {
	h, _ := formUI(t, nil)
	req := httptest.NewRequest("GET", "/login?email=ann%40example.com&password="+formPassword+"&redirect=%2Fusers", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login?redirect=%2Fusers" {
		t.Fatalf("= %d to %q", w.Code, w.Header().Get("Location"))
	}
}

// formTag matches a form's opening tag and its contents.
var formTag = regexp.MustCompile(`(?s)<form ([^>]*)>(.*?)</form>`)

// Every form of every page that carries a password, a TOTP code or a
// secret value is a POST form whose action takes a POST: sent before its
// script has loaded, it puts nothing in a URL, and the answer says what
// happened (never a 405 or a 500).
func TestSecretFormsArePostForms(t *testing.T) {
	admin := &shared.Actor{User: &shared.User{Username: "root"}, Admin: true, Permissions: shared.PermissionsOf(shared.AllPermissions())}
	h, _ := formUI(t, func(d *Deps) {
		d.Authenticate = func(r *http.Request) (*shared.Actor, error) {
			if r.URL.Path == "/login" {
				return nil, shared.Errorf(shared.EUNAUTHORIZED, "log in")
			}
			return admin, nil
		}
	})
	secret := regexp.MustCompile(`type="password"|name="totp_code"|name="value"`)
	paths := []string{"/login"}
	for _, p := range pages {
		paths = append(paths, p.path)
	}
	checked := 0
	for _, p := range paths {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		for _, m := range formTag.FindAllStringSubmatch(w.Body.String(), -1) {
			if !secret.MatchString(m[2]) {
				continue
			}
			checked++
			attrs := m[1]
			action := regexp.MustCompile(`action="([^"]+)"`).FindStringSubmatch(attrs)
			if !strings.Contains(attrs, `method="post"`) || action == nil {
				t.Errorf("%s: the form <%s> carries a secret but is not a POST form with an action", p, attrs)
				continue
			}
			a := postForm(h, action[1], url.Values{"password": {formPassword}, "current_password": {formPassword}, "totp_code": {formCode}, "value": {formPassword}})
			if a.Code == http.StatusMethodNotAllowed || a.Code >= 500 || strings.Contains(a.Body.String(), formPassword) {
				t.Errorf("%s: a POST of the form <%s> = %d, or echoes the password:\n%s", p, attrs, a.Code, a.Body)
			}
			if action[1] != "/login" && !strings.Contains(a.Body.String(), "This form needs JavaScript") {
				t.Errorf("%s: a POST of the form <%s> does not say it needs JavaScript:\n%s", p, attrs, a.Body)
			}
		}
	}
	// The login form; the account page's password, TOTP and TOTP
	// confirmation forms; the users and variables editors.
	if checked < 6 {
		t.Fatalf("only %d forms carry a secret: the pages were not rendered as expected", checked)
	}
}
