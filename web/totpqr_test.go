package web_test

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared/crypt"
)

// TestTOTPEnrolmentHasQRCode checks that the login starting an enrolment
// gives the otpauth URI as a QR code too: a PNG in a data: URL, of that URI
// and no other.
func TestTOTPEnrolmentHasQRCode(t *testing.T) {
	e := newEnv(t, withTOTP)
	e.user("ann")
	r := e.do("POST", "/api/auth", "", loginBody("ann@example.com", ""))
	startEnrolment(t, r)
	var en struct {
		TOTPSecret string `json:"totp_secret"`
		TOTPURL    string `json:"totp_url"`
		TOTPQR     string `json:"totp_qr"`
	}
	r.decode(t, &en)
	const prefix = "data:image/png;base64,"
	if !strings.HasPrefix(en.TOTPQR, prefix) {
		t.Fatalf("totp_qr is %.40q…, want a PNG data URL", en.TOTPQR)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(en.TOTPQR, prefix))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("totp_qr is no PNG: %v", err)
	}
	if s := img.Bounds().Size(); s.X != 240 || s.Y != 240 {
		t.Errorf("QR code is %v pixels", s)
	}
	want, err := crypt.TOTPQRCode(en.TOTPURL, 240)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("totp_qr is not the QR code of totp_url")
	}
	other, err := crypt.TOTPQRCode(strings.Replace(en.TOTPURL, en.TOTPSecret, "JBSWY3DPEHPK3PXP", 1), 240)
	if err != nil || bytes.Equal(b, other) {
		t.Errorf("the QR code of another secret is the same (%v)", err)
	}
}
