package origin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/storage/memory"
)

// authEnv is an auth service over a memory store with a clock the test
// moves, a cheap password check ("h:" and the password is its hash) and
// the audit events it recorded.
type authEnv struct {
	store  storage.Store
	svc    *origin.AuthService
	now    time.Time
	events []*shared.AuditEvent
}

func newAuthEnv(t *testing.T, edit func(*origin.AuthOptions)) *authEnv {
	t.Helper()
	e := &authEnv{store: memory.New(), now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	now := func() time.Time { return e.now }
	opts := origin.AuthOptions{
		Now:    now,
		Logins: origin.NewLogins(origin.LoginsOptions{Now: now, Check: func(hash, pw string) bool { return hash != "" && hash == "h:"+pw }}),
		Audit:  func(_ context.Context, ev *shared.AuditEvent) { e.events = append(e.events, ev) },
	}
	if edit != nil {
		edit(&opts)
	}
	e.svc = origin.NewAuthService(e.store, opts)
	return e
}

// addUser stores (or replaces) an active user ann@example.com with the password "pw"
// and the roles given.
func (e *authEnv) addUser(t *testing.T, edit func(*shared.User), roles ...string) *shared.User {
	t.Helper()
	u := &shared.User{Meta: shared.Meta{ID: "u1", CreatedAt: e.now, UpdatedAt: e.now}, Username: "ann",
		Email: "ann@example.com", PasswordHash: "h:pw", Active: true, Roles: roles}
	if edit != nil {
		edit(u)
	}
	if old, err := storage.Get[shared.User](context.Background(), e.store, u.ID); err == nil {
		u.Meta = old.Meta
	}
	if err := e.store.Put(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *authEnv) login(password, code string) (*shared.LoginResult, error) {
	return e.svc.Login(context.Background(), shared.LoginRequest{Email: "Ann@example.com", Password: password,
		TOTPCode: code, IP: "10.0.0.1", UserAgent: "test"})
}

// lastEvent returns the last audit event, failing when there is none.
func (e *authEnv) lastEvent(t *testing.T) *shared.AuditEvent {
	t.Helper()
	if len(e.events) == 0 {
		t.Fatal("no audit event recorded")
	}
	return e.events[len(e.events)-1]
}

func TestLogin(t *testing.T) {
	e := newAuthEnv(t, nil)
	e.addUser(t, nil, shared.AdminRoleID)

	t.Run("ErrInvalidWithoutEmailOrPassword", func(t *testing.T) {
		_, err := e.svc.Login(context.Background(), shared.LoginRequest{Password: "pw"})
		wantCode(t, err, shared.EINVALID)
		_, err = e.svc.Login(context.Background(), shared.LoginRequest{Email: "ann@example.com"})
		wantCode(t, err, shared.EINVALID)
	})
	t.Run("ErrUnauthorizedForAWrongPassword", func(t *testing.T) {
		_, err := e.login("nope", "")
		wantCode(t, err, shared.EUNAUTHORIZED)
		if ev := e.lastEvent(t); ev.Event != "Login Failed" || ev.Details != "wrong password" || ev.Actor != "Ann@example.com" {
			t.Fatalf("audit event = %+v, want Login Failed for a wrong password", ev)
		}
	})
	t.Run("OpensASessionThatAuthenticates", func(t *testing.T) {
		out, err := e.login("pw", "")
		if err != nil {
			t.Fatal(err)
		}
		if out.Session.ID != crypt.HashToken(out.Secret) || out.Session.IP != "10.0.0.1" || out.User.ID != "u1" {
			t.Fatalf("session = %+v for %s", out.Session, out.User.ID)
		}
		if ev := e.lastEvent(t); ev.Event != "Login Success" || ev.Properties["user_id"] != "u1" {
			t.Fatalf("audit event = %+v, want Login Success of u1", ev)
		}
		id, err := e.svc.Authenticate(context.Background(), out.Secret, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if id.User.ID != "u1" || id.SessionID != out.Session.ID || !id.Permissions.Has(shared.PermManageUsers) {
			t.Fatalf("identity = %+v, want u1's session with the Admin role's permissions", id)
		}
	})
	t.Run("ErrUnauthorizedWhenInactive", func(t *testing.T) {
		e.addUser(t, func(u *shared.User) { u.Active = false })
		_, err := e.login("pw", "")
		wantCode(t, err, shared.EUNAUTHORIZED)
		if msg := shared.ErrorMessage(err); msg != "this account is not active" {
			t.Fatalf("message = %q", msg)
		}
	})
}

func TestLoginLimitRefusesWithRetryAfter(t *testing.T) {
	e := newAuthEnv(t, nil)
	e.addUser(t, nil)
	for range 5 {
		if _, err := e.login("nope", ""); shared.ErrorCode(err) != shared.EUNAUTHORIZED {
			t.Fatalf("wrong password = %v, want EUNAUTHORIZED", err)
		}
	}
	for range 2 {
		_, err := e.login("pw", "")
		wantCode(t, err, shared.ERATELIMIT)
		var ra interface{ RetryAfter() time.Duration }
		if !errors.As(err, &ra) || ra.RetryAfter() != 10*time.Minute {
			t.Fatalf("refusal %v has no RetryAfter of 10 minutes", err)
		}
	}
	limited := 0
	for _, ev := range e.events {
		if ev.Event == "Login Rate Limited" {
			limited++
			if ev.Properties["limit"] != "account_address" {
				t.Fatalf("refusal event = %+v", ev)
			}
		}
	}
	if limited != 1 {
		t.Fatalf("%d Login Rate Limited events for two refusals, want 1", limited)
	}
	e.now = e.now.Add(10 * time.Minute)
	if _, err := e.login("pw", ""); err != nil {
		t.Fatalf("login after the window = %v", err)
	}
}

// A login beyond the cap of 20 sessions ends the oldest ones but never its
// own, even when every session has the same creation time.
func TestLoginKeepsItsOwnSessionAtTheCap(t *testing.T) {
	e := newAuthEnv(t, nil)
	e.addUser(t, nil)
	for i := range 30 {
		out, err := e.login("pw", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Authenticate(context.Background(), out.Secret, false, nil); err != nil {
			t.Fatalf("login %d: its own session = %v", i+1, err)
		}
	}
	if n := countKind(t, e.store, shared.KindSession); n != 20 {
		t.Fatalf("%d sessions after 30 logins, want 20", n)
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newAuthEnv(t, func(o *origin.AuthOptions) { o.SessionMaxAge = 4 * time.Hour })
	e.addUser(t, nil)
	out, err := e.login("pw", "")
	if err != nil {
		t.Fatal(err)
	}
	// Used after 90 minutes, the session slides to two hours from then.
	e.now = e.now.Add(90 * time.Minute)
	if _, err := e.svc.Session(context.Background(), out.Session.ID); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(100 * time.Minute)
	if _, err := e.svc.Session(context.Background(), out.Session.ID); err != nil {
		t.Fatalf("a session used 100 minutes ago = %v, want it live", err)
	}
	// Past the absolute end, however recently used.
	e.now = e.now.Add(time.Hour)
	_, err = e.svc.Authenticate(context.Background(), out.Secret, true, nil)
	wantCode(t, err, shared.EUNAUTHORIZED)
	if msg := shared.ErrorMessage(err); msg != "session has expired: log in again" {
		t.Fatalf("message = %q", msg)
	}
	if n := countKind(t, e.store, shared.KindSession); n != 0 {
		t.Fatalf("%d sessions kept after expiry", n)
	}

	idle, err := e.login("pw", "")
	if err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(2 * time.Hour)
	if err := e.svc.SweepSessions(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Get(context.Background(), shared.KindSession, idle.Session.ID); shared.ErrorCode(err) != shared.ENOTFOUND {
		t.Fatalf("an idle session after the sweep = %v, want it deleted", err)
	}
}

func TestAuthenticateSessionsAndTokens(t *testing.T) {
	e := newAuthEnv(t, nil)
	e.addUser(t, nil)
	ctx := context.Background()
	secret := crypt.NewToken()
	tok := &shared.Token{Meta: shared.Meta{ID: crypt.HashToken(secret)}, UserID: "u1", Name: "ci", ExpiresAt: e.now.Add(time.Hour)}
	if err := e.store.Put(ctx, tok); err != nil {
		t.Fatal(err)
	}
	t.Run("APIToken", func(t *testing.T) {
		id, err := e.svc.Authenticate(ctx, secret, false, nil)
		if err != nil || id.TokenID != tok.ID || id.SessionID != "" || id.User.ID != "u1" {
			t.Fatalf("Authenticate = %+v, %v", id, err)
		}
	})
	t.Run("ErrUnauthorizedForATokenAsCookie", func(t *testing.T) {
		_, err := e.svc.Authenticate(ctx, secret, true, nil)
		wantCode(t, err, shared.EUNAUTHORIZED)
	})
	t.Run("ErrUnauthorizedForAnUnknownSecret", func(t *testing.T) {
		_, err := e.svc.Authenticate(ctx, "nothing", false, nil)
		wantCode(t, err, shared.EUNAUTHORIZED)
	})
	t.Run("CheckRunsForASessionAndItsErrorIsReturned", func(t *testing.T) {
		out, err := e.login("pw", "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Authenticate(ctx, out.Secret, true, func() error { return shared.Errorf(shared.EFORBIDDEN, "csrf") })
		wantCode(t, err, shared.EFORBIDDEN)
	})
	t.Run("ErrUnauthorizedForAnExpiredToken", func(t *testing.T) {
		e.now = e.now.Add(time.Hour)
		_, err := e.svc.Authenticate(ctx, secret, false, nil)
		wantCode(t, err, shared.EUNAUTHORIZED)
		if !strings.Contains(shared.ErrorMessage(err), "expired") {
			t.Fatalf("message = %q", shared.ErrorMessage(err))
		}
	})
}

func totpOpts(t *testing.T) func(*origin.AuthOptions) {
	sealer, err := crypt.NewSealer("0123456789abcdefghijklmnopqrstuv")
	if err != nil {
		t.Fatal(err)
	}
	return func(o *origin.AuthOptions) { o.Sealer, o.TOTP = sealer, &origin.TOTPOptions{Window: 1} }
}

func TestTOTPEnrolmentAndCodes(t *testing.T) {
	e := newAuthEnv(t, totpOpts(t))
	e.addUser(t, nil)
	_, err := e.login("pw", "")
	var en *shared.TOTPEnrolment
	if !errors.As(err, &en) || en.Secret == "" || !strings.HasPrefix(en.URI, "otpauth://") {
		t.Fatalf("first login = %v, want a TOTP enrolment", err)
	}
	wantCode(t, err, shared.EUNAUTHORIZED)
	code, err := crypt.TOTPCode(en.Secret, crypt.TOTPStep(e.now))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.login("pw", code); err != nil {
		t.Fatalf("login with the enrolment's code = %v", err)
	}
	u, err := storage.Get[shared.User](context.Background(), e.store, "u1")
	if err != nil || u.TOTPSecret == "" {
		t.Fatalf("the user after enrolment = %+v, %v: no secret", u, err)
	}
	_, err = e.login("pw", code)
	wantCode(t, err, shared.EUNAUTHORIZED)
	if ev := e.lastEvent(t); ev.Details != "wrong or reused TOTP code" {
		t.Fatalf("audit event of a reused code = %+v", ev)
	}
	_, err = e.login("pw", "12ab56")
	if msg := shared.ErrorMessage(err); !strings.Contains(msg, "6 digits") {
		t.Fatalf("malformed code = %v", err)
	}
}

// The origin keeps the step of the last code used in the user's record,
// which replicates: the confirming code of the enrolment and each login's
// code move it on, and a code of that step or an older one is refused.
func TestTOTPLastStepIsKeptInTheUserRecord(t *testing.T) {
	e := newAuthEnv(t, totpOpts(t))
	e.addUser(t, nil)
	var en *shared.TOTPEnrolment
	if _, err := e.login("pw", ""); !errors.As(err, &en) {
		t.Fatalf("first login = %v, want a TOTP enrolment", err)
	}
	lastStep := func() int64 {
		u, err := storage.Get[shared.User](context.Background(), e.store, "u1")
		if err != nil {
			t.Fatal(err)
		}
		return u.TOTPLastStep
	}
	codeAt := func(step int64) string {
		c, err := crypt.TOTPCode(en.Secret, step)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	step := crypt.TOTPStep(e.now)
	if _, err := e.login("pw", codeAt(step)); err != nil {
		t.Fatalf("login with the enrolment's code = %v", err)
	}
	if got := lastStep(); got != step {
		t.Fatalf("after the enrolment the user's last step = %d, want %d", got, step)
	}
	e.now = e.now.Add(30 * time.Second)
	if _, err := e.login("pw", codeAt(step+1)); err != nil {
		t.Fatalf("login with the next code = %v", err)
	}
	if got := lastStep(); got != step+1 {
		t.Fatalf("after a login the user's last step = %d, want %d", got, step+1)
	}
	for _, old := range []int64{step, step + 1} {
		_, err := e.login("pw", codeAt(old))
		wantCode(t, err, shared.EUNAUTHORIZED)
		if msg := shared.ErrorMessage(err); !strings.Contains(msg, "used already") {
			t.Fatalf("a used code of step %d = %q", old, msg)
		}
	}
}

// On a leaf's replica, the step the origin replicated and every older one
// are refused; a newer code logs in once, remembered in the leaf's own
// TOTP state, and the replicated user record is left alone.
func TestReplicaRefusesTheReplicatedStep(t *testing.T) {
	withTOTP := totpOpts(t)
	var sealer *crypt.Sealer
	e := newAuthEnv(t, func(o *origin.AuthOptions) { withTOTP(o); o.OriginURL = "https://origin.example"; sealer = o.Sealer })
	secret, _, err := crypt.NewTOTPKey("Knot", "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	step := crypt.TOTPStep(e.now)
	u := e.addUser(t, func(u *shared.User) { u.TOTPSecret, u.TOTPLastStep = sealer.Seal(secret), step })
	codeAt := func(step int64) string {
		c, err := crypt.TOTPCode(secret, step)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, old := range []int64{step - 1, step} {
		_, err := e.login("pw", codeAt(old))
		wantCode(t, err, shared.EUNAUTHORIZED)
	}
	if _, err := e.login("pw", codeAt(step+1)); err != nil {
		t.Fatalf("a code after the replicated step = %v", err)
	}
	_, err = e.login("pw", codeAt(step+1))
	wantCode(t, err, shared.EUNAUTHORIZED)
	got, err := storage.Get[shared.User](context.Background(), e.store, u.ID)
	if err != nil || got.Revision != u.Revision || got.TOTPLastStep != step {
		t.Fatalf("the replica's user = %+v, %v: a leaf wrote it", got, err)
	}
}

// On a leaf's replica, a user whose password the origin did not share, or
// who has no TOTP secret yet, is sent to the origin.
func TestReplicaSendsToTheOrigin(t *testing.T) {
	withTOTP := totpOpts(t)
	e := newAuthEnv(t, func(o *origin.AuthOptions) { withTOTP(o); o.OriginURL = "https://origin.example" })
	e.addUser(t, func(u *shared.User) { u.PasswordHash = "" })
	_, err := e.login("pw", "")
	wantCode(t, err, shared.EUNAUTHORIZED)
	if msg := shared.ErrorMessage(err); !strings.Contains(msg, "log in at the origin https://origin.example") {
		t.Fatalf("message = %q", msg)
	}
	if ev := e.lastEvent(t); ev.Details != "no password at this leaf" {
		t.Fatalf("audit event = %+v", ev)
	}
	e.addUser(t, nil)
	_, err = e.login("pw", "")
	var en *shared.TOTPEnrolment
	if errors.As(err, &en) || !strings.Contains(shared.ErrorMessage(err), "set up at the origin https://origin.example") {
		t.Fatalf("login without a secret on a leaf = %v, want to be sent to the origin", err)
	}
}
