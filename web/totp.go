package web

import (
	"errors"
	"net/http"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// Two-factor login with TOTP is on when the auth service was made with
// origin.AuthOptions.TOTP; it enrols users and checks their codes
// (package origin, totp.go).

// writeLoginError writes the error of a login: the secret of a new
// enrolment with its message, or any other error as writeError does.
func (s *Server) writeLoginError(w http.ResponseWriter, r *http.Request, err error) {
	var en *shared.TOTPEnrolment
	if errors.As(err, &en) {
		writeJSON(w, http.StatusUnauthorized, api.EnrolmentBody{Error: shared.EnrolMessage, TOTPSecret: en.Secret, TOTPURL: en.URI,
			TOTPQR: qrDataURL(en.URI)})
		return
	}
	s.writeError(w, r, err)
}

// handleUsingTOTP serves GET /api/auth/using-totp: whether logins here need
// a code, so that a login form knows to ask for one.
func (s *Server) handleUsingTOTP(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.UsingTOTP{UsingTOTP: s.auth.UsingTOTP()})
}
