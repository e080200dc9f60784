package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzAppHost feeds arbitrary Host headers to the parsing of web app
// hosts: a host is an app host only under the wildcard domain, and a
// label parses only as USER--SPACE--PORT with a port from 1 to 65535.
func FuzzAppHost(f *testing.F) {
	for _, s := range []string{"alice--dev--8080.example.test", "ALICE--dev--80.Example.Test:3000", "a--b--0.example.test",
		"a--b--c--1.example.test", "x.y.example.test", ".example.test", "example.test", "a--b--99999.example.test", "[::1]:80", "--.example.test"} {
		f.Add(s)
	}
	a := newWebApps("*.example.test")
	f.Fuzz(func(t *testing.T, host string) {
		label, ok := a.appHost(host)
		if !ok {
			return
		}
		if label == "" || strings.Contains(label, ".") || label != strings.ToLower(label) {
			t.Fatalf("appHost(%q) = %q", host, label)
		}
		user, space, port, err := parseAppLabel(label)
		if err != nil {
			return
		}
		if user == "" || space == "" || port < 1 || port > 65535 || user+"--"+space+"--"+strconv.Itoa(port) != label {
			t.Fatalf("parseAppLabel(%q) = %q %q %d", label, user, space, port)
		}
	})
}

func TestAppGrantsAreOneTimeAndBound(t *testing.T) {
	a := newWebApps("*.example.test")
	now := time.Unix(1_000_000, 0)
	code, err := a.put(appGrant{host: "a--b--80.example.test", userID: "u", code: true, expires: now.Add(appCodeTTL)}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.get(code, "a--b--80.example.test", false, now); ok {
		t.Fatal("a code worked as a cookie")
	}
	if _, ok := a.get(code, "other--b--80.example.test", true, now); ok {
		t.Fatal("a code worked on another host")
	}
	code, _ = a.put(appGrant{host: "a--b--80.example.test", userID: "u", code: true, expires: now.Add(appCodeTTL)}, now)
	if _, ok := a.get(code, "a--b--80.example.test", true, now.Add(2*appCodeTTL)); ok {
		t.Fatal("an expired code worked")
	}
	code, _ = a.put(appGrant{host: "a--b--80.example.test", userID: "u", code: true, expires: now.Add(appCodeTTL)}, now)
	if g, ok := a.get(code, "a--b--80.example.test", true, now); !ok || g.userID != "u" {
		t.Fatal("a fresh code did not work")
	}
	if _, ok := a.get(code, "a--b--80.example.test", true, now); ok {
		t.Fatal("a code worked twice")
	}
	if len(a.grants) != 0 {
		t.Fatalf("%d grants kept after use", len(a.grants))
	}
}

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
		code, err := s.apps.put(appGrant{host: host, userID: "u", code: true, expires: time.Now().Add(appCodeTTL)}, time.Now())
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
