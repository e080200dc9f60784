package api

import (
	"encoding/base64"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
)

// LoginRequest is the body of POST /api/auth and POST /api/auth/web.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	TOTPCode string `json:"totp_code"` // needed when TOTP is on
}

// Login is the answer to a login: the session secret to send as a Bearer
// token, and for /api/auth/web the CSRF token its cookie carries.
type Login struct {
	Status    bool   `json:"status"`
	Token     string `json:"token"`
	CSRFToken string `json:"csrf_token,omitempty"`
}

// UsingTOTP is the answer of GET /api/auth/using-totp.
type UsingTOTP struct {
	UsingTOTP bool `json:"using_totp"`
}

// NewEnrolment returns the answer to a login that starts the enrolment en,
// with its URI as a QR code for an authenticator app to scan (none when it
// cannot be encoded). The code goes in this answer and never in a URL the
// browser requests: the secret stays out of links, logs and histories.
func NewEnrolment(en *shared.TOTPEnrolment) EnrolmentBody {
	return EnrolmentBody{Error: shared.EnrolMessage, TOTPSecret: en.Secret, TOTPURL: en.URI, TOTPQR: qrDataURL(en.URI)}
}

// qrDataURL returns uri as a QR code, a PNG in a data: URL; "" when it
// cannot be encoded.
func qrDataURL(uri string) string {
	png, err := crypt.TOTPQRCode(uri, 240)
	if err != nil {
		return ""
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
}
