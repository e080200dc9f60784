package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestTokenExpiry(t *testing.T) {
	e := newEnv(t)
	_, session := e.user("ann")
	now := e.clock.Now()

	t.Run("MustBeAFutureRFC3339Time", func(t *testing.T) {
		for _, v := range []string{"tomorrow", "2030-01-02", "2030-01-02 15:04:05", now.Add(-time.Second).Format(time.RFC3339), now.Format(time.RFC3339)} {
			r := e.must(http.StatusBadRequest, "POST", "/api/tokens", session, map[string]string{"name": "bad", "expires_at": v})
			if msg := r.errMsg(t); !strings.Contains(msg, "expires_at") {
				t.Fatalf("expires_at %q: error %q does not name the field", v, msg)
			}
		}
		if r := e.must(http.StatusOK, "GET", "/api/tokens", session, nil); strings.Contains(r.String(), `"bad"`) {
			t.Fatalf("a refused token was stored: %s", r)
		}
	})

	expires := now.Add(24 * time.Hour)
	var created struct{ Token string }
	e.must(http.StatusCreated, "POST", "/api/tokens", session,
		map[string]string{"name": "ci", "expires_at": expires.Format(time.RFC3339)}).decode(t, &created)
	var never struct{ Token string }
	e.must(http.StatusCreated, "POST", "/api/tokens", session, map[string]string{"name": "forever"}).decode(t, &never)

	t.Run("ListShowsIt", func(t *testing.T) {
		var list []struct {
			Name      string     `json:"name"`
			ExpiresAt *time.Time `json:"expires_at"`
		}
		e.must(http.StatusOK, "GET", "/api/tokens", session, nil).decode(t, &list)
		got := map[string]*time.Time{}
		for _, tk := range list {
			got[tk.Name] = tk.ExpiresAt
		}
		if got["ci"] == nil || !got["ci"].Equal(expires) || got["forever"] != nil {
			t.Fatalf("token list = %+v, want ci expiring at %v and forever without expiry", list, expires)
		}
	})

	t.Run("WorksUntilItExpires", func(t *testing.T) {
		e.clock.Advance(24*time.Hour - time.Second)
		e.must(http.StatusOK, "GET", "/api/users/whoami", created.Token, nil)
		e.clock.Advance(time.Second)
		r := e.must(http.StatusUnauthorized, "GET", "/api/users/whoami", created.Token, nil)
		if msg := r.errMsg(t); !strings.Contains(msg, "expired") || !strings.Contains(msg, "ci") {
			t.Fatalf("error for an expired token = %q, want it to say that token ci expired", msg)
		}
		e.must(http.StatusOK, "GET", "/api/users/whoami", never.Token, nil)
		var list []struct {
			Name    string `json:"name"`
			Expired bool   `json:"expired"`
		}
		e.must(http.StatusOK, "GET", "/api/tokens", never.Token, nil).decode(t, &list)
		for _, tk := range list {
			if tk.Expired != (tk.Name == "ci") {
				t.Fatalf("token list %+v, want only ci expired", list)
			}
		}
	})
}
