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
func (s *Server) handleListLeaves(w http.ResponseWriter, r *http.Request, p *principal) error {
	nodes, err := s.fleet.Leaves(r.Context())
	if err != nil {
		return err
	}
	out := api.LeafList{Count: len(nodes), Leaves: make([]api.Leaf, 0, len(nodes))}
	for _, in := range nodes {
		out.Leaves = append(out.Leaves, api.Leaf{
			NodeID: in.NodeID, Location: in.Location, Version: in.Version, Protocol: in.Protocol,
			Runtimes: nonNil(in.Runtimes), Restricted: in.Restricted, Connected: in.Connected,
			ConnectedSince: timePtr(in.ConnectedSince), LastSeen: timePtr(in.LastSeen),
			RoundTripMillis: float64(in.RTT.Microseconds()) / 1000, AppliedRevision: in.Applied, Lag: in.Lag,
			EpochChanges: in.EpochChanges, PreviousEpoch: in.PreviousEpoch, EpochChangedAt: timePtr(in.EpochChangedAt),
		})
	}
	unseen, err := s.fleet.Unseen(r.Context(), nodes)
	if err != nil {
		return err
	}
	out.Unseen = make([]api.UnseenLocation, 0, len(unseen))
	for _, u := range unseen {
		out.Unseen = append(out.Unseen, api.UnseenLocation(u))
	}
	writeTaggedJSON(w, r, out)
	return nil
}

func (s *Server) newLeafTokenInfo(t *shared.LeafToken) api.LeafToken {
	return api.LeafToken{ID: t.ID, Location: t.Location, Name: t.Name, CreatedAt: t.CreatedAt,
		ExpiresAt: timePtr(t.ExpiresAt), Expired: t.Expired(s.now())}
}

// handleListLeafTokens serves GET /api/leaf-tokens.
func (s *Server) handleListLeafTokens(w http.ResponseWriter, r *http.Request, p *principal) error {
	all, err := s.fleet.LeafTokens(r.Context())
	if err != nil {
		return err
	}
	out := api.LeafTokenList{Count: len(all), Tokens: make([]api.LeafToken, 0, len(all))}
	for _, t := range all {
		out.Tokens = append(out.Tokens, s.newLeafTokenInfo(t))
	}
	writeTaggedJSON(w, r, out)
	return nil
}

// handleCreateLeafToken serves POST /api/leaf-tokens.
func (s *Server) handleCreateLeafToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.LeafTokenRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	t, secret, err := s.fleet.CreateLeafToken(r.Context(), req.Location, req.Name)
	if err != nil {
		return err
	}
	s.auditWrite(r, p, "Leaf Token Create", "leaf token for location "+t.Location+" created", map[string]string{"leaf_token_id": t.ID})
	writeJSON(w, http.StatusCreated, api.LeafTokenCreated{Status: true, LeafToken: s.newLeafTokenInfo(t), Token: secret})
	return nil
}

// handleDeleteLeafToken serves DELETE /api/leaf-tokens/{leaf_token_id}:
// the token stops working and the leaves using it are disconnected.
func (s *Server) handleDeleteLeafToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := chi.URLParam(r, "leaf_token_id")
	if err := s.fleet.DeleteLeafToken(r.Context(), id); err != nil {
		return err
	}
	s.auditWrite(r, p, "Leaf Token Revoke", "leaf token revoked", map[string]string{"leaf_token_id": id})
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handleRotateLeafToken serves POST /api/leaf-tokens/{leaf_token_id}/rotate:
// a new token for the same location; the old one works for the overlap.
func (s *Server) handleRotateLeafToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.LeafTokenRotateRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	id := chi.URLParam(r, "leaf_token_id")
	t, secret, err := s.fleet.RotateLeafToken(r.Context(), id, req.Overlap)
	if err != nil {
		return err
	}
	overlap, _ := shared.LeafTokenOverlap(req.Overlap) // the service took it
	s.auditWrite(r, p, "Leaf Token Rotate", "leaf token for location "+t.Location+" rotated with an overlap of "+overlap.String(),
		map[string]string{"leaf_token_id": t.ID, "old_leaf_token_id": id})
	writeJSON(w, http.StatusCreated, api.LeafTokenCreated{Status: true, LeafToken: s.newLeafTokenInfo(t), Token: secret})
	return nil
}

// handleLeafStatus serves GET /api/leaf/status on a leaf.
func (s *Server) handleLeafStatus(w http.ResponseWriter, r *http.Request, p *principal) error {
	st, err := s.fleet.Status(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.LeafStatus{
		Location: st.Location, OriginServer: st.OriginServer, OriginReachable: st.Connected, Reason: st.Reason,
		Since: timePtr(st.Since), NextAttempt: timePtr(st.NextAttempt), Protocol: st.Protocol, Restricted: st.Restricted,
		Epoch: st.Epoch, AppliedRevision: st.Applied, HeadRevision: st.Head, Lag: st.Lag, PendingReports: st.PendingReports,
		PreviousEpoch: st.PreviousEpoch, EpochChangedAt: timePtr(st.EpochChangedAt), ReplicaBackup: st.ReplicaBackup,
	})
	return nil
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
