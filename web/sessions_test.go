package web_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/web"
)

func loginToken(t *testing.T, e *env, email string) string {
	t.Helper()
	r := login(e, email, testPassword)
	if r.code != http.StatusOK {
		t.Fatalf("login = %d %s", r.code, r.body)
	}
	var out struct{ Token string }
	r.decode(t, &out)
	return out.Token
}

func TestSessionAbsoluteLifetime(t *testing.T) {
	t.Run("DefaultIsSevenDays", func(t *testing.T) {
		e := newEnv(t)
		e.user("ann")
		fastChecks(e)
		token := loginToken(t, e, "ann@example.com")
		// Used every hour, the session slides, but not past 7 days.
		for h := 1; h < 7*24; h++ {
			e.clock.Advance(time.Hour)
			e.must(http.StatusOK, "GET", "/api/users/whoami", token, nil)
		}
		se, err := getRecord[shared.Session](e, crypt.HashToken(token))
		if err != nil {
			t.Fatal(err)
		}
		if end := se.CreatedAt.Add(7 * 24 * time.Hour); se.ExpiresAt.After(end) {
			t.Fatalf("session slid to %v, past its end %v", se.ExpiresAt, end)
		}
		e.clock.Advance(time.Hour)
		r := e.must(http.StatusUnauthorized, "GET", "/api/users/whoami", token, nil)
		r.errMsg(t)
	})
	t.Run("Configured", func(t *testing.T) {
		e := newEnv(t, func(o *web.TestOptions) { o.SessionMaxAge = 5 * time.Hour })
		e.user("ann")
		fastChecks(e)
		token := loginToken(t, e, "ann@example.com")
		for range 3 {
			e.clock.Advance(90 * time.Minute)
			e.must(http.StatusOK, "GET", "/api/users/whoami", token, nil)
		}
		e.clock.Advance(31 * time.Minute) // 5 h 1 min after login, 31 min after last use
		e.must(http.StatusUnauthorized, "GET", "/api/users/whoami", token, nil)
		if _, err := getRecord[shared.Session](e, crypt.HashToken(token)); shared.ErrorCode(err) != shared.ENOTFOUND {
			t.Fatalf("ended session still stored: %v", err)
		}
	})
}

func TestSessionsPerUserAreCapped(t *testing.T) {
	e := newEnv(t)
	u, _ := e.user("ann") // holds one session already
	e.user("bob")
	fastChecks(e)
	bob := loginToken(t, e, "bob@example.com")
	var tokens []string
	for range 25 {
		e.clock.Advance(time.Second)
		tokens = append(tokens, loginToken(t, e, "ann@example.com"))
	}
	sessions, err := storage.ListWhere(context.Background(), e.store, func(se *shared.Session) bool { return se.UserID == u.ID })
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 20 {
		t.Fatalf("ann holds %d sessions, want 20", len(sessions))
	}
	// The oldest are gone: the first one and five of the logins.
	for i, tok := range tokens {
		want := http.StatusOK
		if i < 5 {
			want = http.StatusUnauthorized
		}
		if r := e.do("GET", "/api/users/whoami", tok, nil); r.code != want {
			t.Fatalf("session of login %d = %d, want %d", i+1, r.code, want)
		}
	}
	e.must(http.StatusOK, "GET", "/api/users/whoami", bob, nil)
}

func TestSessionCookieIsSecureWhenTheURLIsHTTPS(t *testing.T) {
	for _, tc := range []struct {
		url    string
		secure bool
	}{{"https://knot.example.com", true}, {"http://127.0.0.1:3000", false}} {
		e := newEnv(t, func(o *web.TestOptions) { o.URL = tc.url })
		e.user("ann")
		r := e.send(req{method: "POST", path: "/api/auth/web", body: map[string]string{"email": "ann@example.com", "password": testPassword}})
		if r.code != http.StatusOK {
			t.Fatalf("web login = %d %s", r.code, r.body)
		}
		cookies := (&http.Response{Header: r.header}).Cookies()
		if len(cookies) != 2 {
			t.Fatalf("web login set %d cookies, want 2", len(cookies))
		}
		for _, c := range cookies {
			if c.Secure != tc.secure {
				t.Fatalf("with server URL %s, cookie %s has Secure %v", tc.url, c.Name, c.Secure)
			}
		}
	}
}
