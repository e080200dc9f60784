// Package ui is knot's web UI: server-rendered shell pages (html/template)
// whose content small JavaScript modules fill in by calling the REST API
// with the session cookie. Everything it serves is embedded (templates/,
// static/); nothing comes from elsewhere.
//
// Pages answer unauthenticated requests with a redirect to /login, carry the
// security headers of setHeaders, and show in their navigation only what the
// user's permissions allow. The API checks every permission again; the UI
// only hides what would be refused.
//
// The UI holds no rules of the product. It learns who asks and reads what
// it shows through Deps, which package web fills in: web authenticates,
// maps error codes to statuses, and mounts the UI with Mount.
package ui

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
)

// Deps is what the UI needs from the server that mounts it.
type Deps struct {
	// Authenticate returns the actor of r: its session cookie or bearer
	// token. An EUNAUTHORIZED error means r carries no valid credential.
	// Required.
	Authenticate func(r *http.Request) (*shared.Actor, error)
	// Status returns the HTTP status of a coded error. Required.
	Status func(err error) int
	// Users tells whether the first user is still to be created; nil means
	// the login page never offers to (a leaf, whose users come from the
	// origin).
	Users shared.UserService
	// Spaces reads the space of the space page, as the actor of the request.
	// Required.
	Spaces shared.SpaceService
	// Log receives the errors of pages; nil means slog.Default().
	Log *slog.Logger
	// Role is the server's role: standalone, origin or leaf.
	Role string
	// Location and Version are shown in every page's footer.
	Location, Version string
	// Locations returns the locations a new space may name, which the
	// Spaces page offers; nil means Location only.
	Locations func(ctx context.Context) ([]string, error)
	// Login logs the browser of r in with req, as POST /api/auth/web
	// does, and sets the session's cookies; its errors are
	// AuthService.Login's. It serves the login form sent without its
	// script (form.go); nil means such a form gets a page asking for
	// JavaScript.
	Login func(w http.ResponseWriter, r *http.Request, req shared.LoginRequest) (*shared.LoginResult, error)
	// UsingTOTP reports whether a login needs a TOTP code; nil means it
	// does not.
	UsingTOTP func() bool
}

// UI serves the pages. Make one with Mount.
type UI struct{ d Deps }

// Mount adds the UI's pages and assets to r and returns the UI, whose
// NotFound serves the page of a path that does not exist. Nothing here is
// under /api/: the API keeps its own routes.
func Mount(r chi.Router, d Deps) *UI {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	u := &UI{d: d}
	r.Get("/", u.handleRoot)
	r.Get("/login", u.handleLogin)
	r.Post("/login", u.handleLoginForm)
	for _, p := range pages {
		r.Get(p.path, u.handlePage(p))
		r.Post(p.path, u.handleScriptlessForm)
	}
	r.Get("/spaces/{space_id}", u.handleSpace)
	r.Get("/connect", u.handleConnect)
	r.Get(staticPrefix+"*", handleAsset)
	return u
}

// handleRoot sends the user to the first page they may see.
func (u *UI) handleRoot(w http.ResponseWriter, r *http.Request) {
	a, ok := u.user(w, r)
	if !ok {
		return
	}
	for _, pg := range pages {
		if pg.allowed == nil || pg.allowed(a) {
			Redirect(w, r, pg.path)
			return
		}
	}
	Redirect(w, r, "/tokens")
}

// handleLogin serves the login page, or the initial setup while no user
// exists. A logged-in user goes on to the redirect target.
func (u *UI) handleLogin(w http.ResponseWriter, r *http.Request) {
	target := safeRedirect(r.URL.Query().Get("redirect"))
	if carriesCredentials(r.URL.Query()) {
		// A login form sent as a GET: the address bar keeps no password.
		Redirect(w, r, loginPath(target))
		return
	}
	if a, err := u.d.Authenticate(r); err == nil {
		Redirect(w, r, landing(a, target))
		return
	}
	setup, err := u.needsSetup(r)
	if err != nil {
		u.showError(w, r, nil, err)
		return
	}
	title := "Log in"
	if setup {
		title = "Set up knot"
	}
	u.render(w, r, http.StatusOK, "login", &data{Title: title, Page: "login", Redirect: target, Setup: setup, TOTP: u.usingTOTP()})
}

// handlePage serves the shell of pg to a user who may see it.
func (u *UI) handlePage(pg page) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, ok := u.user(w, r)
		if !ok {
			return
		}
		if pg.allowed != nil && !pg.allowed(a) {
			u.showError(w, r, a, shared.Errorf(shared.EFORBIDDEN, "the %s page needs %s, which you do not have", pg.title, pg.needs))
			return
		}
		d := u.pageData(a, pg.name, pg.title)
		if pg.name == accountPage {
			d.Shells = shared.Shells
		}
		if pg.name == spacesPage {
			d.Locations = u.locations(r.Context())
		}
		u.render(w, r, http.StatusOK, pg.name, d)
	}
}

// locations returns the locations a new space may name; only this
// server's when they cannot be known (the API then says which are).
func (u *UI) locations(ctx context.Context) []string {
	if u.d.Locations != nil {
		if ls, err := u.d.Locations(ctx); err == nil {
			return ls
		}
	}
	return []string{u.d.Location}
}

// user authenticates a page request. Without a valid credential it
// redirects to the login page, which comes back here afterwards, and
// reports false.
func (u *UI) user(w http.ResponseWriter, r *http.Request) (*shared.Actor, bool) {
	a, err := u.d.Authenticate(r)
	if err == nil {
		return a, true
	}
	if shared.ErrorCode(err) == shared.EUNAUTHORIZED {
		target := "/login"
		if r.URL.Path != "/" {
			target += "?redirect=" + url.QueryEscape(r.URL.RequestURI())
		}
		Redirect(w, r, target)
		return nil, false
	}
	u.showError(w, r, nil, err)
	return nil, false
}

// NotFound serves the page for a path that does not exist, to a browser
// that followed a wrong link: a page it can read, with the way back.
func (u *UI) NotFound(w http.ResponseWriter, r *http.Request) {
	a, err := u.d.Authenticate(r)
	if err != nil {
		a = nil
	}
	d := u.pageData(a, "error", "Page not found")
	d.Status, d.Message = http.StatusNotFound, "There is no page at "+r.URL.Path+"."
	d.NotFound = true
	u.render(w, r, http.StatusNotFound, "error", d)
}
