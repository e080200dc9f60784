package leaf

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
)

// FuzzAppHost feeds arbitrary Host headers to the parsing of web app
// hosts: a host is an app host only under the wildcard domain, and a
// label parses only as USER--SPACE--PORT with a port from 1 to 65535.
func FuzzAppHost(f *testing.F) {
	for _, s := range []string{"alice--dev--8080.example.test", "ALICE--dev--80.Example.Test:3000", "a--b--0.example.test",
		"a--b--c--1.example.test", "x.y.example.test", ".example.test", "example.test", "a--b--99999.example.test", "[::1]:80", "--.example.test"} {
		f.Add(s)
	}
	a := NewAppGrants("*.example.test")
	f.Fuzz(func(t *testing.T, host string) {
		label, ok := a.AppHost(host)
		if !ok {
			return
		}
		if label == "" || strings.Contains(label, ".") || label != strings.ToLower(label) {
			t.Fatalf("AppHost(%q) = %q", host, label)
		}
		user, space, port, err := ParseAppLabel(label)
		if err != nil {
			return
		}
		if user == "" || space == "" || port < 1 || port > 65535 || user+"--"+space+"--"+strconv.Itoa(port) != label {
			t.Fatalf("ParseAppLabel(%q) = %q %q %d", label, user, space, port)
		}
	})
}

func TestAppGrantsAreOneTimeAndBound(t *testing.T) {
	a := NewAppGrants("*.example.test")
	now := time.Unix(1_000_000, 0)
	code, err := a.Put(AppGrant{Host: "a--b--80.example.test", UserID: "u", Code: true, Expires: now.Add(AppCodeTTL)}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Get(code, "a--b--80.example.test", false, now); ok {
		t.Fatal("a code worked as a cookie")
	}
	if _, ok := a.Get(code, "other--b--80.example.test", true, now); ok {
		t.Fatal("a code worked on another host")
	}
	code, _ = a.Put(AppGrant{Host: "a--b--80.example.test", UserID: "u", Code: true, Expires: now.Add(AppCodeTTL)}, now)
	if _, ok := a.Get(code, "a--b--80.example.test", true, now.Add(2*AppCodeTTL)); ok {
		t.Fatal("an expired code worked")
	}
	code, _ = a.Put(AppGrant{Host: "a--b--80.example.test", UserID: "u", Code: true, Expires: now.Add(AppCodeTTL)}, now)
	if g, ok := a.Get(code, "a--b--80.example.test", true, now); !ok || g.UserID != "u" {
		t.Fatal("a fresh code did not work")
	}
	if _, ok := a.Get(code, "a--b--80.example.test", true, now); ok {
		t.Fatal("a code worked twice")
	}
	if len(a.grants) != 0 {
		t.Fatalf("%d grants kept after use", len(a.grants))
	}
}

// The URL a web app login sends the browser back to must be an http(s)
// URL of an app host: anything else is EINVALID, before a code is made.
func TestAppURLIsAnAppHostsOnly(t *testing.T) {
	a := NewAppGrants("*.example.test")
	for raw, label := range map[string]string{
		"https://ann--dev--8080.example.test/x?y=1": "ann--dev--8080",
		"http://ANN--dev--80.example.test:3000/":    "ann--dev--80",
		"javascript:alert(1)":                       "",
		"https://evil.test/":                        "",
		"ftp://ann--dev--80.example.test/":          "",
		"%zz":                                       "",
	} {
		to, got, err := a.AppURL(raw)
		if label == "" {
			if shared.ErrorCode(err) != shared.EINVALID {
				t.Errorf("AppURL(%q) = %v, %q, %v; want EINVALID", raw, to, got, err)
			}
			continue
		}
		if err != nil || got != label || to.String() != raw {
			t.Errorf("AppURL(%q) = %v, %q, %v; want label %q", raw, to, got, err, label)
		}
	}
}

// A code redeems once, for its host alone (with any port or case), into a
// cookie of that host; the cookie is refused on another host and after
// AppGrantTTL.
func TestAppCodeRedeemsOnceIntoTheHostsCookie(t *testing.T) {
	a := NewAppGrants("*.example.test")
	now := time.Now()
	const host = "ann--dev--80.example.test"
	code, err := a.Issue("ANN--dev--80.example.test:8443", "sess", "", "ann", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Redeem(code, "bob--dev--80.example.test", now); shared.ErrorCode(err) != shared.EUNAUTHORIZED {
		t.Fatalf("Redeem on another host = %v, want EUNAUTHORIZED", err)
	}
	code, _ = a.Issue(host, "sess", "", "ann", now)
	cookie, err := a.Redeem(code, host+":8443", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Redeem(code, host, now); shared.ErrorCode(err) != shared.EUNAUTHORIZED {
		t.Fatalf("second Redeem = %v, want EUNAUTHORIZED", err)
	}
	if g, err := a.Cookie(cookie, host, now.Add(time.Hour)); err != nil || g.SessionID != "sess" || g.UserID != "ann" || g.Code {
		t.Fatalf("Cookie = %+v, %v", g, err)
	}
	if _, err := a.Cookie(cookie, "bob--dev--80.example.test", now); shared.ErrorCode(err) != shared.EUNAUTHORIZED {
		t.Fatalf("Cookie on another host = %v, want EUNAUTHORIZED", err)
	}
	if _, err := a.Cookie(cookie, host, now.Add(AppGrantTTL+time.Second)); shared.ErrorCode(err) != shared.EUNAUTHORIZED {
		t.Fatalf("Cookie after AppGrantTTL = %v, want EUNAUTHORIZED", err)
	}
}
