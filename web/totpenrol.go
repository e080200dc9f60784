package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// A user moves their two-factor login to a new authenticator in two steps,
// and an admin resets a user's: shared.TOTPService, which the auth service
// implements (package origin, totpenrol.go; a leaf forwards to the origin),
// and which records each step in the audit log.

// totp returns the TOTP service of s.
func (s *Server) totp() (shared.TOTPService, error) {
	t, ok := s.auth.(shared.TOTPService)
	if !ok {
		return nil, shared.Errorf(shared.EUNAVAILABLE, "this server cannot change two-factor login")
	}
	return t, nil
}

// handleBeginTOTPChange serves POST /api/auth/totp/change: a new secret,
// with its QR code, pending until confirmed.
func (s *Server) handleBeginTOTPChange(r *http.Request, _ *principal, req *api.TOTPChangeRequest) (api.TOTPChange, error) {
	t, err := s.totp()
	if err != nil {
		return api.TOTPChange{}, err
	}
	en, err := t.BeginTOTPChange(r.Context(), req.CurrentPassword, req.TOTPCode)
	if err != nil {
		return api.TOTPChange{}, err
	}
	return api.NewTOTPChange(en), nil
}

func (s *Server) handleConfirmTOTPChange(r *http.Request, _ *principal, req *api.TOTPConfirmRequest) (api.OK, error) {
	t, err := s.totp()
	if err == nil {
		err = t.ConfirmTOTPChange(r.Context(), req.TOTPCode)
	}
	return okResp, err
}

func (s *Server) handleResetTOTP(r *http.Request, _ *principal) (api.OK, error) {
	t, err := s.totp()
	if err == nil {
		_, err = t.ResetTOTP(r.Context(), chi.URLParam(r, "user_id"))
	}
	return okResp, err
}
