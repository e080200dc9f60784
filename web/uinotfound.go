package web

// Answers of the UI that are not one of its pages: the HTML page for a
// path that does not exist, and where a user goes after logging in.
//
// A browser that follows a wrong link gets a page it can read, with the
// way back, rather than the API's JSON. Paths under /api/ keep their JSON
// 404s, as do requests other than GET and HEAD: those come from programs.

import (
	"net/http"
	"net/url"
	"strings"
)

// isAPIPath reports whether p is the API's.
func isAPIPath(p string) bool {
	return p == "/api" || strings.HasPrefix(p, "/api/")
}

// handleNotFound answers a request for a path no route serves: the UI's
// 404 page for a browser's GET, the API's JSON error otherwise.
func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	if isAPIPath(r.URL.Path) || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		s.writeError(w, r, notFound("no route for %s %s", r.Method, quote(r.URL.Path)))
		return
	}
	var p *principal
	if hasCredentials(r) {
		if who, err := s.authenticate(r); err == nil {
			p = who
		}
	}
	d := s.uiData(p, "error", "Page not found")
	d.Status, d.Message = http.StatusNotFound, "There is no page at "+r.URL.Path+"."
	d.NotFound = true
	s.render(w, r, http.StatusNotFound, "error", d)
}

// uiLanding returns where p goes after logging in when the login page was
// asked to return to target: target itself unless it is a page p may not
// see, and then "/", which leads to the first page p may see.
func uiLanding(p *principal, target string) string {
	u, err := url.Parse(target)
	if target == "" || err != nil {
		return "/"
	}
	for _, pg := range uiPages {
		if pg.path == u.Path && pg.allowed != nil && !pg.allowed(p) {
			return "/"
		}
	}
	return target
}
