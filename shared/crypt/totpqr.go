package crypt

import (
	"bytes"
	"image/png"

	"github.com/pquerna/otp"
)

// TOTPQRCode returns the otpauth:// URI of a TOTP secret as a QR code, a
// PNG size pixels square, for an authenticator app to scan. The encoder is
// the one package otp brings (github.com/boombuler/barcode): no other is
// needed.
func TOTPQRCode(uri string, size int) ([]byte, error) {
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return nil, err
	}
	img, err := key.Image(size, size)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
