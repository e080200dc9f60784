package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared"
)

// uiPages are the pages behind the login, in the navigation.
var uiPages = []string{"/spaces", "/templates", "/variables", "/users", "/groups", "/roles", "/audit-logs", "/leaves", "/tokens"}

// uiAllPages are the pages behind the login: those of the navigation and
// the account page, which the header links to.
var uiAllPages = append(uiPages[:len(uiPages):len(uiPages)], "/account")

// cookieSession returns the cookies of a browser logged in as userID.
func (e *env) cookieSession(userID string) []*http.Cookie {
	e.t.Helper()
	return []*http.Cookie{{Name: "__KNOT_SESSION", Value: e.session(userID)}}
}

func (e *env) page(path string, cookies []*http.Cookie) *resp {
	e.t.Helper()
	return e.send(req{method: "GET", path: path, cookies: cookies})
}

func TestUIPagesRedirectToLoginWithoutSession(t *testing.T) {
	e := newEnv(t)
	e.admin()
	for _, p := range append(uiAllPages, "/spaces?all=true") {
		t.Run(p, func(t *testing.T) {
			r := e.page(p, nil)
			if r.code != http.StatusSeeOther {
				t.Fatalf("= %d %s, want 303", r.code, r.body)
			}
			want := "/login?redirect=" + url.QueryEscape(p)
			if got := r.header.Get("Location"); got != want {
				t.Fatalf("Location = %q, want %q", got, want)
			}
		})
	}
	t.Run("ExpiredCookie", func(t *testing.T) {
		r := e.page("/templates", []*http.Cookie{{Name: "__KNOT_SESSION", Value: "stale"}})
		if r.code != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login?") {
			t.Fatalf("= %d Location %q, want a redirect to the login page", r.code, r.header.Get("Location"))
		}
	})
	t.Run("RootGoesToPlainLogin", func(t *testing.T) {
		r := e.page("/", nil)
		if r.code != http.StatusSeeOther || r.header.Get("Location") != "/login" {
			t.Fatalf("= %d Location %q, want /login", r.code, r.header.Get("Location"))
		}
	})
}

func TestUILoginRedirectStaysOnSite(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.admin()
	cookies := e.cookieSession(admin.ID)
	for _, tt := range []struct {
		name, redirect, want string
	}{
		{"SamePathHonoured", "/templates", "/templates"},
		{"QueryKept", "/spaces?all=true", "/spaces?all=true"},
		{"NoneGoesHome", "", "/"},
		{"ProtocolRelativeRefused", "//evil.example/x", "/"},
		{"AbsoluteRefused", "https://evil.example/", "/"},
		{"BackslashRefused", "/\\evil.example", "/"},
		{"TabRefused", "/\t/evil.example", "/"},
		{"SchemeRefused", "javascript:alert(1)", "/"},
		{"LoginLoopRefused", "/login?redirect=/x", "/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.page("/login?redirect="+url.QueryEscape(tt.redirect), cookies)
			if r.code != http.StatusSeeOther {
				t.Fatalf("= %d %s, want 303", r.code, r.body)
			}
			if got := r.header.Get("Location"); got != tt.want {
				t.Fatalf("Location = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("FormCarriesOnlySafeTarget", func(t *testing.T) {
		r := e.page("/login?redirect="+url.QueryEscape("//evil.example"), nil)
		if r.code != http.StatusOK || strings.Contains(string(r.body), "evil.example") {
			t.Fatalf("= %d; the login page carries the foreign target:\n%s", r.code, r.body)
		}
		r = e.page("/login?redirect="+url.QueryEscape("/groups"), nil)
		if !strings.Contains(string(r.body), `data-redirect="/groups"`) {
			t.Fatalf("the login form does not carry the target /groups:\n%s", r.body)
		}
	})
}

func TestUILoginOffersSetupOnlyWhileNoUserExists(t *testing.T) {
	e := newEnv(t)
	r := e.page("/login", nil)
	if r.code != http.StatusOK || !strings.Contains(string(r.body), `id="setup-form"`) {
		t.Fatalf("= %d; no setup form on an empty server:\n%s", r.code, r.body)
	}
	e.must(http.StatusCreated, "POST", "/api/users", "", map[string]any{"username": "root", "email": "root@example.com", "password": "long-enough"})
	r = e.page("/login", nil)
	if strings.Contains(string(r.body), `id="setup-form"`) || !strings.Contains(string(r.body), `id="login-form"`) {
		t.Fatalf("the login page still offers the setup once a user exists:\n%s", r.body)
	}
}

func TestUISecurityHeaders(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.admin()
	cookies := e.cookieSession(admin.ID)
	for _, p := range []string{"/login", "/spaces", "/users", "/ui/static/knot.css", "/ui/static/js/spaces.js"} {
		t.Run(p, func(t *testing.T) {
			r := e.page(p, cookies)
			if p == "/login" {
				r = e.page(p, nil)
			}
			if r.code != http.StatusOK {
				t.Fatalf("= %d %s", r.code, r.body)
			}
			csp := r.header.Get("Content-Security-Policy")
			for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("Content-Security-Policy %q allows inline code", csp)
			}
			if got := r.header.Get("X-Frame-Options"); got != "DENY" {
				t.Errorf("X-Frame-Options = %q", got)
			}
			if got := r.header.Get("Referrer-Policy"); got == "" {
				t.Error("no Referrer-Policy")
			}
			if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
		})
	}
}

var (
	assetRef    = regexp.MustCompile(`(?:src|href)="(/ui/static/[^"]+)"`)
	scriptTag   = regexp.MustCompile(`(?i)<script\b[^>]*>`)
	emptyScript = regexp.MustCompile(`(?i)<script\b[^>]*></script>`)
	inlineStyle = regexp.MustCompile(`(?i)\son[a-z]+=|\sstyle=|<style`)
)

// TestUIPagesUseOnlyEmbeddedFiles renders every page and checks that each
// asset it names is served, and that no page holds inline script or style,
// which the Content-Security-Policy would block.
func TestUIPagesUseOnlyEmbeddedFiles(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.admin()
	cookies := e.cookieSession(admin.ID)
	pages := map[string]*resp{"/login": e.page("/login", nil)}
	for _, p := range uiAllPages {
		pages[p] = e.page(p, cookies)
	}
	seen := map[string]bool{}
	for p, r := range pages {
		if r.code != http.StatusOK {
			t.Fatalf("%s = %d %s", p, r.code, r.body)
		}
		if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", p, ct)
		}
		body := string(r.body)
		tags := scriptTag.FindAllString(body, -1)
		for _, tag := range tags {
			if !strings.Contains(tag, `src="/ui/static/js/`) || !strings.Contains(tag, `type="module"`) {
				t.Errorf("%s: script tag %s does not load an embedded module", p, tag)
			}
		}
		if n := len(emptyScript.FindAllString(body, -1)); n != len(tags) {
			t.Errorf("%s: %d of %d script tags hold inline code", p, len(tags)-n, len(tags))
		}
		if m := inlineStyle.FindString(body); m != "" {
			t.Errorf("%s holds an inline handler or style: %q", p, m)
		}
		refs := assetRef.FindAllStringSubmatch(body, -1)
		if len(refs) < 3 {
			t.Errorf("%s names only %d assets", p, len(refs))
		}
		for _, m := range refs {
			seen[m[1]] = true
		}
	}
	// Modules import one another; those imports must resolve too.
	importRe := regexp.MustCompile(`(?m)^import (?:[^'"]*from )?'\./([a-z-]+\.js)';`)
	for ref := range seen {
		if !strings.HasSuffix(ref, ".js") {
			continue
		}
		r := e.page(ref, nil)
		for _, m := range importRe.FindAllStringSubmatch(string(r.body), -1) {
			seen["/ui/static/js/"+m[1]] = true
		}
	}
	for ref := range seen {
		r := e.page(ref, nil)
		if r.code != http.StatusOK || len(r.body) == 0 {
			t.Errorf("%s = %d", ref, r.code)
			continue
		}
		want := map[string]string{".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
		for ext, ct := range want {
			if strings.HasSuffix(ref, ext) && !strings.HasPrefix(r.header.Get("Content-Type"), ct) {
				t.Errorf("%s: Content-Type %q, want %s", ref, r.header.Get("Content-Type"), ct)
			}
		}
	}
}

func TestUIAssetsRevalidate(t *testing.T) {
	e := newEnv(t)
	r := e.page("/ui/static/js/api.js", nil)
	etag := r.header.Get("ETag")
	if r.code != http.StatusOK || etag == "" || r.header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("= %d ETag %q Cache-Control %q", r.code, etag, r.header.Get("Cache-Control"))
	}
	r = e.send(req{method: "GET", path: "/ui/static/js/api.js", header: map[string]string{"If-None-Match": etag}})
	if r.code != http.StatusNotModified {
		t.Fatalf("with the ETag = %d, want 304", r.code)
	}
	for _, p := range []string{"/ui/static/nope.js", "/ui/static/", "/ui/static/js", "/ui/static/../ui.go", "/ui/static/templates/layout.html"} {
		if r := e.page(p, nil); r.code != http.StatusNotFound {
			t.Errorf("%s = %d, want 404", p, r.code)
		}
	}
}

func TestUINavigationFollowsPermissions(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.admin()
	ann, _ := e.user("ann")
	auditor, _ := e.user("audrey", shared.UserRoleID, e.role("auditors", shared.PermViewAuditLogs))
	navRe := regexp.MustCompile(`<li><a href="(/[a-z-]+)"`)
	nav := func(userID string) []string {
		r := e.page("/tokens", e.cookieSession(userID))
		if r.code != http.StatusOK {
			t.Fatalf("/tokens = %d %s", r.code, r.body)
		}
		var out []string
		for _, m := range navRe.FindAllStringSubmatch(string(r.body), -1) {
			out = append(out, m[1])
		}
		return out
	}
	for _, tt := range []struct {
		name   string
		userID string
		want   []string
	}{
		{"AdminSeesEverything", admin.ID, uiPages},
		{"UserSeesOwnPages", ann.ID, []string{"/spaces", "/templates", "/tokens"}},
		{"AuditorSeesAuditLog", auditor.ID, []string{"/spaces", "/templates", "/audit-logs", "/tokens"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := nav(tt.userID); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("navigation %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUIPageRefusedWithoutPermission(t *testing.T) {
	e := newEnv(t)
	ann, _ := e.user("ann")
	cookies := e.cookieSession(ann.ID)
	for _, tt := range []struct{ path, needs string }{
		{"/users", "Manage Users"},
		{"/groups", "Manage Groups"},
		{"/roles", "Manage Roles"},
		{"/variables", "Manage Variables"},
		{"/audit-logs", "View Audit Logs"},
		{"/leaves", "Admin role"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			r := e.page(tt.path, cookies)
			if r.code != http.StatusForbidden {
				t.Fatalf("= %d, want 403", r.code)
			}
			if !strings.Contains(string(r.body), tt.needs) {
				t.Fatalf("the refusal does not name %q:\n%s", tt.needs, r.body)
			}
		})
	}
	t.Run("RootGoesToFirstAllowedPage", func(t *testing.T) {
		r := e.page("/", cookies)
		if r.code != http.StatusSeeOther || r.header.Get("Location") != "/spaces" {
			t.Fatalf("= %d Location %q, want /spaces", r.code, r.header.Get("Location"))
		}
	})
}

// TestUIDoesNotShadowAPI checks that the pages leave the API alone: an
// unknown API path is still a JSON 404, as is a request other than GET to
// an unknown path; a browser's GET of an unknown page is the UI's HTML 404.
func TestUIDoesNotShadowAPI(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/api/nope", "/api/spaces/x/y/z", "/api"} {
		r := e.page(p, nil)
		if r.code != http.StatusNotFound {
			t.Fatalf("%s = %d, want 404", p, r.code)
		}
		r.errMsg(t)
	}
	r := e.do("POST", "/nope", "", nil)
	if r.code != http.StatusNotFound {
		t.Fatalf("POST /nope = %d, want 404", r.code)
	}
	r.errMsg(t)
	r = e.page("/nope", nil)
	if r.code != http.StatusNotFound || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(r.body), `<a href="/">`) {
		t.Fatalf("GET /nope = %d %s:\n%s", r.code, r.header.Get("Content-Type"), r.body)
	}
}

// TestUILoginLandsOnAPageTheUserMaySee checks where the login page sends a
// user who has a session: to the page they came for when they may see it,
// and to their start page instead of a refusal when they may not.
func TestUILoginLandsOnAPageTheUserMaySee(t *testing.T) {
	e := newEnv(t)
	ann, _ := e.user("ann")
	annCookies := e.cookieSession(ann.ID)
	admin, _ := e.admin()
	adminCookies := e.cookieSession(admin.ID)
	for _, tt := range []struct {
		who     string
		cookies []*http.Cookie
		target  string
		want    string
	}{
		{"ann", annCookies, "/users", "/"},
		{"ann", annCookies, "/leaves", "/"},
		{"ann", annCookies, "/templates?x=1", "/templates?x=1"},
		{"ann", annCookies, "", "/"},
		{"admin", adminCookies, "/users", "/users"},
	} {
		r := e.page("/login?redirect="+url.QueryEscape(tt.target), tt.cookies)
		if r.code != http.StatusSeeOther || r.header.Get("Location") != tt.want {
			t.Errorf("%s at /login?redirect=%s = %d Location %q, want %s", tt.who, tt.target, r.code, r.header.Get("Location"), tt.want)
		}
	}
}

// The template form offers with_terminal and with_ssh, which decide
// whether terminals and SSH open into the template's spaces (leaf.Access),
// and its script sends them.
func TestUITemplateFormOffersTheWaysIntoSpaces(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.admin()
	r := e.page("/templates", e.cookieSession(admin.ID))
	js := e.page("/ui/static/js/templates.js", nil)
	if r.code != http.StatusOK || js.code != http.StatusOK {
		t.Fatalf("/templates = %d, templates.js = %d", r.code, js.code)
	}
	for _, flag := range []string{"with_terminal", "with_ssh"} {
		if !strings.Contains(string(r.body), `name="`+flag+`"`) || !strings.Contains(string(js.body), flag+": e.checked('"+flag+"')") {
			t.Errorf("the template form does not offer and send %s", flag)
		}
	}
}
