package leaf

import (
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
