package crypt

import (
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTPPeriod is the time step of knot's TOTP codes (RFC 6238): 30 seconds,
// with 6 digits and HMAC-SHA1, as every authenticator app expects.
const TOTPPeriod = 30 * time.Second

var totpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// NewTOTPKey makes a new random TOTP secret (20 bytes, base32) for account
// and returns it with its otpauth:// URI, which authenticator apps read.
func NewTOTPKey(issuer, account string) (secret, uri string, err error) {
	k, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, Period: uint(TOTPPeriod / time.Second),
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", "", err
	}
	return k.Secret(), k.URL(), nil
}

// TOTPStep returns the time step that t falls in.
func TOTPStep(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

// TOTPCode returns the code of secret for the time step step.
func TOTPCode(secret string, step int64) (string, error) {
	return hotp.GenerateCodeCustom(secret, uint64(step), totpOpts)
}

// MatchTOTP finds the time step whose code is code: the step of now, or one
// at most window steps before or after it, but never one at or below after
// (a step whose code was used already). It returns the step and true, or
// false when no such step has that code. Codes are compared in constant
// time.
func MatchTOTP(secret, code string, now time.Time, window int, after int64) (int64, bool) {
	cur := TOTPStep(now)
	found, ok := int64(0), false
	for step := cur - int64(window); step <= cur+int64(window); step++ {
		if step <= after || step < 0 {
			continue
		}
		// Every step is checked, so that the time taken does not tell
		// which one matched.
		if valid, err := hotp.ValidateCustom(code, uint64(step), secret, totpOpts); err == nil && valid && !ok {
			found, ok = step, true
		}
	}
	return found, ok
}
