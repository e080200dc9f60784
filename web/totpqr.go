package web

import (
	"encoding/base64"

	"github.com/knot-dev/knot/shared/crypt"
)

// qrDataURL returns the otpauth:// URI of a new TOTP enrolment as a QR
// code, a PNG in a data: URL that the login page shows as an image for an
// authenticator app to scan; "" when it cannot be encoded. It goes in the
// enrolment's answer, beside the secret, and never in a URL the browser
// requests: the secret stays out of links, logs and histories.
func qrDataURL(uri string) string {
	png, err := crypt.TOTPQRCode(uri, 240)
	if err != nil {
		return ""
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
}
