package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared/api"
)

// A user lists their own login sessions at this server and ends them (the
// account page); nobody sees or ends another user's sessions here.

// handleListSessions serves GET /api/sessions: the caller's sessions at
// this server, newest first, the one of the request marked current.
func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request, p *principal) error {
	sessions, err := s.auth.OwnSessions(r.Context())
	if err != nil {
		return err
	}
	out := make([]api.Session, 0, len(sessions))
	for _, se := range sessions {
		out = append(out, api.Session{ID: se.ID, IP: se.IP, UserAgent: se.UserAgent, CreatedAt: se.CreatedAt,
			LastUsedAt: se.LastUsedAt, ExpiresAt: se.ExpiresAt, Current: p.sessionID != "" && se.SessionID == p.sessionID})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleDeleteSession serves DELETE /api/sessions/{session_id}: ends one of
// the caller's sessions, which is refused (401) from then on.
// On a leaf, the session the leaf opened at the origin for it ends too.
func (s *Server) handleDeleteSession(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := s.auth.EndOwnSession(withRequest(r), chi.URLParam(r, "session_id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, okResp)
	return nil
}
