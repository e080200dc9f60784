package shared

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// The browser login of the CLI (knot connect --use-web-auth), in the
// manner of OAuth's authorization code with PKCE (RFC 7636, S256) for a
// native app that listens on a loopback port (RFC 8252):
//
//  1. The CLI listens on 127.0.0.1:PORT, draws a random state and a code
//     verifier, and opens the web UI's page /connect with the port, the
//     state, the challenge (the verifier's SHA-256, base64url) and its
//     host name.
//  2. A logged-in user approves there; the server keeps a one-time code
//     bound to the user, the login session and the challenge, and sends the
//     browser to http://127.0.0.1:PORT/callback?code=CODE&state=STATE.
//  3. The CLI checks the state and posts the code with its verifier; the
//     server checks both, creates an API token for the user and answers
//     with its secret, which never appears in a URL or a page.

// ConnectCodeTTL is how long a code of the browser login works.
const ConnectCodeTTL = 2 * time.Minute

// ConnectTokenLifetime is how long the API token of a browser login works:
// as long as the default of the web UI's token form and of knot connect.
const ConnectTokenLifetime = 90 * 24 * time.Hour

// ConnectTokenName returns the name of the API token a browser login of the
// CLI on host creates.
func ConnectTokenName(host string) string { return "knot connect " + host }

// ConnectRequest is what the CLI asks the page /connect for.
type ConnectRequest struct {
	Port      int    // the CLI's loopback port
	State     string // echoed to the CLI with the code
	Challenge string // base64url(SHA-256(verifier)), without padding
	Host      string // the host name the CLI says it runs on
}

// Check validates r: EINVALID naming the field that is wrong.
func (r ConnectRequest) Check() error {
	if r.Port < 1 || r.Port > 65535 {
		return Errorf(EINVALID, "port must be the CLI's port on 127.0.0.1, 1 to 65535, not %d", r.Port)
	}
	if len(r.State) < 8 || len(r.State) > 128 || !unreserved(r.State) {
		return Errorf(EINVALID, "state must be 8 to 128 letters, digits or -._~ as knot connect makes it")
	}
	if err := CheckConnectChallenge(r.Challenge); err != nil {
		return err
	}
	if r.Host == "" {
		return Errorf(EINVALID, "host is required: the host name of the CLI that asks")
	}
	return CheckText("host", r.Host, 253)
}

// CheckConnectChallenge checks an S256 code challenge: the unpadded
// base64url form of a SHA-256 digest, 43 characters.
func CheckConnectChallenge(c string) error {
	if len(c) != 43 || strings.ContainsAny(c, ".~") || !unreserved(c) {
		return Errorf(EINVALID, "challenge must be the S256 code challenge: 43 base64url characters (the SHA-256 of the code verifier)")
	}
	return nil
}

// CheckConnectVerifier checks a code verifier: 43 to 128 letters, digits
// or -._~ (RFC 7636, 4.1).
func CheckConnectVerifier(v string) error {
	if len(v) < 43 || len(v) > 128 || !unreserved(v) {
		return Errorf(EINVALID, "code_verifier must be 43 to 128 letters, digits or -._~ (RFC 7636)")
	}
	return nil
}

// unreserved reports whether s holds only URL-unreserved characters.
func unreserved(s string) bool {
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// ConnectChallenge returns the S256 challenge of verifier:
// base64url(SHA-256(verifier)) without padding.
func ConnectChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Redirect is where the browser that approved r goes with code: the CLI's
// callback on 127.0.0.1.
func (r ConnectRequest) Redirect(code string) string {
	q := url.Values{"code": {code}, "state": {r.State}}
	return fmt.Sprintf("http://127.0.0.1:%d/callback?%s", r.Port, q.Encode())
}
