package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
)

// The /connect page of a leaf in Chromium: while the origin is down,
// Approve says so; when the user's login at the leaf opened no session at
// the origin (it was down then), Approve says to log in again and offers
// it, and after that login the page sends the browser on to the CLI with a
// code that the leaf redeems for a token that works there.
func TestConnectPageAtALeafInBrowser(t *testing.T) {
	f := newFleet(t)
	ob, lb := f.originSW.srv.URL, f.leafSrv.URL
	f.waitConnected(true)
	var created struct {
		ID string `json:"user_id"`
	}
	mustCall(t, http.StatusCreated, ob, "POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": testPassword}, &created)
	waitRecord(t, f.leafStore, shared.KindUser, created.ID, false)

	// The CLI's loopback listener.
	back := make(chan url.Values, 1)
	cliSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case back <- r.URL.Query():
		default:
		}
		w.Write([]byte("<p id=result>back at the CLI</p>"))
	}))
	t.Cleanup(cliSrv.Close)
	port := strings.TrimPrefix(cliSrv.URL, "http://127.0.0.1:")
	verifier := crypt.NewToken()
	page := "/connect?" + url.Values{"port": {port}, "state": {"state-1234"}, "challenge": {shared.ConnectChallenge(verifier)}, "host": {"laptop"}}.Encode()

	f.stopOrigin()
	f.waitConnected(false)
	b := newTab(t, lb)
	b.open(page)
	b.login("admin@example.com", testPassword, page)
	b.visible(`main[aria-busy="false"]`)

	b.click("#connect-approve")
	if got := b.text("#page-error"); !strings.Contains(got, "the origin "+ob+" is not reachable") {
		t.Errorf("with the origin down the page says %q", got)
	}
	b.do("check that Log in again is not offered", chromedp.WaitNotVisible(chromedp.CSS("#connect-relogin")))

	f.startOrigin()
	f.waitConnected(true)
	b.click("#connect-approve")
	b.visible("#connect-relogin")
	if got := b.text("#page-error"); !strings.Contains(got, "log out, log in again here, and approve again") {
		t.Errorf("without a session at the origin the page says %q", got)
	}
	b.click("#connect-relogin")
	b.login("admin@example.com", testPassword, page)
	b.visible(`main[aria-busy="false"]`)
	b.click("#connect-approve")
	b.visible("#result")
	q := <-back
	if q.Get("state") != "state-1234" || q.Get("code") == "" {
		t.Fatalf("the CLI got %v", q)
	}
	var tok struct{ Token string }
	mustCall(t, http.StatusCreated, lb, "POST", "/api/connect/token", "", map[string]string{"code": q.Get("code"), "code_verifier": verifier}, &tok)
	mustCall(t, http.StatusOK, lb, "GET", "/api/users/whoami", tok.Token, nil, nil)
}
