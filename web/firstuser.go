package web

import (
	"net/http"

	"github.com/knot-dev/knot/shared/api"
)

// createFirstUser creates the first user, an active admin, while no user
// exists; the user service keeps two setups, of this server or of servers
// sharing one store, from both succeeding. Once a user exists it answers
// 401 before it reads the body. On a leaf, the origin creates the user
// while it has none.
func (s *Server) createFirstUser(w http.ResponseWriter, r *http.Request) error {
	need, err := s.users.NeedsSetup(r.Context())
	if err != nil {
		return err
	}
	if !need {
		return errNotAuthenticated
	}
	var req api.UserCreateRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	u, err := s.users.Setup(r.Context(), newUser(&req))
	if err != nil {
		return err
	}
	if s.origin == nil { // a leaf's origin made the user, and recorded it
		s.auditAs(r, u.Username, u.ID, "User Create", "first user "+u.Username+" created as admin", map[string]string{"created_user_id": u.ID})
	}
	writeJSON(w, http.StatusCreated, api.UserCreated{Status: true, UserID: u.ID})
	return nil
}
