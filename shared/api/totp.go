package api

import (
	"time"

	"github.com/knot-dev/knot/shared"
)

// TOTPChangeRequest is the body of POST /api/auth/totp/change: the proof
// that the caller may move their two-factor login to a new authenticator.
type TOTPChangeRequest struct {
	CurrentPassword string `json:"current_password"`
	// TOTPCode is a current code of the caller's authenticator; it may be
	// left out when they have none yet.
	TOTPCode string `json:"totp_code"`
}

// TOTPChange is the answer of POST /api/auth/totp/change: the new secret,
// pending until a code of it confirms it before ExpiresAt.
type TOTPChange struct {
	TOTPSecret string `json:"totp_secret"`
	TOTPURL    string `json:"totp_url"`
	// TOTPQR is TOTPURL as a QR code: a PNG in a data: URL.
	TOTPQR    string    `json:"totp_qr,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

// NewTOTPChange returns the answer that issues the pending secret of en,
// with its QR code as NewEnrolment's.
func NewTOTPChange(en *shared.TOTPEnrolment) TOTPChange {
	return TOTPChange{TOTPSecret: en.Secret, TOTPURL: en.URI, TOTPQR: qrDataURL(en.URI), ExpiresAt: en.Expires}
}

// TOTPConfirmRequest is the body of POST /api/auth/totp/confirm: a code of
// the new secret.
type TOTPConfirmRequest struct {
	TOTPCode string `json:"totp_code"`
}
