package web_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

func firstUser(name string) map[string]any {
	return map[string]any{"username": name, "email": name + "@example.com", "password": "first-password"}
}

func TestFirstUserSetup(t *testing.T) {
	e := newEnv(t)

	t.Run("OtherRoutesNeedAuthentication", func(t *testing.T) {
		r := e.must(http.StatusUnauthorized, "GET", "/api/users", "", nil)
		r.errMsg(t)
	})

	t.Run("FirstUserBecomesActiveAdmin", func(t *testing.T) {
		r := e.must(http.StatusCreated, "POST", "/api/users", "", firstUser("root"))
		var out struct {
			Status bool   `json:"status"`
			UserID string `json:"user_id"`
		}
		r.decode(t, &out)
		u, err := getRecord[shared.User](e, out.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if !u.Active || len(u.Roles) != 1 || u.Roles[0] != shared.AdminRoleID {
			t.Fatalf("first user = active %v roles %v, want an active admin", u.Active, u.Roles)
		}
		if u.PasswordHash == "" || strings.Contains(u.PasswordHash, "first-password") {
			t.Fatalf("password stored as %q", u.PasswordHash)
		}
		if !e.hasAudit("User Create", "root") {
			t.Fatal("no audit event for the first user")
		}
	})

	t.Run("SecondUserNeedsAuthentication", func(t *testing.T) {
		r := e.must(http.StatusUnauthorized, "POST", "/api/users", "", firstUser("intruder"))
		r.errMsg(t)
	})

	t.Run("FirstUserCanLogIn", func(t *testing.T) {
		r := e.must(http.StatusOK, "POST", "/api/auth", "", map[string]string{"email": "root@example.com", "password": "first-password"})
		var out struct {
			Token string `json:"token"`
		}
		r.decode(t, &out)
		e.must(http.StatusOK, "GET", "/api/users/whoami", out.Token, nil)
	})
}

func TestFirstUserRaceMakesOneAdmin(t *testing.T) {
	e := newEnv(t)
	const n = 8
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.do("POST", "/api/users", "", firstUser("racer"+strconv.Itoa(i))).code
		}()
	}
	wg.Wait()
	created := 0
	for _, c := range codes {
		switch c {
		case http.StatusCreated:
			created++
		case http.StatusUnauthorized:
		default:
			t.Fatalf("concurrent first-user request answered %d", c)
		}
	}
	users, err := storage.List[shared.User](context.Background(), e.store)
	if err != nil {
		t.Fatal(err)
	}
	if created != 1 || len(users) != 1 {
		t.Fatalf("%d requests succeeded and %d users exist, want exactly 1 admin", created, len(users))
	}
}

func login(e *env, email, password string) *resp {
	return e.send(req{method: "POST", path: "/api/auth", body: map[string]string{"email": email, "password": password}})
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	u, _ := e.user("ann")

	t.Run("SuccessGivesAWorkingSessionToken", func(t *testing.T) {
		r := login(e, "ann@example.com", testPassword)
		if r.code != http.StatusOK {
			t.Fatalf("login = %d %s", r.code, r.body)
		}
		var out struct {
			Status bool   `json:"status"`
			Token  string `json:"token"`
		}
		r.decode(t, &out)
		if !out.Status || out.Token == "" {
			t.Fatalf("login response %s", r.body)
		}
		se, err := getRecord[shared.Session](e, crypt.HashToken(out.Token))
		if err != nil {
			t.Fatalf("no session stored under the token's hash: %v", err)
		}
		if se.UserID != u.ID || se.IP == "" || !se.ExpiresAt.Equal(e.clock.Now().Add(2*time.Hour)) {
			t.Fatalf("session = %+v", se)
		}
		var who struct {
			UserID string `json:"user_id"`
		}
		e.must(http.StatusOK, "GET", "/api/users/whoami", out.Token, nil).decode(t, &who)
		if who.UserID != u.ID {
			t.Fatalf("whoami = %s, want %s", who.UserID, u.ID)
		}
		if !e.hasAudit("Login Success", "ann") {
			t.Fatal("no audit event for the login")
		}
	})

	t.Run("EmailIsCaseInsensitive", func(t *testing.T) {
		if r := login(e, "ANN@Example.com", testPassword); r.code != http.StatusOK {
			t.Fatalf("login = %d %s", r.code, r.body)
		}
	})

	for _, tc := range []struct{ name, email, password string }{
		{"WrongPasswordIs401", "ann@example.com", "wrong-password"},
		{"UnknownEmailIs401", "nobody@example.com", testPassword},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := login(e, tc.email, tc.password)
			if r.code != http.StatusUnauthorized {
				t.Fatalf("login = %d %s", r.code, r.body)
			}
			if msg := r.errMsg(t); msg != "invalid email or password" {
				t.Fatalf("message %q", msg)
			}
			if !e.hasAudit("Login Failed", "") {
				t.Fatal("no audit event for the failed login")
			}
		})
	}

	t.Run("InactiveUserIs401", func(t *testing.T) {
		bob, token := e.user("bob")
		bob.Active = false
		if err := e.store.Put(context.Background(), bob); err != nil {
			t.Fatal(err)
		}
		if r := login(e, "bob@example.com", testPassword); r.code != http.StatusUnauthorized {
			t.Fatalf("login of inactive user = %d %s", r.code, r.body)
		}
		if r := e.do("GET", "/api/users/whoami", token, nil); r.code != http.StatusUnauthorized {
			t.Fatalf("existing session of inactive user = %d %s", r.code, r.body)
		}
	})

	t.Run("MissingFieldsAre400", func(t *testing.T) {
		r := e.send(req{method: "POST", path: "/api/auth", body: map[string]string{"email": "ann@example.com"}})
		if r.code != http.StatusBadRequest || !strings.Contains(r.errMsg(t), "password") {
			t.Fatalf("login without password = %d %s", r.code, r.body)
		}
	})

	t.Run("UsingTOTPIsFalse", func(t *testing.T) {
		r := e.must(http.StatusOK, "GET", "/api/auth/using-totp", "", nil)
		if strings.TrimSpace(r.String()) != `{"using_totp":false}` {
			t.Fatalf("using-totp = %s", r.body)
		}
	})
}

func TestLogoutEndsTheSession(t *testing.T) {
	e := newEnv(t)
	e.user("ann")
	var out struct {
		Token string `json:"token"`
	}
	login(e, "ann@example.com", testPassword).decode(t, &out)
	e.must(http.StatusOK, "POST", "/api/auth/logout", out.Token, nil)
	if _, err := getRecord[shared.Session](e, crypt.HashToken(out.Token)); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Fatalf("session after logout: %v", err)
	}
	e.must(http.StatusUnauthorized, "GET", "/api/users/whoami", out.Token, nil)
	if !e.hasAudit("Logout", "") {
		t.Fatal("no audit event for the logout")
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t)
	_, token := e.user("ann")

	t.Run("UseSlidesTheExpiry", func(t *testing.T) {
		e.clock.Advance(90 * time.Minute)
		e.must(http.StatusOK, "GET", "/api/users/whoami", token, nil)
		e.clock.Advance(90 * time.Minute) // 3 h after login, 1.5 h after last use
		e.must(http.StatusOK, "GET", "/api/users/whoami", token, nil)
	})

	t.Run("IdleSessionExpires", func(t *testing.T) {
		e.clock.Advance(2*time.Hour + time.Second)
		r := e.must(http.StatusUnauthorized, "GET", "/api/users/whoami", token, nil)
		r.errMsg(t)
		if _, err := getRecord[shared.Session](e, crypt.HashToken(token)); shared.ErrorCode(err) != shared.ENOTFOUND {
			t.Fatalf("expired session still stored: %v", err)
		}
	})
}

func webLogin(t testing.TB, e *env) (session, csrf *http.Cookie, csrfToken string) {
	t.Helper()
	r := e.send(req{method: "POST", path: "/api/auth/web", body: map[string]string{"email": "ann@example.com", "password": testPassword}})
	if r.code != http.StatusOK {
		t.Fatalf("web login = %d %s", r.code, r.body)
	}
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		switch c.Name {
		case "__KNOT_SESSION":
			session = c
		case "__KNOT_CSRF":
			csrf = c
		}
	}
	if session == nil || csrf == nil {
		t.Fatalf("web login set cookies %v", r.header["Set-Cookie"])
	}
	var out struct {
		CSRF string `json:"csrf_token"`
	}
	r.decode(t, &out)
	return session, csrf, out.CSRF
}

func TestWebLoginCookies(t *testing.T) {
	e := newEnv(t)
	e.user("ann")
	session, csrf, token := webLogin(t, e)
	if !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Secure {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, not Secure over plain HTTP", session)
	}
	if csrf.HttpOnly || csrf.Value != token {
		t.Fatalf("CSRF cookie %+v must be readable and equal csrf_token %q", csrf, token)
	}
	r := e.send(req{method: "GET", path: "/api/users/whoami", cookies: []*http.Cookie{session}})
	if r.code != http.StatusOK {
		t.Fatalf("GET with cookie = %d %s", r.code, r.body)
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	_, bearer := e.user("ann")
	session, csrf, token := webLogin(t, e)
	body := map[string]string{"name": "laptop"}

	tests := []struct {
		name    string
		q       req
		want    int
		created bool
	}{
		{"CookieWithoutHeaderIs403", req{cookies: []*http.Cookie{session, csrf}}, http.StatusForbidden, false},
		{"CookieWithWrongHeaderIs403", req{cookies: []*http.Cookie{session, csrf}, header: map[string]string{"X-CSRF-Token": "forged"}}, http.StatusForbidden, false},
		{"CookieWithHeaderButNoCSRFCookieIs403", req{cookies: []*http.Cookie{session}, header: map[string]string{"X-CSRF-Token": token}}, http.StatusForbidden, false},
		{"PlantedCSRFCookieAndHeaderAre403", req{cookies: []*http.Cookie{session, {Name: "__KNOT_CSRF", Value: "planted"}}, header: map[string]string{"X-CSRF-Token": "planted"}}, http.StatusForbidden, false},
		{"CookieWithMatchingHeaderIsAllowed", req{cookies: []*http.Cookie{session, csrf}, header: map[string]string{"X-CSRF-Token": token}}, http.StatusCreated, true},
		{"BearerNeedsNoHeader", req{token: bearer}, http.StatusCreated, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.method, tc.q.path, tc.q.body = "POST", "/api/tokens", body
			before := e.revision()
			r := e.send(tc.q)
			if r.code != tc.want {
				t.Fatalf("POST /api/tokens = %d %s, want %d", r.code, r.body, tc.want)
			}
			if !tc.created {
				if msg := r.errMsg(t); !strings.Contains(msg, "X-CSRF-Token") {
					t.Fatalf("message %q does not name the header", msg)
				}
				if e.revision() != before {
					t.Fatal("the refused request wrote to the store")
				}
			}
		})
	}

	t.Run("SafeMethodsNeedNoHeader", func(t *testing.T) {
		r := e.send(req{method: "GET", path: "/api/tokens", cookies: []*http.Cookie{session}})
		if r.code != http.StatusOK {
			t.Fatalf("GET with cookie only = %d %s", r.code, r.body)
		}
	})

	t.Run("LogoutWithCookieNeedsHeaderAndClearsCookies", func(t *testing.T) {
		r := e.send(req{method: "POST", path: "/api/auth/logout", cookies: []*http.Cookie{session, csrf}})
		if r.code != http.StatusForbidden {
			t.Fatalf("logout without header = %d", r.code)
		}
		r = e.send(req{method: "POST", path: "/api/auth/logout", cookies: []*http.Cookie{session, csrf}, header: map[string]string{"X-CSRF-Token": token}})
		if r.code != http.StatusOK {
			t.Fatalf("logout = %d %s", r.code, r.body)
		}
		cleared := 0
		for _, c := range (&http.Response{Header: r.header}).Cookies() {
			if (c.Name == "__KNOT_SESSION" || c.Name == "__KNOT_CSRF") && c.MaxAge < 0 {
				cleared++
			}
		}
		if cleared != 2 {
			t.Fatalf("logout Set-Cookie %v does not clear both cookies", r.header["Set-Cookie"])
		}
		r = e.send(req{method: "GET", path: "/api/users/whoami", cookies: []*http.Cookie{session}})
		if r.code != http.StatusUnauthorized {
			t.Fatalf("cookie after logout = %d", r.code)
		}
	})
}

func TestBearerCredentials(t *testing.T) {
	e := newEnv(t)
	_, session := e.user("ann")
	var tok struct {
		Token string `json:"token"`
	}
	e.must(http.StatusCreated, "POST", "/api/tokens", session, map[string]string{"name": "cli"}).decode(t, &tok)

	tests := []struct {
		name   string
		header string
		want   int
	}{
		{"SessionTokenWorks", "Bearer " + session, http.StatusOK},
		{"APITokenWorks", "Bearer " + tok.Token, http.StatusOK},
		{"SchemeIsCaseInsensitive", "bearer " + tok.Token, http.StatusOK},
		{"UnknownTokenIs401", "Bearer " + crypt.NewToken(), http.StatusUnauthorized},
		{"TokenHashIsNotAToken", "Bearer " + crypt.HashToken(tok.Token), http.StatusUnauthorized},
		{"BasicSchemeIs401", "Basic YW5uOnB3", http.StatusUnauthorized},
		{"EmptyBearerIs401", "Bearer ", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.send(req{method: "GET", path: "/api/ping", header: map[string]string{"Authorization": tc.header}})
			if r.code != tc.want {
				t.Fatalf("GET /api/ping = %d %s, want %d", r.code, r.body, tc.want)
			}
			if r.code != http.StatusOK {
				r.errMsg(t)
			}
		})
	}

	t.Run("LogoutWithAPITokenIs400", func(t *testing.T) {
		r := e.must(http.StatusBadRequest, "POST", "/api/auth/logout", tok.Token, nil)
		if !strings.Contains(r.errMsg(t), "API token") {
			t.Fatalf("message %s", r.body)
		}
	})
}
