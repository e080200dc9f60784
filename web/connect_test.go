package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
)

// connectCLI is a CLI of knot connect --use-web-auth as the server sees it.
type connectCLI struct {
	verifier string
	body     map[string]any
}

func newConnectCLI() connectCLI {
	v := crypt.NewToken()
	return connectCLI{verifier: v, body: map[string]any{"port": 5555, "state": "state-1234", "challenge": shared.ConnectChallenge(v), "host": "laptop"}}
}

// connectBrowser is a browser logged in to e, which approves CLIs.
type connectBrowser struct {
	e       *env
	cookies []*http.Cookie
	csrf    string
}

func (b connectBrowser) approve(body any) *resp {
	b.e.t.Helper()
	return b.e.send(req{method: "POST", path: "/api/connect/approve", body: body, cookies: b.cookies,
		header: map[string]string{"X-CSRF-Token": b.csrf}})
}

// code approves cli and returns the code the browser is sent on with.
func (b connectBrowser) code(cli connectCLI) string {
	b.e.t.Helper()
	r := b.approve(cli.body)
	if r.code != http.StatusOK {
		b.e.t.Fatalf("approve = %d %s", r.code, r.body)
	}
	var out struct{ Redirect string }
	r.decode(b.e.t, &out)
	u, err := url.Parse(out.Redirect)
	if err != nil || u.Scheme != "http" || u.Host != "127.0.0.1:5555" || u.Path != "/callback" ||
		u.Query().Get("state") != "state-1234" || u.Query().Get("code") == "" {
		b.e.t.Fatalf("approve sends the browser to %q", out.Redirect)
	}
	return u.Query().Get("code")
}

func (e *env) redeem(code, verifier string) *resp {
	e.t.Helper()
	return e.do("POST", "/api/connect/token", "", map[string]string{"code": code, "code_verifier": verifier})
}

// The code of a browser login works once, for two minutes, with its
// verifier, while the approving session lasts; anything else is a 400
// that says what was wrong, and leaves no token.
func TestConnectCodes(t *testing.T) {
	e := newEnv(t)
	ann, bearer := e.user("ann")
	session, csrf, csrfToken := webLogin(t, e)
	b := connectBrowser{e: e, cookies: []*http.Cookie{session, csrf}, csrf: csrfToken}
	cli := newConnectCLI()
	tokens := func() int {
		t.Helper()
		var list []any
		e.must(http.StatusOK, "GET", "/api/tokens", bearer, nil).decode(t, &list)
		return len(list)
	}
	badRedeem := func(code, verifier, want string) {
		t.Helper()
		r := e.redeem(code, verifier)
		if r.code != http.StatusBadRequest || !strings.Contains(r.errMsg(t), want) {
			t.Errorf("redeem = %d %s, want 400 with %q", r.code, r.body, want)
		}
	}

	{ // redeemed once
		code := b.code(cli)
		if n := tokens(); n != 0 {
			t.Fatalf("an approval alone made %d tokens", n)
		}
		r := e.redeem(code, cli.verifier)
		if r.code != http.StatusCreated {
			t.Fatalf("redeem = %d %s", r.code, r.body)
		}
		var tok struct {
			Token   string
			TokenID string `json:"token_id"`
		}
		r.decode(t, &tok)
		var me struct{ Username string }
		e.must(http.StatusOK, "GET", "/api/users/whoami", tok.Token, nil).decode(t, &me)
		if me.Username != ann.Username {
			t.Errorf("the token is %q's", me.Username)
		}
		var list []struct {
			Name      string
			ExpiresAt time.Time `json:"expires_at"`
		}
		e.must(http.StatusOK, "GET", "/api/tokens", tok.Token, nil).decode(t, &list)
		if len(list) != 1 || list[0].Name != "knot connect laptop" || !list[0].ExpiresAt.Equal(e.clock.Now().Add(90*24*time.Hour)) {
			t.Errorf("tokens %+v", list)
		}
		badRedeem(code, cli.verifier, "the code was already used")
		e.must(http.StatusOK, "DELETE", "/api/tokens/"+tok.TokenID, bearer, nil)
	}
	{ // forged
		badRedeem(crypt.NewToken(), cli.verifier, "the code is not one this server issued")
	}
	{ // wrong verifier uses the code up
		code := b.code(cli)
		badRedeem(code, crypt.NewToken(), "code_verifier does not match the challenge")
		badRedeem(code, cli.verifier, "the code was already used")
	}
	{ // expired
		code := b.code(cli)
		e.clock.Advance(shared.ConnectCodeTTL + time.Second)
		badRedeem(code, cli.verifier, "the code expired at")
	}
	{ // malformed
		badRedeem("", cli.verifier, "code is required")
		badRedeem("x", "short", "code_verifier must be 43 to 128")
		r := e.do("POST", "/api/connect/token", "", `{"code": "x", "code_verifier": 1}`)
		if r.code != http.StatusBadRequest {
			t.Errorf("a number as verifier = %d %s", r.code, r.body)
		}
	}
	{ // the approving session ended
		other := connectBrowser{e: e}
		s2, c2, tok2 := webLogin(t, e)
		other.cookies, other.csrf = []*http.Cookie{s2, c2}, tok2
		code := other.code(cli)
		e.send(req{method: "POST", path: "/api/auth/logout", cookies: other.cookies, header: map[string]string{"X-CSRF-Token": tok2}})
		badRedeem(code, cli.verifier, "the login session that approved the code has ended")
	}
	if n := tokens(); n != 0 {
		t.Errorf("refused codes left %d tokens", n)
	}
}

// Only a browser session approves, with the CSRF header, a request that
// knot connect could have made.
func TestConnectApproveRefusals(t *testing.T) {
	e := newEnv(t)
	_, bearer := e.user("ann")
	session, csrf, csrfToken := webLogin(t, e)
	b := connectBrowser{e: e, cookies: []*http.Cookie{session, csrf}, csrf: csrfToken}
	good := newConnectCLI().body
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	for _, tc := range []struct {
		name string
		r    *resp
		code int
		want string
	}{
		{"no CSRF header", e.send(req{method: "POST", path: "/api/connect/approve", body: good, cookies: b.cookies}), 403, "X-CSRF-Token"},
		{"API token", e.do("POST", "/api/connect/approve", bearer, good), 400, "logged in in a browser"},
		{"no login", e.do("POST", "/api/connect/approve", "", good), 401, "authentication required"},
		{"port", b.approve(with("port", 70000)), 400, "port must be"},
		{"state", b.approve(with("state", "a b")), 400, "state must be"},
		{"challenge", b.approve(with("challenge", "plain")), 400, "challenge must be the S256"},
		{"host", b.approve(with("host", "")), 400, "host is required"},
	} {
		if tc.r.code != tc.code || !strings.Contains(tc.r.errMsg(t), tc.want) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, tc.r.code, tc.r.body, tc.code, tc.want)
		}
	}
}

// The page /connect is behind the login, and shows the CLI that asks.
func TestConnectPage(t *testing.T) {
	e := newEnv(t)
	u, _ := e.user("ann")
	q := url.Values{"port": {"5555"}, "state": {"state-1234"}, "challenge": {shared.ConnectChallenge(crypt.NewToken())}, "host": {"laptop<b>"}}
	r := e.page("/connect?"+q.Encode(), nil)
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/login?redirect="+url.QueryEscape("/connect?"+q.Encode()) {
		t.Errorf("without a login: %d to %q", r.code, r.header.Get("Location"))
	}
	cookies := e.cookieSession(u.ID)
	r = e.page("/connect?"+q.Encode(), cookies)
	if r.code != http.StatusOK || !strings.Contains(r.String(), `<strong id="connect-host">laptop&lt;b&gt;</strong>`) ||
		!strings.Contains(r.String(), "127.0.0.1:5555") {
		t.Errorf("the page = %d %s", r.code, r.body)
	}
	q.Set("port", "x")
	if r = e.page("/connect?"+q.Encode(), cookies); r.code != http.StatusBadRequest || !strings.Contains(r.String(), "port must be") {
		t.Errorf("a bad port: %d %s", r.code, r.body)
	}
}

// FuzzConnectToken sends arbitrary bodies to POST /api/connect/token, where
// anyone may send anything: the answer is never a server error, a refusal
// is {"error": "..."}, and no body redeems a code it does not hold.
func FuzzConnectToken(f *testing.F) {
	e := newEnv(f)
	e.user("ann")
	session, csrf, csrfToken := webLogin(f, e)
	b := connectBrowser{e: e, cookies: []*http.Cookie{session, csrf}, csrf: csrfToken}
	cli := newConnectCLI()
	code := b.code(cli)
	f.Add([]byte(`{"code":"` + code + `","code_verifier":"` + strings.Repeat("v", 43) + `"}`))
	f.Add([]byte(`{"code":"x","code_verifier":"` + cli.verifier + `"}`))
	f.Add([]byte(`{"code":null,"code_verifier":[]}`))
	f.Add([]byte(`{"code":"` + code + `"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e := *e
		e.t = t
		r := e.send(req{method: "POST", path: "/api/connect/token", body: body})
		switch {
		case r.code >= 500:
			t.Fatalf("%q = %d %s", body, r.code, r.body)
		case r.code >= 400:
			r.errMsg(t)
		default:
			t.Fatalf("%q redeemed a code: %d %s", body, r.code, r.body)
		}
	})
}
