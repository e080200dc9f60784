package web

// The web UI (package ui) on this server: what its pages learn of a request
// and read, and the answer to a path no route serves.
//
// A browser that follows a wrong link gets a page it can read, with the
// way back, rather than the API's JSON. Paths under /api/ keep their JSON
// 404s, as do requests other than GET and HEAD: those come from programs.

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/web/ui"
)

// mountUI adds the UI's pages and assets to r.
func (s *Server) mountUI(r chi.Router) {
	d := ui.Deps{
		Authenticate: s.actor,
		Status:       httpStatus,
		Users:        s.users,
		Spaces:       s.spaces,
		Log:          s.log,
		Role:         s.roleName(),
		Location:     s.o.Location,
		Version:      s.o.Version,
		Locations:    s.spaces.Locations,
		UsingTOTP:    s.auth.UsingTOTP,
		Login: func(w http.ResponseWriter, r *http.Request, req shared.LoginRequest) (*shared.LoginResult, error) {
			return s.login(w, r, req, true)
		},
	}
	if s.origin != nil {
		d.Users = nil // a leaf's users come from the origin: no setup here
	}
	s.pages = ui.Mount(r, d)
}

// actor authenticates r and returns its actor.
func (s *Server) actor(r *http.Request) (*shared.Actor, error) {
	p, err := s.authenticate(r)
	if err != nil {
		return nil, err
	}
	return actorOf(p), nil
}

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
	s.pages.NotFound(w, r)
}
