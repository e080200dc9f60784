package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// The fleet view, leaf tokens, and what leaves ask the origin over HTTP;
// the leaf link and the relay channel are in relay.go.

// roleName returns "standalone", "origin" or "leaf".
func (s *Server) roleName() string {
	switch {
	case s.o.Hub != nil:
		return "origin"
	case s.origin != nil:
		return "leaf"
	}
	return "standalone"
}

// isAdmin reports whether p holds the built-in Admin role.
func isAdmin(p *principal) bool { return slices.Contains(p.user.Roles, shared.AdminRoleID) }

// bearer returns the bearer credential of r, "" when there is none.
func bearer(r *http.Request) string {
	scheme, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(secret)
}

// handleListLeaves serves GET /api/leaves: every leaf node connected to the
// origin, or disconnected for less than server.leaf_forget_after.
func (s *Server) handleListLeaves(r *http.Request, _ *principal) (api.LeafList, error) {
	nodes, err := s.fleet.Leaves(r.Context())
	if err != nil {
		return api.LeafList{}, err
	}
	unseen, err := s.fleet.Unseen(r.Context(), nodes)
	return api.NewLeafList(nodes, unseen), err
}

func (s *Server) handleListLeafTokens(r *http.Request, _ *principal) (api.LeafTokenList, error) {
	all, err := s.fleet.LeafTokens(r.Context())
	return api.NewLeafTokenList(all, s.now()), err
}

func (s *Server) handleCreateLeafToken(r *http.Request, _ *principal, req *api.LeafTokenRequest) (api.LeafTokenCreated, error) {
	t, secret, err := s.fleet.CreateLeafToken(r.Context(), req.Location, req.Name)
	return s.leafTokenCreated(t, secret, err)
}

// handleDeleteLeafToken serves DELETE /api/leaf-tokens/{leaf_token_id}:
// the token stops working and the leaves using it are disconnected.
func (s *Server) handleDeleteLeafToken(r *http.Request, _ *principal) (api.OK, error) {
	return okResp, s.fleet.DeleteLeafToken(r.Context(), chi.URLParam(r, "leaf_token_id"))
}

// handleRotateLeafToken serves POST /api/leaf-tokens/{leaf_token_id}/rotate:
// a new token for the same location; the old one works for the overlap.
func (s *Server) handleRotateLeafToken(r *http.Request, _ *principal, req *api.LeafTokenRotateRequest) (api.LeafTokenCreated, error) {
	t, secret, err := s.fleet.RotateLeafToken(r.Context(), chi.URLParam(r, "leaf_token_id"), req.Overlap)
	return s.leafTokenCreated(t, secret, err)
}

func (s *Server) leafTokenCreated(t *shared.LeafToken, secret string, err error) (api.LeafTokenCreated, error) {
	if err != nil {
		return api.LeafTokenCreated{}, err
	}
	return api.LeafTokenCreated{Status: true, LeafToken: api.NewLeafToken(t, s.now()), Token: secret}, nil
}

func (s *Server) handleLeafStatus(r *http.Request, _ *principal) (api.LeafStatus, error) {
	st, err := s.fleet.Status(r.Context())
	if err != nil {
		return api.LeafStatus{}, err
	}
	return api.NewLeafStatus(st), nil
}

// handleLeafRetry serves POST /api/leaf/retry: the leaf dials its origin
// now rather than at its next attempt.
func (s *Server) handleLeafRetry(r *http.Request, _ *principal) (api.LeafStatus, error) {
	st, err := s.fleet.RetryOrigin(r.Context())
	if err != nil {
		return api.LeafStatus{}, err
	}
	return api.NewLeafStatus(st), nil
}

// handleLeafUsage serves GET /api/leaf/usage?user_id=&location= to leaves,
// authenticated by their own credential: what the user's spaces at every
// other location than the leaf's use, for the leaf's quota checks.
func (s *Server) handleLeafUsage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	u, err := s.fleet.LeafUsage(r.Context(), bearer(r), q.Get("user_id"), q.Get("location"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.LeafUsage(u))
}
