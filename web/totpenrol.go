package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// A user moves their two-factor login to a new authenticator in two steps,
// and an admin resets a user's: shared.TOTPService, which the auth service
// implements (package origin, totpenrol.go; a leaf forwards to the origin).

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
func (s *Server) handleBeginTOTPChange(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.TOTPChangeRequest
	t, err := s.totp()
	if err == nil {
		err = decodeRequest(w, r, &req)
	}
	if err != nil {
		return err
	}
	en, err := t.BeginTOTPChange(r.Context(), req.CurrentPassword, req.TOTPCode)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.TOTPChange{TOTPSecret: en.Secret, TOTPURL: en.URI, TOTPQR: qrDataURL(en.URI), ExpiresAt: en.Expires})
	return nil
}

// handleConfirmTOTPChange serves POST /api/auth/totp/confirm.
func (s *Server) handleConfirmTOTPChange(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req api.TOTPConfirmRequest
	t, err := s.totp()
	if err == nil {
		err = decodeRequest(w, r, &req)
	}
	if err == nil {
		err = t.ConfirmTOTPChange(r.Context(), req.TOTPCode)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// handleResetTOTP serves DELETE /api/users/{user_id}/totp.
func (s *Server) handleResetTOTP(w http.ResponseWriter, r *http.Request, p *principal) error {
	t, err := s.totp()
	if err == nil {
		_, err = t.ResetTOTP(r.Context(), chi.URLParam(r, "user_id"))
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, okResp)
	return nil
}
