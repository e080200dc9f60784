package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/web"
)

// heldFeed is the origin's store for its hub, whose feed the test can
// hold: while held, the hub sends the leaves nothing new.
type heldFeed struct {
	storage.Store

	mu   sync.Mutex
	gate chan struct{} // guarded by mu; nil: the feed flows; else closed on release
}

func (h *heldFeed) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gate = make(chan struct{})
}

func (h *heldFeed) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.gate)
	h.gate = nil
}

func (h *heldFeed) Changes(ctx context.Context, after int64, limit int) ([]shared.Change, error) {
	h.mu.Lock()
	gate := h.gate
	h.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return h.Store.Changes(ctx, after, limit)
}

// leafBrowser is a browser logged in to the web UI at base.
type leafBrowser struct {
	t       *testing.T
	base    string
	cookies []*http.Cookie
	csrf    string
}

// webLoginAt logs in to the web UI at base with the admin's password and
// TOTP code.
func webLoginAt(t *testing.T, base, code string) leafBrowser {
	t.Helper()
	a := mustCall(t, http.StatusOK, base, "POST", "/api/auth/web", "", loginBody("admin@example.com", code), nil)
	b := leafBrowser{t: t, base: base}
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		switch c.Name {
		case "__KNOT_SESSION":
			b.cookies = append(b.cookies, c)
		case "__KNOT_CSRF":
			b.cookies = append(b.cookies, c)
			b.csrf = c.Value
		}
	}
	if len(b.cookies) != 2 {
		t.Fatalf("web login set cookies %v", a.header["Set-Cookie"])
	}
	return b
}

// approve approves cli on the page's API and returns the answer.
func (b leafBrowser) approve(cli connectCLI) answer {
	b.t.Helper()
	req, err := http.NewRequest("POST", b.base+"/api/connect/approve", strings.NewReader(jsonOf(cli.body)))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", b.csrf)
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	if _, err := io.Copy(&body, resp.Body); err != nil {
		b.t.Fatal(err)
	}
	return answer{code: resp.StatusCode, header: resp.Header, body: []byte(body.String())}
}

// code approves cli and returns the code the browser is sent on with.
func (b leafBrowser) code(cli connectCLI) string {
	b.t.Helper()
	a := b.approve(cli)
	if a.code != http.StatusOK {
		b.t.Fatalf("approve = %d %s", a.code, a.body)
	}
	var out struct{ Redirect string }
	if err := json.Unmarshal(a.body, &out); err != nil {
		b.t.Fatal(err)
	}
	u, err := url.Parse(out.Redirect)
	if err != nil || u.Query().Get("code") == "" {
		b.t.Fatalf("approve sends the browser to %q", out.Redirect)
	}
	return u.Query().Get("code")
}

// The browser login of the CLI at a leaf, with two-factor login: the
// leaf's page approves, the token is made at the origin as the user, and
// the leaf answers the CLI once its replica holds the token, so that the
// token works at the leaf at once (and at the origin). While the origin is
// down, or the leaf holds no session of the user there, the approval
// itself is refused and says why.
func TestConnectAtALeaf(t *testing.T) {
	clk := newClock()
	opts := func(o *web.TestOptions) { withTOTP(o); o.Now = clk.Now }
	feed := &heldFeed{}
	f := newFleetWithOptions(t, func(f *fleet) {
		f.originOpts, f.leafOpts = opts, opts
		f.hubOpts = func(o *origin.Options) { feed.Store = o.Store; o.Store = feed }
	})
	ob, lb := f.originSW.srv.URL, f.leafSrv.URL
	f.waitConnected(true)
	var created struct {
		ID string `json:"user_id"`
	}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}, &created)
	secret := enrolAt(t, ob, "admin@example.com", clk.Now())
	waitUserSecret(t, f.leafStore, created.ID)
	nextCode := func() string {
		clk.Advance(30 * time.Second)
		return codeAt(t, secret, clk.Now())
	}
	b := webLoginAt(t, lb, nextCode())
	cli := newConnectCLI()

	t.Run("TheTokenWorksAtTheLeafOnceRedeemed", func(t *testing.T) {
		code := b.code(cli)
		feed.hold()
		done := make(chan answer, 1)
		go func() {
			resp, err := http.Post(lb+"/api/connect/token", "application/json", strings.NewReader(jsonOf(map[string]string{"code": code, "code_verifier": cli.verifier})))
			if err != nil {
				done <- answer{body: []byte(err.Error())}
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			done <- answer{code: resp.StatusCode, header: resp.Header, body: body}
		}()
		eventually(t, 5*time.Second, func() string {
			toks, err := storage.ListWhere(context.Background(), f.originStore, func(tk *shared.Token) bool { return tk.UserID == created.ID })
			if err != nil || len(toks) != 1 {
				return "the origin has not made the token yet"
			}
			return ""
		})
		select {
		case a := <-done:
			feed.release()
			t.Fatalf("the leaf answered %d %s before its replica held the token", a.code, a.body)
		case <-time.After(200 * time.Millisecond):
		}
		feed.release()
		a := <-done
		if a.code != http.StatusCreated || a.header.Get("X-Knot-Forwarded-To") != "origin" {
			t.Fatalf("redeem = %d %v %s", a.code, a.header, a.body)
		}
		var tok struct {
			Token   string
			TokenID string `json:"token_id"`
		}
		if err := json.Unmarshal(a.body, &tok); err != nil {
			t.Fatal(err)
		}
		if _, err := f.leafStore.Get(context.Background(), shared.KindToken, tok.TokenID); err != nil {
			t.Fatalf("the leaf answered without the token in its replica: %v", err)
		}
		for _, base := range []string{lb, ob} {
			var me struct{ Username string }
			mustCall(t, http.StatusOK, base, "GET", "/api/users/whoami", tok.Token, nil, &me)
			if me.Username != "admin" {
				t.Errorf("the token is %q's at %s", me.Username, base)
			}
		}
		var list []struct{ Name string }
		mustCall(t, http.StatusOK, lb, "GET", "/api/tokens", tok.Token, nil, &list)
		if len(list) != 1 || list[0].Name != shared.ConnectTokenName("laptop") {
			t.Errorf("tokens at the leaf %+v", list)
		}
	})

	t.Run("ATokenMadeAtTheLeafWorksThereAtOnce", func(t *testing.T) {
		// As knot connect with a password makes it.
		var login struct{ Token string }
		mustCall(t, http.StatusOK, lb, "POST", "/api/auth", "", loginBody("admin@example.com", nextCode()), &login)
		var tok struct{ Token string }
		mustCall(t, http.StatusCreated, lb, "POST", "/api/tokens", login.Token, map[string]any{"name": "knot client laptop"}, &tok)
		mustCall(t, http.StatusOK, lb, "GET", "/api/users/whoami", tok.Token, nil, nil)
	})

	t.Run("WithTheOriginDownTheApprovalIs503", func(t *testing.T) {
		f.stopOrigin()
		f.waitConnected(false)
		a := b.approve(cli)
		if a.code != http.StatusServiceUnavailable || !strings.Contains(a.errMsg(t), "the origin "+ob+" is not reachable") {
			t.Fatalf("approve = %d %s", a.code, a.body)
		}
	})

	t.Run("WithoutASessionAtTheOriginTheApprovalSaysToLogInAgain", func(t *testing.T) {
		// Logged in while the origin was down: the leaf has no session
		// of the user there.
		offline := webLoginAt(t, lb, nextCode())
		f.startOrigin()
		f.waitConnected(true)
		a := offline.approve(cli)
		if a.code != http.StatusConflict || !strings.Contains(a.errMsg(t), "log out, log in again here, and approve again") {
			t.Fatalf("approve = %d %s", a.code, a.body)
		}
		again := webLoginAt(t, lb, nextCode())
		again.code(cli)
	})
}
