package web

// The web UI: server-rendered shell pages (html/template) whose content
// small JavaScript modules fill in by calling the REST API with the session
// cookie. Everything it serves is embedded; nothing comes from elsewhere.
//
// Pages answer unauthenticated requests with a redirect to /login, carry the
// security headers of uiHeaders, and show in their navigation only what the
// user's permissions allow. The API checks every permission again; the UI
// only hides what would be refused.

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
)

//go:embed ui
var uiFiles embed.FS

// uiStaticPrefix is where the UI's stylesheets, scripts and images are served.
const uiStaticPrefix = "/ui/static/"

// uiPage is one page of the UI.
type uiPage struct {
	path  string
	name  string // the template ui/templates/<name>.html and the script ui/static/js/<name>.js
	title string
	// allowed reports whether p may see the page; nil means every user.
	allowed func(p *principal) bool
	// needs names what a user without it lacks, for the refusal.
	needs string
}

// uiPages are the pages behind the login, in the order of the navigation.
var uiPages = []uiPage{
	{path: "/spaces", name: "spaces", title: "Spaces", needs: "the Use Spaces or Manage Spaces permission",
		allowed: func(p *principal) bool { return p.canAny(shared.PermUseSpaces, shared.PermManageSpaces) }},
	{path: "/templates", name: "templates", title: "Templates"},
	{path: "/variables", name: "variables", title: "Variables", needs: "the Manage Variables permission",
		allowed: func(p *principal) bool { return p.can(shared.PermManageVariables) }},
	{path: "/users", name: "users", title: "Users", needs: "the Manage Users permission",
		allowed: func(p *principal) bool { return p.can(shared.PermManageUsers) }},
	{path: "/groups", name: "groups", title: "Groups", needs: "the Manage Groups permission",
		allowed: func(p *principal) bool { return p.can(shared.PermManageGroups) }},
	{path: "/roles", name: "roles", title: "Roles", needs: "the Manage Roles permission",
		allowed: func(p *principal) bool { return p.can(shared.PermManageRoles) }},
	{path: "/audit-logs", name: "audit-logs", title: "Audit log", needs: "the View Audit Logs permission",
		allowed: func(p *principal) bool { return p.can(shared.PermViewAuditLogs) }},
	{path: "/leaves", name: "leaves", title: "Leaves", needs: "the Admin role", allowed: isAdmin},
	{path: "/tokens", name: "tokens", title: "API tokens"},
}

// uiNavItem is one link of the navigation.
type uiNavItem struct {
	Href, Label string
	Current     bool
}

// uiData is what a page template sees.
type uiData struct {
	Title    string
	Page     string // the page's name: its script and the body's data-page
	Username string // "" on the login page
	Perms    string // the user's permission ids, comma separated
	Admin    bool
	Nav      []uiNavItem
	Role     string // standalone, origin or leaf
	Location string
	Version  string

	// The login page.
	Redirect string // where to go after logging in: a same-site path
	Setup    bool   // no user exists yet: offer to create the admin

	// The refusal page.
	Status   int
	Message  string
	NotFound bool // the page asked for does not exist

	// The space page.
	SpaceID, SpaceName string
	Shells             []string // the shells a space may have
}

// uiTemplates holds one parsed template set per page, each the layout plus
// the page's content.
var uiTemplates = func() map[string]*template.Template {
	names := []string{"login", "error", uiSpacePage}
	for _, p := range uiPages {
		names = append(names, p.name)
	}
	out := make(map[string]*template.Template, len(names))
	for _, n := range names {
		out[n] = template.Must(template.New("layout.html").ParseFS(uiFiles, "ui/templates/layout.html", "ui/templates/"+n+".html"))
	}
	return out
}()

// uiAsset is an embedded static file, ready to serve.
type uiAsset struct {
	body  []byte
	ctype string
	etag  string
}

// uiAssets maps a path under uiStaticPrefix to its file.
var uiAssets = func() map[string]uiAsset {
	out := map[string]uiAsset{}
	err := fs.WalkDir(uiFiles, "ui/static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := uiFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		out[strings.TrimPrefix(p, "ui/static/")] = uiAsset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic("web: embedded UI assets: " + err.Error())
	}
	return out
}()

// uiCSP allows the page's own scripts, styles, images and API calls, and
// nothing inline, from elsewhere, or in a frame.
const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// uiHeaders sets the security headers of every UI response.
func uiHeaders(h http.Header) {
	h.Set("Content-Security-Policy", uiCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// mountUI adds the UI's pages and assets to r. The API keeps its own routes:
// nothing here is under /api/.
func (s *Server) mountUI(r chi.Router) {
	r.Get("/", s.handleUIRoot)
	r.Get("/login", s.handleUILogin)
	for _, p := range uiPages {
		r.Get(p.path, s.handleUIPage(p))
	}
	r.Get("/spaces/{space_id}", s.handleUISpace)
	r.Get(uiStaticPrefix+"*", handleUIAsset)
}

// handleUIRoot sends the user to the first page they may see.
func (s *Server) handleUIRoot(w http.ResponseWriter, r *http.Request) {
	p, ok := s.uiUser(w, r)
	if !ok {
		return
	}
	for _, pg := range uiPages {
		if pg.allowed == nil || pg.allowed(p) {
			uiRedirect(w, r, pg.path)
			return
		}
	}
	uiRedirect(w, r, "/tokens")
}

// handleUILogin serves the login page, or the initial setup while no user
// exists. A logged-in user goes on to the redirect target.
func (s *Server) handleUILogin(w http.ResponseWriter, r *http.Request) {
	target := safeRedirect(r.URL.Query().Get("redirect"))
	if hasCredentials(r) {
		if p, err := s.authenticate(r); err == nil {
			uiRedirect(w, r, uiLanding(p, target))
			return
		}
	}
	setup, err := s.needsSetup(r)
	if err != nil {
		s.uiError(w, r, nil, err)
		return
	}
	title := "Log in"
	if setup {
		title = "Set up knot"
	}
	s.render(w, r, http.StatusOK, "login", &uiData{Title: title, Page: "login", Redirect: target, Setup: setup})
}

// needsSetup reports whether no user exists yet, so that the login page
// offers to create the first one. A leaf never offers it: its users come
// from the origin.
func (s *Server) needsSetup(r *http.Request) (bool, error) {
	if s.leaf != nil {
		return false, nil
	}
	return s.users.NeedsSetup(r.Context())
}

// handleUIPage serves the shell of pg to a user who may see it.
func (s *Server) handleUIPage(pg uiPage) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.uiUser(w, r)
		if !ok {
			return
		}
		if pg.allowed != nil && !pg.allowed(p) {
			s.uiError(w, r, p, forbidden("the %s page needs %s, which you do not have", pg.title, pg.needs))
			return
		}
		s.render(w, r, http.StatusOK, pg.name, s.uiData(p, pg.name, pg.title))
	}
}

// uiUser authenticates a page request. Without a valid session it redirects
// to the login page, which comes back here afterwards, and reports false.
func (s *Server) uiUser(w http.ResponseWriter, r *http.Request) (*principal, bool) {
	p, err := s.authenticate(r)
	if err == nil {
		return p, true
	}
	if isCode(err, shared.EUNAUTHORIZED) {
		target := "/login"
		if r.URL.Path != "/" {
			target += "?redirect=" + url.QueryEscape(r.URL.RequestURI())
		}
		uiRedirect(w, r, target)
		return nil, false
	}
	s.uiError(w, r, nil, err)
	return nil, false
}

// uiData returns the data of a page for p.
func (s *Server) uiData(p *principal, page, title string) *uiData {
	d := &uiData{Title: title, Page: page, Role: s.roleName(), Location: s.location, Version: s.version}
	if p == nil {
		return d
	}
	d.Username = p.user.Username
	d.Admin = isAdmin(p)
	ids := make([]string, 0, 12)
	for _, perm := range p.permissions() {
		ids = append(ids, strconv.Itoa(int(perm)))
	}
	d.Perms = strings.Join(ids, ",")
	for _, pg := range uiPages {
		if pg.allowed == nil || pg.allowed(p) {
			d.Nav = append(d.Nav, uiNavItem{Href: pg.path, Label: pg.title, Current: pg.name == page})
		}
	}
	return d
}

// uiError shows err on a page with its status; p is nil when the user is
// not known.
func (s *Server) uiError(w http.ResponseWriter, r *http.Request, p *principal, err error) {
	status, ok := statusOf[shared.ErrorCode(err)]
	if !ok {
		status = http.StatusInternalServerError
	}
	msg := shared.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error"
	}
	d := s.uiData(p, "error", http.StatusText(status))
	d.Status, d.Message = status, msg
	s.render(w, r, status, "error", d)
}

// render writes the page name with data d.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, d *uiData) {
	if d.Role == "" {
		d.Role, d.Location, d.Version = s.roleName(), s.location, s.version
	}
	var buf bytes.Buffer
	if err := uiTemplates[name].Execute(&buf, d); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	uiHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// uiRedirect sends the browser to a same-site path.
func uiRedirect(w http.ResponseWriter, r *http.Request, target string) {
	uiHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// safeRedirect returns target when it is a path on this site, and ""
// otherwise: a redirect after login never leaves the site, whatever the
// link that led to the login page said.
func safeRedirect(target string) string {
	if len(target) > 2048 || !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") {
		return ""
	}
	for _, c := range target {
		// Browsers read a backslash as a slash and drop tabs and newlines,
		// so "/\evil.example" and "/\t/evil.example" lead elsewhere.
		if c == '\\' || c < 0x20 || c == 0x7f {
			return ""
		}
	}
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	if u.Path == "/login" {
		return ""
	}
	return target
}

// handleUIAsset serves an embedded stylesheet, script or image. Browsers
// revalidate them (no-cache) and get 304 while they are unchanged.
func handleUIAsset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, uiStaticPrefix)
	a, ok := uiAssets[name]
	h := w.Header()
	uiHeaders(h)
	if !ok {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("not found\n"))
		return
	}
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
