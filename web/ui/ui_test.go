package ui

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
)

// fakeSpaces is a space service that knows no space.
type fakeSpaces struct{ shared.SpaceService }

func (fakeSpaces) Get(ctx context.Context, id string) (*shared.Space, error) {
	if shared.ActorFrom(ctx) == nil {
		return nil, errors.New("no actor in the context")
	}
	return nil, shared.Errorf(shared.ENOTFOUND, "space %q not found", id)
}

// serve mounts the UI on deps whose Authenticate returns a and err, and
// answers a GET of path.
func serve(t *testing.T, a *shared.Actor, err error, path string) *httptest.ResponseRecorder {
	t.Helper()
	r := chi.NewRouter()
	statuses := map[string]int{shared.EUNAUTHORIZED: 401, shared.EFORBIDDEN: 403, shared.ENOTFOUND: 404}
	u := Mount(r, Deps{
		Authenticate: func(*http.Request) (*shared.Actor, error) { return a, err },
		Status: func(err error) int {
			if s, ok := statuses[shared.ErrorCode(err)]; ok {
				return s
			}
			return 500
		},
		Spaces: fakeSpaces{},
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Role:   "leaf", Location: "here", Version: "v1",
	})
	r.NotFound(u.NotFound)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	return w
}

// The UI answers from what Deps tells it alone: no server is needed.
func TestUIRunsOnItsDeps(t *testing.T) {
	ann := &shared.Actor{User: &shared.User{Username: "ann"}, Permissions: shared.PermissionsOf([]shared.Permission{shared.PermUseSpaces})}
	unauth := shared.Errorf(shared.EUNAUTHORIZED, "log in")
	for _, tt := range []struct {
		name       string
		a          *shared.Actor
		err        error
		path       string
		status     int
		want, hide string
	}{
		{"LeafLoginOffersNoSetup", nil, unauth, "/login", 200, `id="login-form"`, `id="setup-form"`},
		{"PageWithoutSessionGoesToLogin", nil, unauth, "/users?x=1", 303, "", ""},
		{"PageRefusedWithoutPermission", ann, nil, "/users", 403, "Manage Users", `href="/users"`},
		{"SpaceOfTheServiceNotFound", ann, nil, "/spaces/s1", 404, `Space &#34;s1&#34; not found.`, ""},
		{"InternalErrorHidden", nil, errors.New("disk on fire"), "/spaces", 500, "Internal error.", "disk on fire"},
		{"UnknownPage", ann, nil, "/nope", 404, "There is no page at /nope.", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(t, tt.a, tt.err, tt.path)
			body := w.Body.String()
			if w.Code != tt.status {
				t.Fatalf("= %d, want %d:\n%s", w.Code, tt.status, body)
			}
			if w.Header().Get("Content-Security-Policy") != csp {
				t.Fatalf("Content-Security-Policy = %q", w.Header().Get("Content-Security-Policy"))
			}
			if tt.status == 303 {
				if loc := w.Header().Get("Location"); loc != "/login?redirect="+url.QueryEscape(tt.path) {
					t.Fatalf("Location = %q", loc)
				}
				return
			}
			if !strings.Contains(body, tt.want) || (tt.hide != "" && strings.Contains(body, tt.hide)) {
				t.Fatalf("the page lacks %q or shows %q:\n%s", tt.want, tt.hide, body)
			}
		})
	}
}

// FuzzSafeRedirect checks that a redirect after login stays on the site.
func FuzzSafeRedirect(f *testing.F) {
	for _, s := range []string{"/spaces?all=true", "//evil.example", "/\\evil", "/\t/x", "javascript:x", "/login?x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		got := safeRedirect(target)
		if got == "" {
			return
		}
		if got != target || !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\t\n\r") {
			t.Fatalf("safeRedirect(%q) = %q: leaves the site", target, got)
		}
		if u, err := url.Parse(got); err != nil || u.Host != "" || u.Scheme != "" {
			t.Fatalf("safeRedirect(%q) = %q: parses to another site", target, got)
		}
	})
}

func TestSentence(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"the Users page needs the Manage Users permission, which you do not have", "The Users page needs the Manage Users permission, which you do not have."},
		{"There is no page at /x.", "There is no page at /x."},
		{"internal error", "Internal error."},
		{"ümlaut first", "Ümlaut first."},
	} {
		if got := sentence(tt.in); got != tt.want {
			t.Errorf("sentence(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// An error page's title is in the UI's sentence case, as its own 404 page
// is ("Page not found"), not in Go's status text ("Not Found").
func TestErrorPageTitle(t *testing.T) {
	ann := &shared.Actor{User: &shared.User{Username: "ann"}, Permissions: shared.PermissionsOf([]shared.Permission{shared.PermUseSpaces})}
	w := serve(t, ann, nil, "/spaces/nope")
	if w.Code != http.StatusNotFound {
		t.Fatalf("status %d, want 404", w.Code)
	}
	if body := w.Body.String(); !strings.Contains(body, "<h1>404 · Not found</h1>") {
		t.Errorf("the page of a space that is not there has no title \"404 · Not found\":\n%s", body)
	}
}
