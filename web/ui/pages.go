package ui

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/knot-dev/knot/shared"
)

// page is one page of the UI.
type page struct {
	path  string
	name  string // the template templates/<name>.html and the script static/js/<name>.js
	title string
	// allowed reports whether a may see the page; nil means every user.
	allowed func(a *shared.Actor) bool
	// needs names what a user without it lacks, for the refusal.
	needs string
	// offNav keeps the page out of the navigation (the header links to it).
	offNav bool
}

// can returns whether an actor holds at least one of perms.
func can(perms ...shared.Permission) func(a *shared.Actor) bool {
	return func(a *shared.Actor) bool { return slices.ContainsFunc(perms, a.Permissions.Has) }
}

func isAdmin(a *shared.Actor) bool { return a.Admin }

// pages are the pages behind the login, in the order of the navigation.
var pages = []page{
	{path: "/spaces", name: "spaces", title: "Spaces", needs: "the Use Spaces or Manage Spaces permission",
		allowed: can(shared.PermUseSpaces, shared.PermManageSpaces)},
	{path: "/templates", name: "templates", title: "Templates"},
	{path: "/variables", name: "variables", title: "Variables", needs: "the Manage Variables permission",
		allowed: can(shared.PermManageVariables)},
	{path: "/users", name: "users", title: "Users", needs: "the Manage Users permission",
		allowed: can(shared.PermManageUsers)},
	{path: "/groups", name: "groups", title: "Groups", needs: "the Manage Groups permission",
		allowed: can(shared.PermManageGroups)},
	{path: "/roles", name: "roles", title: "Roles", needs: "the Manage Roles permission",
		allowed: can(shared.PermManageRoles)},
	{path: "/audit-logs", name: "audit-logs", title: "Audit log", needs: "the View Audit Logs permission",
		allowed: can(shared.PermViewAuditLogs)},
	{path: "/leaves", name: "leaves", title: "Leaves", needs: "the Admin role", allowed: isAdmin},
	{path: "/tokens", name: "tokens", title: "API tokens"},
	{path: accountPath, name: accountPage, title: "My account", offNav: true},
}

// pageNamed returns the page of pages named name.
func pageNamed(name string) page {
	for _, p := range pages {
		if p.name == name {
			return p
		}
	}
	panic("ui: no page " + name)
}

// navItem is one link of the navigation.
type navItem struct {
	Href, Label string
	Icon        string // the name of its icon in layout.html's "icon"
	Current     bool
}

// data is what a page template sees.
type data struct {
	Title    string
	Page     string // the page's name: its script and the body's data-page
	Username string // "" on the login page
	Perms    string // the user's permission ids, comma separated
	Timezone string // the zone of the user's profile, which times show in; "": the browser's
	Admin    bool
	Nav      []navItem
	Role     string // standalone, origin or leaf
	Location string
	Version  string

	// The login page.
	Redirect string // where to go after logging in: a same-site path
	Setup    bool   // no user exists yet: offer to create the admin
	// What a login form sent without its script brings back (form.go):
	// the email and username typed (never a password or a code), the
	// refusal, whether to ask for a code, and a TOTP enrolment's secret.
	Email, NewUsername string
	Error              string
	TOTP               bool
	Enrolment          *enrolment

	// The refusal page.
	Status   int
	Message  string
	NotFound bool // the page asked for does not exist

	// The spaces page: the locations a new space may name.
	Locations []string

	// The space page.
	SpaceID, SpaceName string
	Shells             []string // the shells a space may have

	// The page of the CLI's browser login.
	Connect *shared.ConnectRequest
}

// pageData returns the data of a page for a; a is nil when the user is not
// known.
func (u *UI) pageData(a *shared.Actor, name, title string) *data {
	d := &data{Title: title, Page: name, Role: u.d.Role, Location: u.d.Location, Version: u.d.Version}
	if a == nil {
		return d
	}
	d.Username = a.User.Username
	d.Timezone = a.User.Timezone
	d.Admin = a.Admin
	ids := make([]string, 0, 12)
	for _, perm := range shared.AllPermissions() {
		if a.Permissions.Has(perm) {
			ids = append(ids, strconv.Itoa(int(perm)))
		}
	}
	d.Perms = strings.Join(ids, ",")
	for _, pg := range pages {
		if !pg.offNav && (pg.allowed == nil || pg.allowed(a)) {
			d.Nav = append(d.Nav, navItem{Href: pg.path, Label: pg.title, Icon: pg.name, Current: pg.name == name})
		}
	}
	return d
}

// landing returns where a goes after logging in when the login page was
// asked to return to target: target itself unless it is a page a may not
// see, and then "/", which leads to the first page a may see.
func landing(a *shared.Actor, target string) string {
	u, err := url.Parse(target)
	if target == "" || err != nil {
		return "/"
	}
	for _, pg := range pages {
		if pg.path == u.Path && pg.allowed != nil && !pg.allowed(a) {
			return "/"
		}
	}
	return target
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
