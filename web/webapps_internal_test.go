package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/knot-dev/knot/leaf"
)

func TestStripCredentialsKeepsTheAppsOwn(t *testing.T) {
	h := http.Header{}
	h.Set("Authorization", "Bearer secret")
	h.Set(csrfHeader, "x")
	h.Add("Cookie", sessionCookie+"=s; mine=1")
	h.Add("Cookie", appCookie+"=a; "+csrfCookie+"=c; theirs=2")
	stripCredentials(h)
	if h.Get("Authorization") != "" || h.Get(csrfHeader) != "" || h.Get("Cookie") != "mine=1; theirs=2" {
		t.Fatalf("after stripping: %v", h)
	}
	rh := http.Header{}
	rh.Add("Set-Cookie", "__KNOT_SESSION=planted; Path=/")
	rh.Add("Set-Cookie", " __knot_app=x")
	rh.Add("Set-Cookie", "app=kept")
	dropKnotCookies(rh)
	if got := rh.Values("Set-Cookie"); len(got) != 1 || got[0] != "app=kept" {
		t.Fatalf("Set-Cookie after dropping knot's: %q", got)
	}
}

func TestRedeemAppCodeSendsOnlyToAPathOfTheHost(t *testing.T) {
	s := &Server{apps: newWebApps("*.example.test"), now: time.Now}
	const host = "a--b--80.example.test"
	for next, want := range map[string]string{
		"/app?x=1":             "/app?x=1",
		"//evil.example":       "/",
		"/\\evil.example":      "/",
		"/\t/evil.example":     "/",
		"https://evil.example": "/",
		"":                     "/",
	} {
		code, err := s.apps.grants.Put(leaf.AppGrant{Host: host, UserID: "u", Code: true, Expires: time.Now().Add(leaf.AppCodeTTL)}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "http://"+host+appAuthPath+"?code="+url.QueryEscape(code)+"&next="+url.QueryEscape(next), nil)
		if err := s.redeemAppCode(w, r, host); err != nil {
			t.Fatal(err)
		}
		c := w.Result().Cookies()
		if w.Code != http.StatusFound || w.Header().Get("Location") != want || len(c) != 1 || c[0].Name != appCookie || !c[0].HttpOnly || c[0].SameSite != http.SameSiteLaxMode {
			t.Errorf("next %q: %d to %q, cookies %v; want 302 to %q with the app cookie", next, w.Code, w.Header().Get("Location"), c, want)
		}
	}
}
