package crypt_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared/crypt"
)

// rfcSecret is the SHA-1 key of RFC 6238's test vectors, "12345678901234567890", in base32.
const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

func TestTOTPCodesAreRFC6238s(t *testing.T) {
	// RFC 6238, Appendix B, SHA-1, the last 6 of the 8 digits.
	for _, tt := range []struct {
		unix int64
		code string
	}{{59, "287082"}, {1111111109, "081804"}, {1234567890, "005924"}, {2000000000, "279037"}} {
		got, err := crypt.TOTPCode(rfcSecret, crypt.TOTPStep(time.Unix(tt.unix, 0)))
		if err != nil || got != tt.code {
			t.Errorf("code at %d = %q, %v, want %s", tt.unix, got, err, tt.code)
		}
	}
}

func TestMatchTOTP(t *testing.T) {
	now := time.Unix(1234567890, 0)
	step := crypt.TOTPStep(now)
	code := func(s int64) string {
		c, err := crypt.TOTPCode(rfcSecret, s)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name     string
		code     string
		window   int
		after    int64
		wantStep int64
		ok       bool
	}{
		{"Current", code(step), 1, 0, step, true},
		{"PreviousWithinWindow", code(step - 1), 1, 0, step - 1, true},
		{"NextWithinWindow", code(step + 1), 1, 0, step + 1, true},
		{"OutsideWindow", code(step - 2), 1, 0, 0, false},
		{"WindowZeroTakesTheCurrentOnly", code(step - 1), 0, 0, 0, false},
		{"UsedStepIsRefused", code(step), 1, step, 0, false},
		{"OlderThanUsedIsRefused", code(step - 1), 1, step, 0, false},
		{"NewerThanUsedIsTaken", code(step + 1), 1, step, step + 1, true},
		{"Malformed", "12345", 1, 0, 0, false},
		{"Empty", "", 1, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := crypt.MatchTOTP(rfcSecret, tt.code, now, tt.window, tt.after)
			if ok != tt.ok || got != tt.wantStep {
				t.Fatalf("MatchTOTP = %d, %v, want %d, %v", got, ok, tt.wantStep, tt.ok)
			}
		})
	}
}

func TestNewTOTPKey(t *testing.T) {
	secret, uri, err := crypt.NewTOTPKey("Knot", "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != 32 { // 20 random bytes in base32
		t.Fatalf("secret %q", secret)
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("secret") != secret || u.Query().Get("period") != "30" || u.Query().Get("digits") != "6" {
		t.Fatalf("uri %q", uri)
	}
	if other, _, _ := crypt.NewTOTPKey("Knot", "ann@example.com"); other == secret {
		t.Fatal("two keys share a secret")
	}
}
