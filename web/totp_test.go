package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/web"
)

const testEncryptKey = "0123456789abcdefghijklmnopqrstuv"

// withTOTP turns two-factor login on with a window of one step.
func withTOTP(o *web.TestOptions) {
	s, err := crypt.NewSealer(testEncryptKey)
	if err != nil {
		panic(err)
	}
	o.Sealer = s
	o.TOTP = &web.TOTPOptions{Window: 1}
}

// enrolmentAnswer is the body of the login that starts an enrolment.
type enrolmentAnswer struct {
	Error      string `json:"error"`
	TOTPSecret string `json:"totp_secret"`
	TOTPURL    string `json:"totp_url"`
}

func loginBody(email, code string) map[string]string {
	return map[string]string{"email": email, "password": testPassword, "totp_code": code}
}

// codeAt returns the code of secret at t.
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := crypt.TOTPCode(secret, crypt.TOTPStep(at))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrol starts the enrolment of email at the server at base (or e) and
// returns the secret it was given.
func startEnrolment(t *testing.T, r *resp) string {
	t.Helper()
	if r.code != http.StatusUnauthorized {
		t.Fatalf("login of a user without a secret = %d %s, want 401 with a secret", r.code, r.body)
	}
	var en enrolmentAnswer
	r.decode(t, &en)
	if en.TOTPSecret == "" || !strings.Contains(en.Error, "authenticator") {
		t.Fatalf("the enrolment answer %s has no secret or no message", r.body)
	}
	return en.TOTPSecret
}

func TestTOTPLogin(t *testing.T) {
	e := newEnv(t, withTOTP)
	ann, _ := e.user("ann")
	login := func(code string) *resp { return e.do("POST", "/api/auth", "", loginBody("ann@example.com", code)) }

	var secret string
	t.Run("FirstLoginGivesTheSecretAndURIOnce", func(t *testing.T) {
		r := login("")
		secret = startEnrolment(t, r)
		var en enrolmentAnswer
		r.decode(t, &en)
		u, err := url.Parse(en.TOTPURL)
		if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("secret") != secret ||
			u.Query().Get("issuer") != "Knot" || !strings.Contains(u.Path, "ann@example.com") {
			t.Fatalf("totp_url %q is not the otpauth URI of the secret", en.TOTPURL)
		}
		if strings.Contains(r.String(), `"token"`) {
			t.Fatalf("the enrolment answer opened a session: %s", r.body)
		}
		if u, _ := getRecord[shared.User](e, ann.ID); u.TOTPSecret != "" {
			t.Fatal("the secret is the user's before any code confirmed it")
		}
	})

	t.Run("WrongCodeDoesNotConfirm", func(t *testing.T) {
		wrong := "000000"
		if codeAt(t, secret, e.clock.Now()) == wrong {
			wrong = "111111"
		}
		r := login(wrong)
		if r.code != http.StatusUnauthorized || !strings.Contains(r.errMsg(t), "wrong two-factor code") {
			t.Fatalf("= %d %s", r.code, r.body)
		}
	})

	t.Run("ValidCodeConfirmsAndLogsIn", func(t *testing.T) {
		r := login(codeAt(t, secret, e.clock.Now()))
		if r.code != http.StatusOK {
			t.Fatalf("= %d %s", r.code, r.body)
		}
		var out struct{ Token string }
		r.decode(t, &out)
		e.must(http.StatusOK, "GET", "/api/users/whoami", out.Token, nil)
		if !e.hasAudit("TOTP Enrolled", "ann") {
			t.Error("no audit event for the enrolment")
		}
	})

	t.Run("LoginWithoutCodeIsRefusedAndGivesNoSecret", func(t *testing.T) {
		r := login("")
		if r.code != http.StatusUnauthorized || !strings.Contains(r.errMsg(t), "two-factor code is required") {
			t.Fatalf("= %d %s", r.code, r.body)
		}
		if strings.Contains(r.String(), secret) {
			t.Fatal("the secret was shown again")
		}
	})

	t.Run("UsedCodeIsRefused", func(t *testing.T) {
		r := login(codeAt(t, secret, e.clock.Now()))
		if r.code != http.StatusUnauthorized || !strings.Contains(r.errMsg(t), "used already") {
			t.Fatalf("the confirming code again = %d %s", r.code, r.body)
		}
	})

	t.Run("NextCodeLogsIn", func(t *testing.T) {
		e.clock.Advance(30 * time.Second)
		e.must(http.StatusOK, "POST", "/api/auth", "", loginBody("ann@example.com", codeAt(t, secret, e.clock.Now())))
	})

	t.Run("OlderCodeWithinTheWindowIsRefused", func(t *testing.T) {
		// The code of the step before the last used one is within the
		// window, but older.
		r := login(codeAt(t, secret, e.clock.Now().Add(-30*time.Second)))
		if r.code != http.StatusUnauthorized {
			t.Fatalf("= %d %s", r.code, r.body)
		}
	})

	t.Run("CodeOutsideTheWindowIsRefused", func(t *testing.T) {
		e.clock.Advance(5 * time.Minute)
		now := e.clock.Now()
		for _, at := range []time.Time{now.Add(-60 * time.Second), now.Add(60 * time.Second)} {
			if r := login(codeAt(t, secret, at)); r.code != http.StatusUnauthorized {
				t.Fatalf("a code %s away = %d %s", at.Sub(now), r.code, r.body)
			}
		}
		// The window takes a code a step away either side.
		e.must(http.StatusOK, "POST", "/api/auth", "", loginBody("ann@example.com", codeAt(t, secret, now.Add(-30*time.Second))))
		e.must(http.StatusOK, "POST", "/api/auth", "", loginBody("ann@example.com", codeAt(t, secret, now.Add(30*time.Second))))
	})

	t.Run("MalformedCodeIsRefused", func(t *testing.T) {
		r := login("12ab56")
		if r.code != http.StatusUnauthorized || !strings.Contains(r.errMsg(t), "6 digits") {
			t.Fatalf("= %d %s", r.code, r.body)
		}
	})

	t.Run("WebLoginTakesTheCode", func(t *testing.T) {
		e.clock.Advance(time.Minute)
		r := e.do("POST", "/api/auth/web", "", loginBody("ann@example.com", codeAt(t, secret, e.clock.Now())))
		if r.code != http.StatusOK || len(r.header.Values("Set-Cookie")) == 0 {
			t.Fatalf("= %d %s", r.code, r.body)
		}
	})
}

func TestTOTPCodeRaceLetsOneLoginIn(t *testing.T) {
	e := newEnv(t, withTOTP)
	e.user("ann")
	secret := startEnrolment(t, e.do("POST", "/api/auth", "", loginBody("ann@example.com", "")))
	e.must(http.StatusOK, "POST", "/api/auth", "", loginBody("ann@example.com", codeAt(t, secret, e.clock.Now())))
	e.clock.Advance(30 * time.Second)
	code := codeAt(t, secret, e.clock.Now())
	const n = 4
	codes := make(chan int, n)
	for range n {
		go func() { codes <- e.do("POST", "/api/auth", "", loginBody("ann@example.com", code)).code }()
	}
	ok := 0
	for range n {
		if <-codes == http.StatusOK {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d logins with one code got in, want 1", ok, n)
	}
}

func TestUsingTOTP(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []func(*web.TestOptions)
		want string
	}{
		{"FalseWithoutTOTP", nil, `{"using_totp":false}`},
		{"TrueWithTOTP", []func(*web.TestOptions){withTOTP}, `{"using_totp":true}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts...)
			r := e.must(http.StatusOK, "GET", "/api/auth/using-totp", "", nil)
			if got := strings.TrimSpace(r.String()); got != tt.want {
				t.Fatalf("using-totp = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestFailedTOTPCountsAsFailedLogin(t *testing.T) {
	e := newEnv(t, withTOTP)
	e.user("ann")
	secret := startEnrolment(t, e.do("POST", "/api/auth", "", loginBody("ann@example.com", "")))
	e.must(http.StatusOK, "POST", "/api/auth", "", loginBody("ann@example.com", codeAt(t, secret, e.clock.Now())))
	e.clock.Advance(30 * time.Second)
	wrong := "000000"
	if codeAt(t, secret, e.clock.Now()) == wrong {
		wrong = "111111"
	}
	limited := false
	for i := 0; i < 50 && !limited; i++ {
		code := wrong
		if i%2 == 1 {
			code = "" // a missing code counts too
		}
		switch r := e.do("POST", "/api/auth", "", loginBody("ann@example.com", code)); r.code {
		case http.StatusTooManyRequests:
			limited = true
		case http.StatusUnauthorized:
		default:
			t.Fatalf("attempt %d = %d %s", i, r.code, r.body)
		}
	}
	if !limited {
		t.Fatal("50 logins with a right password and a wrong or missing code were never limited")
	}
	if r := e.do("POST", "/api/auth", "", loginBody("ann@example.com", codeAt(t, secret, e.clock.Now()))); r.code != http.StatusTooManyRequests {
		t.Fatalf("a valid code while limited = %d %s, want 429", r.code, r.body)
	}
	if !e.hasAudit("Login Failed", "TOTP code") {
		t.Error("no audit event names the failed code")
	}
}

func TestTOTPSecretIsSealedAtRest(t *testing.T) {
	e := newEnv(t, withTOTP)
	ann, _ := e.user("ann")
	secret := startEnrolment(t, e.do("POST", "/api/auth", "", loginBody("ann@example.com", "")))
	if storeHolds(t, e, secret) {
		t.Fatal("the store holds the pending secret in plain text")
	}
	e.must(http.StatusOK, "POST", "/api/auth", "", loginBody("ann@example.com", codeAt(t, secret, e.clock.Now())))
	if storeHolds(t, e, secret) {
		t.Fatal("the store holds the secret in plain text")
	}
	u, err := getRecord[shared.User](e, ann.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !crypt.IsSealed(u.TOTPSecret) {
		t.Fatalf("the user's secret is stored as %q, not sealed", u.TOTPSecret)
	}
	s, _ := crypt.NewSealer(testEncryptKey)
	if got, err := s.Open(u.TOTPSecret); err != nil || got != secret {
		t.Fatalf("the sealed secret opens to %q, %v", got, err)
	}
	for _, ev := range e.auditEvents() {
		b, _ := json.Marshal(ev)
		if strings.Contains(string(b), secret) {
			t.Fatalf("audit event %s holds the secret", b)
		}
	}
}

// enrolAt enrols email at the server at base with the clock at now and
// returns the secret.
func enrolAt(t *testing.T, base, email string, now time.Time) string {
	t.Helper()
	a := call(t, base, "POST", "/api/auth", "", loginBody(email, ""))
	secret := startEnrolment(t, &resp{code: a.code, body: a.body})
	mustCall(t, http.StatusOK, base, "POST", "/api/auth", "", loginBody(email, codeAt(t, secret, now)), nil)
	return secret
}

// waitUserSecret waits until st holds user id with a TOTP secret.
func waitUserSecret(t *testing.T, st storage.Store, id string) *shared.User {
	t.Helper()
	var u *shared.User
	eventually(t, 5*time.Second, func() string {
		var err error
		if u, err = storage.Get[shared.User](context.Background(), st, id); err != nil {
			return err.Error()
		}
		if u.TOTPSecret == "" {
			return "the user has no TOTP secret at the leaf"
		}
		return ""
	})
	return u
}

func TestTOTPAtATrustedLeafWhileTheOriginIsDown(t *testing.T) {
	clk := newClock()
	opts := func(o *web.TestOptions) { withTOTP(o); o.Now = clk.Now }
	f := newFleetWithOptions(t, func(f *fleet) { f.originOpts, f.leafOpts = opts, opts })
	ob, lb := f.originSW.srv.URL, f.leafSrv.URL
	f.waitConnected(true)
	var created struct {
		ID string `json:"user_id"`
	}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}, &created)
	waitRecord(t, f.leafStore, shared.KindUser, created.ID, false)

	t.Run("LeafSendsAUserWithoutSecretToTheOrigin", func(t *testing.T) {
		a := call(t, lb, "POST", "/api/auth", "", loginBody("admin@example.com", ""))
		if a.code != http.StatusUnauthorized || !strings.Contains(a.errMsg(t), "set up at the origin "+ob) {
			t.Fatalf("= %d %s", a.code, a.body)
		}
		if strings.Contains(a.String(), "totp_secret") {
			t.Fatalf("the leaf issued a secret: %s", a.body)
		}
	})

	secret := enrolAt(t, ob, "admin@example.com", clk.Now())
	u := waitUserSecret(t, f.leafStore, created.ID)
	if !crypt.IsSealed(u.TOTPSecret) || strings.Contains(u.TOTPSecret, secret) {
		t.Fatalf("the leaf holds the secret as %q, not sealed", u.TOTPSecret)
	}
	f.stopOrigin()
	f.waitConnected(false)

	t.Run("LeafRefusesALoginWithoutCode", func(t *testing.T) {
		a := call(t, lb, "POST", "/api/auth", "", loginBody("admin@example.com", ""))
		if a.code != http.StatusUnauthorized || !strings.Contains(a.errMsg(t), "two-factor code is required") {
			t.Fatalf("= %d %s", a.code, a.body)
		}
	})
	clk.Advance(30 * time.Second)
	code := codeAt(t, secret, clk.Now())
	t.Run("LeafChecksACodeOffline", func(t *testing.T) {
		var out struct{ Token string }
		mustCall(t, http.StatusOK, lb, "POST", "/api/auth", "", loginBody("admin@example.com", code), &out)
		mustCall(t, http.StatusOK, lb, "GET", "/api/users/whoami", out.Token, nil, nil)
	})
	t.Run("LeafRefusesTheCodeAgain", func(t *testing.T) {
		a := call(t, lb, "POST", "/api/auth", "", loginBody("admin@example.com", code))
		if a.code != http.StatusUnauthorized {
			t.Fatalf("= %d %s", a.code, a.body)
		}
	})
}

func TestTOTPSecretNeverReachesARestrictedLeaf(t *testing.T) {
	clk := newClock()
	opts := func(o *web.TestOptions) { withTOTP(o); o.Now = clk.Now }
	apiToken := crypt.NewToken()
	var ann *shared.User
	f := newFleetWithOptions(t, func(f *fleet) {
		f.hubOpts = func(o *origin.Options) { o.EnableLeafAPITokens = true }
		f.originOpts, f.leafOpts, f.leafToken = opts, opts, apiToken
		f.leafLocation = "user:away"
		ctx := context.Background()
		// A restricted leaf serves its owner's location, user:away.
		ann = &shared.User{Meta: shared.Meta{ID: newUUID(t)}, Username: "away", Email: "ann@example.com",
			PasswordHash: passwordHash(t), Roles: []string{shared.UserRoleID}, Active: true}
		if err := f.originStore.Put(ctx, ann); err != nil {
			t.Fatal(err)
		}
		if err := f.originStore.Put(ctx, &shared.Token{Meta: shared.Meta{ID: crypt.HashToken(apiToken)}, UserID: ann.ID, Name: "leaf"}); err != nil {
			t.Fatal(err)
		}
	})
	ob := f.originSW.srv.URL
	f.waitConnected(true)
	if !f.uplink.Status().Restricted {
		t.Fatal("the leaf on an API token is not restricted")
	}
	secret := enrolAt(t, ob, "ann@example.com", clk.Now())
	sealed := waitUserSecret(t, f.originStore, ann.ID).TOTPSecret
	head, err := f.originStore.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() string {
		if st := f.uplink.Status(); st.Applied < head.Revision {
			return "the leaf has not caught up with the origin"
		}
		return ""
	})
	u, err := storage.Get[shared.User](context.Background(), f.leafStore, ann.ID)
	if err != nil {
		t.Fatalf("the restricted leaf has not its owner: %v", err)
	}
	if u.TOTPSecret != "" {
		t.Fatalf("the restricted leaf holds the owner's TOTP secret %q", u.TOTPSecret)
	}
	for _, k := range shared.Kinds {
		cs, err := f.leafStore.List(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if s := string(c.Data); strings.Contains(s, secret) || strings.Contains(s, sealed) {
				t.Fatalf("the restricted leaf's %s %s holds the secret", c.Kind, c.ID)
			}
		}
	}
}

// waitCaughtUp waits until the leaf of up has applied every write of the
// origin's store st.
func waitCaughtUp(t *testing.T, st storage.Store, up *leaf.Uplink) {
	t.Helper()
	head, err := st.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() string {
		if got := up.Status().Applied; got < head.Revision {
			return fmt.Sprintf("the leaf applied revision %d of %d", got, head.Revision)
		}
		return ""
	})
}

// A TOTP code logs in once in the whole fleet as far as the leaves hear of
// it: the code that confirmed an enrolment at the origin, and one that
// logged in there, are refused at a trusted leaf; one used at a leaf while
// the origin is up is refused at the origin and at another leaf; and a leaf
// refuses a code twice while the origin is down.
func TestTOTPCodeLogsInOnceAcrossTheFleet(t *testing.T) {
	clk := newClock()
	opts := func(o *web.TestOptions) { withTOTP(o); o.Now = clk.Now }
	f := newFleetWithOptions(t, func(f *fleet) { f.originOpts, f.leafOpts = opts, opts })
	ob, lb := f.originSW.srv.URL, f.leafSrv.URL
	near := f.secondLeaf("near", opts)
	run(t, near.uplink.Run)
	f.waitConnected(true)
	var created struct {
		ID string `json:"user_id"`
	}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}, &created)
	login := func(base, code string) answer {
		return call(t, base, "POST", "/api/auth", "", loginBody("admin@example.com", code))
	}
	refused := func(t *testing.T, where, base, code string) {
		t.Helper()
		if a := login(base, code); a.code != http.StatusUnauthorized || !strings.Contains(a.errMsg(t), "used already") {
			t.Fatalf("a used code at %s = %d %s, want 401 saying it was used", where, a.code, a.body)
		}
	}

	secret := enrolAt(t, ob, "admin@example.com", clk.Now())
	confirming := codeAt(t, secret, clk.Now())
	waitCaughtUp(t, f.originStore, f.uplink)
	waitCaughtUp(t, f.originStore, near.uplink)
	waitUserSecret(t, f.leafStore, created.ID)
	t.Run("TheConfirmingCodeIsRefusedAtALeaf", func(t *testing.T) {
		refused(t, "the leaf", lb, confirming)
		refused(t, "the origin", ob, confirming)
	})

	t.Run("ACodeUsedAtTheOriginIsRefusedAtALeaf", func(t *testing.T) {
		clk.Advance(30 * time.Second)
		code := codeAt(t, secret, clk.Now())
		mustCall(t, http.StatusOK, ob, "POST", "/api/auth", "", loginBody("admin@example.com", code), nil)
		waitCaughtUp(t, f.originStore, f.uplink)
		refused(t, "the leaf", lb, code)
	})

	t.Run("ACodeUsedAtALeafIsRefusedAtTheOriginAndAnotherLeaf", func(t *testing.T) {
		clk.Advance(30 * time.Second)
		code := codeAt(t, secret, clk.Now())
		mustCall(t, http.StatusOK, lb, "POST", "/api/auth", "", loginBody("admin@example.com", code), nil)
		refused(t, "the same leaf", lb, code)
		refused(t, "the origin", ob, code)
		waitCaughtUp(t, f.originStore, near.uplink)
		refused(t, "another leaf", near.base, code)
	})

	t.Run("ALeafRefusesACodeTwiceWhileTheOriginIsDown", func(t *testing.T) {
		f.stopOrigin()
		f.waitConnected(false)
		clk.Advance(30 * time.Second)
		code := codeAt(t, secret, clk.Now())
		mustCall(t, http.StatusOK, lb, "POST", "/api/auth", "", loginBody("admin@example.com", code), nil)
		refused(t, "the leaf", lb, code)
	})
}
