package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
)

// newToken creates an API token for the holder of session and returns it.
func newToken(t *testing.T, e *env, session, name string) string {
	t.Helper()
	var out struct{ Token string }
	e.must(http.StatusCreated, "POST", "/api/tokens", session, map[string]string{"name": name}).decode(t, &out)
	return out.Token
}

func TestOwnPasswordOrEmailChangeNeedsTheCurrentPassword(t *testing.T) {
	e := newEnv(t)
	ann, session := e.user("ann")
	path := "/api/users/" + ann.ID

	for _, tc := range []struct {
		name string
		body map[string]string
		code int
	}{
		{"PasswordWithout", map[string]string{"password": "a-new-password"}, http.StatusBadRequest},
		{"PasswordWrong", map[string]string{"password": "a-new-password", "current_password": "not-it"}, http.StatusForbidden},
		{"EmailWithout", map[string]string{"email": "ann2@example.com"}, http.StatusBadRequest},
		{"EmailWrong", map[string]string{"email": "ann2@example.com", "current_password": "not-it"}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(tc.code, "PUT", path, session, tc.body)
			if msg := r.errMsg(t); !strings.Contains(msg, "current_password") {
				t.Fatalf("error %q does not name current_password", msg)
			}
		})
	}
	u, _ := getRecord[shared.User](e, ann.ID)
	if u.Email != "ann@example.com" || u.PasswordHash != ann.PasswordHash {
		t.Fatal("a refused change was written")
	}
	// The unchanged email, as the web UI sends it, needs nothing.
	e.must(http.StatusOK, "PUT", path, session, map[string]string{"email": "ann@example.com", "timezone": "Europe/London"})

	e.must(http.StatusOK, "PUT", path, session, map[string]string{"email": "ann2@example.com", "current_password": testPassword})
	e.must(http.StatusOK, "PUT", path, session, map[string]string{"password": "a-new-password", "current_password": testPassword})
	if r := login(e, "ann2@example.com", "a-new-password"); r.code != http.StatusOK {
		t.Fatalf("login with the new email and password = %d %s", r.code, r.body)
	}
}

func TestCurrentPasswordGuessesAreLimited(t *testing.T) {
	e := newEnv(t)
	ann, session := e.user("ann")
	fastChecks(e)
	for range 5 {
		e.must(http.StatusForbidden, "PUT", "/api/users/"+ann.ID, session, map[string]string{"password": "a-new-password", "current_password": "guess"})
	}
	r := e.must(http.StatusTooManyRequests, "PUT", "/api/users/"+ann.ID, session, map[string]string{"password": "a-new-password", "current_password": testPassword})
	if r.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}

func TestAdminSetsAnotherUsersPasswordWithoutTheirs(t *testing.T) {
	e := newEnv(t)
	_, admin := e.admin()
	bob, _ := e.user("bob")
	e.must(http.StatusOK, "PUT", "/api/users/"+bob.ID, admin, map[string]string{"password": "a-new-password"})
	if r := login(e, "bob@example.com", "a-new-password"); r.code != http.StatusOK {
		t.Fatalf("login with the password the admin set = %d %s", r.code, r.body)
	}
}

func TestPasswordChangeRevokesSessionsAndTokens(t *testing.T) {
	t.Run("Own", func(t *testing.T) {
		e := newEnv(t)
		ann, session := e.user("ann")
		fastChecks(e)
		other := e.session(ann.ID)
		tok := newToken(t, e, session, "laptop")
		e.must(http.StatusOK, "PUT", "/api/users/"+ann.ID, session, map[string]string{"password": "a-new-password", "current_password": testPassword})
		e.must(http.StatusUnauthorized, "GET", "/api/users/whoami", other, nil)
		e.must(http.StatusUnauthorized, "GET", "/api/users/whoami", tok, nil)
		// The session that made the change goes on.
		e.must(http.StatusOK, "GET", "/api/users/whoami", session, nil)
	})
	t.Run("OwnKeepingTokens", func(t *testing.T) {
		e := newEnv(t)
		ann, session := e.user("ann")
		fastChecks(e)
		other := e.session(ann.ID)
		tok := newToken(t, e, session, "laptop")
		e.must(http.StatusOK, "PUT", "/api/users/"+ann.ID, session, map[string]any{"password": "a-new-password", "current_password": testPassword, "keep_tokens": true})
		e.must(http.StatusUnauthorized, "GET", "/api/users/whoami", other, nil)
		e.must(http.StatusOK, "GET", "/api/users/whoami", tok, nil)
	})
	t.Run("ByAnAdmin", func(t *testing.T) {
		e := newEnv(t)
		_, admin := e.admin()
		bob, session := e.user("bob")
		tok := newToken(t, e, session, "laptop")
		e.must(http.StatusOK, "PUT", "/api/users/"+bob.ID, admin, map[string]string{"password": "a-new-password"})
		e.must(http.StatusUnauthorized, "GET", "/api/users/whoami", session, nil)
		e.must(http.StatusUnauthorized, "GET", "/api/users/whoami", tok, nil)
		e.must(http.StatusOK, "GET", "/api/users/whoami", admin, nil)
	})
	t.Run("OtherChangesKeepThem", func(t *testing.T) {
		e := newEnv(t)
		ann, session := e.user("ann")
		tok := newToken(t, e, session, "laptop")
		e.must(http.StatusOK, "PUT", "/api/users/"+ann.ID, session, map[string]string{"timezone": "Europe/Paris"})
		e.must(http.StatusOK, "GET", "/api/users/whoami", tok, nil)
	})
}
