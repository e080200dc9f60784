package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/web"
)

// enrolled enrols email at e with a login and returns the secret; the
// clock then moves to the next step, so that the next code is unused.
func enrolled(t *testing.T, e *env, email string) string {
	t.Helper()
	secret := startEnrolment(t, e.do("POST", "/api/auth", "", loginBody(email, "")))
	e.must(http.StatusOK, "POST", "/api/auth", "", loginBody(email, codeAt(t, secret, e.clock.Now())))
	e.clock.Advance(30 * time.Second)
	return secret
}

// notCode returns a 6-digit code that none of secrets shows now.
func notCode(t *testing.T, e *env, secrets ...string) string {
	t.Helper()
	for _, c := range []string{"000000", "111111", "222222"} {
		ok := true
		for _, s := range secrets {
			for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
				ok = ok && codeAt(t, s, e.clock.Now().Add(d)) != c
			}
		}
		if ok {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

func changeBody(password, code string) api.TOTPChangeRequest {
	return api.TOTPChangeRequest{CurrentPassword: password, TOTPCode: code}
}

func TestTOTPChange(t *testing.T) {
	e := newEnv(t, withTOTP)
	ann, tok := e.user("ann")
	old := enrolled(t, e, "ann@example.com")
	stored := func() string {
		u, err := getRecord[shared.User](e, ann.ID)
		if err != nil {
			t.Fatal(err)
		}
		return u.TOTPSecret
	}
	sealedOld := stored()
	begin := func(password, code string) *resp {
		return e.do("POST", "/api/auth/totp/change", tok, changeBody(password, code))
	}
	confirm := func(code string) *resp {
		return e.do("POST", "/api/auth/totp/confirm", tok, api.TOTPConfirmRequest{TOTPCode: code})
	}
	refused := func(t *testing.T, r *resp, code int, msg string) {
		t.Helper()
		if r.code != code || !strings.Contains(r.errMsg(t), msg) {
			t.Fatalf("= %d %s, want %d with %q", r.code, r.body, code, msg)
		}
		if stored() != sealedOld {
			t.Fatal("the user's secret changed")
		}
	}

	t.Run("WrongPasswordIsRefused", func(t *testing.T) {
		refused(t, begin("not the password", codeAt(t, old, e.clock.Now())), http.StatusForbidden, "not your password")
		if !e.hasAudit("TOTP Change Refused", "wrong current password") {
			t.Error("no audit event for the refusal")
		}
	})
	t.Run("MissingOldCodeIsRefused", func(t *testing.T) {
		refused(t, begin(testPassword, ""), http.StatusBadRequest, "6 digits")
	})
	t.Run("WrongOldCodeIsRefused", func(t *testing.T) {
		refused(t, begin(testPassword, notCode(t, e, old)), http.StatusForbidden, "current authenticator")
	})
	t.Run("ConfirmWithNothingPendingIsRefused", func(t *testing.T) {
		refused(t, confirm(codeAt(t, old, e.clock.Now())), http.StatusBadRequest, "no change of authenticator is in progress")
	})

	var next api.TOTPChange
	t.Run("BeginGivesANewSecretWithItsQRCode", func(t *testing.T) {
		r := begin(testPassword, codeAt(t, old, e.clock.Now()))
		if r.code != http.StatusOK {
			t.Fatalf("= %d %s", r.code, r.body)
		}
		r.decode(t, &next)
		if next.TOTPSecret == "" || next.TOTPSecret == old || !strings.Contains(next.TOTPURL, "secret="+next.TOTPSecret) ||
			!strings.HasPrefix(next.TOTPQR, "data:image/png;base64,") || !next.ExpiresAt.Equal(e.clock.Now().Add(10*time.Minute)) {
			t.Fatalf("the answer %s is not a new secret with its URI, QR code and expiry", r.body)
		}
		if stored() != sealedOld || storeHolds(t, e, next.TOTPSecret) {
			t.Fatal("the new secret is the user's already, or is stored in plain text")
		}
		if !e.hasAudit("TOTP Change Started", "ann") {
			t.Error("no audit event for the new secret")
		}
	})
	t.Run("WrongNewCodeIsRefused", func(t *testing.T) {
		e.clock.Advance(30 * time.Second)
		refused(t, confirm(notCode(t, e, next.TOTPSecret)), http.StatusForbidden, "not a code of the new secret")
		// A code of the old authenticator is not one of the new.
		refused(t, confirm(codeAt(t, old, e.clock.Now())), http.StatusForbidden, "not a code of the new secret")
	})
	t.Run("OldAuthenticatorLogsInWhileTheChangeIsPending", func(t *testing.T) {
		e.must(http.StatusOK, "POST", "/api/auth", "", loginBody("ann@example.com", codeAt(t, old, e.clock.Now())))
	})
	t.Run("AbandonedChangeExpires", func(t *testing.T) {
		e.clock.Advance(10*time.Minute + time.Second)
		refused(t, confirm(codeAt(t, next.TOTPSecret, e.clock.Now())), http.StatusBadRequest, "no change of authenticator is in progress")
		e.must(http.StatusOK, "POST", "/api/auth", "", loginBody("ann@example.com", codeAt(t, old, e.clock.Now())))
	})

	t.Run("ConfirmedChangeReplacesTheSecret", func(t *testing.T) {
		e.clock.Advance(30 * time.Second)
		r := e.must(http.StatusOK, "POST", "/api/auth/totp/change", tok, changeBody(testPassword, codeAt(t, old, e.clock.Now())))
		r.decode(t, &next)
		confirming := codeAt(t, next.TOTPSecret, e.clock.Now())
		e.must(http.StatusOK, "POST", "/api/auth/totp/confirm", tok, api.TOTPConfirmRequest{TOTPCode: confirming})
		if stored() == sealedOld {
			t.Fatal("the secret did not change")
		}
		if r := e.do("POST", "/api/auth", "", loginBody("ann@example.com", confirming)); r.code != http.StatusUnauthorized || !strings.Contains(r.errMsg(t), "used already") {
			t.Fatalf("a login with the code that confirmed the change = %d %s, want 401", r.code, r.body)
		}
		if u, err := getRecord[shared.User](e, ann.ID); err != nil || u.TOTPLastStep != crypt.TOTPStep(e.clock.Now()) {
			t.Fatalf("the user's last step after the change = %+v, %v", u, err)
		}
		if !e.hasAudit("TOTP Changed", "ann") {
			t.Error("no audit event for the change")
		}
		e.clock.Advance(30 * time.Second)
		if r := e.do("POST", "/api/auth", "", loginBody("ann@example.com", codeAt(t, old, e.clock.Now()))); r.code != http.StatusUnauthorized {
			t.Fatalf("a login with the old authenticator's code = %d %s, want 401", r.code, r.body)
		}
		e.must(http.StatusOK, "POST", "/api/auth", "", loginBody("ann@example.com", codeAt(t, next.TOTPSecret, e.clock.Now())))
	})
	t.Run("ConfirmingTwiceIsRefused", func(t *testing.T) {
		e.clock.Advance(30 * time.Second)
		r := confirm(codeAt(t, next.TOTPSecret, e.clock.Now()))
		if r.code != http.StatusBadRequest {
			t.Fatalf("= %d %s", r.code, r.body)
		}
	})
}

func TestTOTPChangeNeedsTOTP(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("ann")
	r := e.do("POST", "/api/auth/totp/change", tok, changeBody(testPassword, ""))
	if r.code != http.StatusBadRequest || !strings.Contains(r.errMsg(t), "two-factor login is off") {
		t.Fatalf("= %d %s", r.code, r.body)
	}
	if r := e.do("POST", "/api/auth/totp/change", "", changeBody(testPassword, "")); r.code != http.StatusUnauthorized {
		t.Fatalf("without a session = %d %s", r.code, r.body)
	}
}

func TestTOTPReset(t *testing.T) {
	e := newEnv(t, withTOTP)
	ann, _ := e.user("ann")
	_, bob := e.user("bob")
	_, admin := e.admin()
	enrolled(t, e, "ann@example.com")
	path := "/api/users/" + ann.ID + "/totp"

	t.Run("RefusedWithoutManageUsers", func(t *testing.T) {
		if r := e.do("DELETE", path, bob, nil); r.code != http.StatusForbidden || !strings.Contains(r.errMsg(t), "Manage Users") {
			t.Fatalf("= %d %s", r.code, r.body)
		}
		if u, _ := getRecord[shared.User](e, ann.ID); u.TOTPSecret == "" {
			t.Fatal("the secret was reset")
		}
	})
	t.Run("AnAdminsOnlyByAnAdmin", func(t *testing.T) {
		// A user manager who is no Admin may not reset an Admin's.
		boss, _ := e.user("boss", shared.AdminRoleID)
		_, manager := e.user("manager", shared.UserRoleID, e.role("managers", shared.PermManageUsers))
		r := e.do("DELETE", "/api/users/"+boss.ID+"/totp", manager, nil)
		if r.code != http.StatusForbidden || !strings.Contains(r.errMsg(t), "only an Admin") {
			t.Fatalf("= %d %s", r.code, r.body)
		}
	})
	t.Run("UnknownUserIsNotFound", func(t *testing.T) {
		e.must(http.StatusNotFound, "DELETE", "/api/users/"+newUUID(t)+"/totp", admin, nil)
	})
	t.Run("AdminResetMakesTheUserEnrolAgain", func(t *testing.T) {
		e.must(http.StatusOK, "DELETE", path, admin, nil)
		if u, _ := getRecord[shared.User](e, ann.ID); u.TOTPSecret != "" {
			t.Fatal("the secret is still the user's")
		}
		if !e.hasAudit("TOTP Reset", "ann") {
			t.Error("no audit event for the reset")
		}
		secret := startEnrolment(t, e.do("POST", "/api/auth", "", loginBody("ann@example.com", "")))
		e.must(http.StatusOK, "POST", "/api/auth", "", loginBody("ann@example.com", codeAt(t, secret, e.clock.Now())))
	})
}

func TestTOTPChangeAtALeafIsMadeAtTheOrigin(t *testing.T) {
	clk := newClock()
	opts := func(o *web.TestOptions) { withTOTP(o); o.Now = clk.Now }
	f := newFleetWithOptions(t, func(f *fleet) { f.originOpts, f.leafOpts = opts, opts })
	ob, lb := f.originSW.srv.URL, f.leafSrv.URL
	f.waitConnected(true)
	var created struct {
		ID string `json:"user_id"`
	}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}, &created)
	old := enrolAt(t, ob, "admin@example.com", clk.Now())
	sealedOld := waitUserSecret(t, f.leafStore, created.ID).TOTPSecret
	clk.Advance(30 * time.Second)
	var login struct{ Token string }
	mustCall(t, http.StatusOK, lb, "POST", "/api/auth", "", loginBody("admin@example.com", codeAt(t, old, clk.Now())), &login)

	clk.Advance(30 * time.Second)
	var next api.TOTPChange
	a := mustCall(t, http.StatusOK, lb, "POST", "/api/auth/totp/change", login.Token, changeBody(testPassword, codeAt(t, old, clk.Now())), &next)
	if a.header.Get("X-Knot-Forwarded-To") != "origin" || next.TOTPQR == "" {
		t.Fatalf("the change was not made at the origin, or has no QR code: %v %s", a.header, a.body)
	}
	mustCall(t, http.StatusOK, lb, "POST", "/api/auth/totp/confirm", login.Token, api.TOTPConfirmRequest{TOTPCode: codeAt(t, next.TOTPSecret, clk.Now())}, nil)
	eventually(t, 5*time.Second, func() string {
		if u := waitUserSecret(t, f.leafStore, created.ID); u.TOTPSecret == sealedOld {
			return "the leaf still holds the old secret"
		}
		return ""
	})
	clk.Advance(30 * time.Second)
	mustCall(t, http.StatusOK, lb, "POST", "/api/auth", "", loginBody("admin@example.com", codeAt(t, next.TOTPSecret, clk.Now())), nil)

	f.stopOrigin()
	f.waitConnected(false)
	clk.Advance(30 * time.Second)
	a = call(t, lb, "POST", "/api/auth/totp/change", login.Token, changeBody(testPassword, codeAt(t, next.TOTPSecret, clk.Now())))
	if a.code != http.StatusServiceUnavailable {
		t.Fatalf("a change while the origin is down = %d %s, want 503", a.code, a.body)
	}
}
