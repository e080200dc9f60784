// Package tlsconf builds the TLS configurations of knot's listeners and of
// the clients that reach them: the server side from a certificate and key
// file, or from a self-signed certificate it makes once and keeps in a
// directory; the client side verifying the server by the system's roots, by
// a CA file, or by a pinned SHA-256 fingerprint of the server's certificate.
//
// Decisions:
//
//   - A fingerprint is the SHA-256 of the certificate's DER bytes, written as
//     openssl x509 -fingerprint -sha256 writes it: upper-case hex pairs
//     joined by colons. ParseFingerprint also takes plain hex in either case.
//   - A pinned fingerprint is checked against the certificate the server
//     presents (the leaf of its chain, never a CA of it), in
//     tls.Config.VerifyConnection. With a pin and no CA file the chain and
//     host name are not checked: the pin names the one certificate accepted.
//     With both, the chain must verify against the CA file and the leaf must
//     match the pin.
//   - A CA file replaces the system roots; it does not add to them.
//   - The self-signed certificate is ECDSA P-256, valid for ten years, for
//     the host names and addresses it is asked for. It is kept and served
//     again on the next start, so a pinned fingerprint stays valid; it is
//     made anew only when it is missing, unreadable, expires within 30
//     days, or does not cover a host it is asked for (the last not when
//     its clients only pin it: ServerOptions.PinnedOnly).
//   - Both sides speak TLS 1.2 or later.
package tlsconf

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Fingerprint returns the SHA-256 fingerprint of a certificate's DER bytes
// as upper-case hex pairs joined by colons.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return formatFingerprint(sum[:])
}

func formatFingerprint(sum []byte) string {
	h := strings.ToUpper(hex.EncodeToString(sum))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// ParseFingerprint checks a SHA-256 fingerprint given as 64 hex digits, with
// or without colons between the pairs, in either case, and returns it as
// Fingerprint writes it.
func ParseFingerprint(s string) (string, error) {
	t := strings.TrimSpace(s)
	if strings.Contains(t, ":") {
		parts := strings.Split(t, ":")
		for _, p := range parts {
			if len(p) != 2 {
				return "", errors.New("must be a SHA-256 fingerprint: 32 hex pairs, with or without colons between them")
			}
		}
		t = strings.Join(parts, "")
	}
	sum, err := hex.DecodeString(t)
	if err != nil || len(sum) != sha256.Size {
		return "", errors.New("must be a SHA-256 fingerprint: 32 hex pairs, with or without colons between them")
	}
	return formatFingerprint(sum), nil
}

// FingerprintError is the refusal of a server whose certificate does not
// have the pinned fingerprint.
type FingerprintError struct {
	// Want is the pinned fingerprint, Got the presented certificate's.
	Want, Got string
}

func (e *FingerprintError) Error() string {
	return fmt.Sprintf("the server's certificate has the SHA-256 fingerprint %s, not the pinned %s", e.Got, e.Want)
}

// ClientOptions says how a client verifies the server. The zero value
// verifies it by the system's roots and its host name.
type ClientOptions struct {
	// CAFile names a PEM file of the certificates to trust in place of the
	// system's roots; "" means the system's roots.
	CAFile string
	// Fingerprint pins the SHA-256 fingerprint of the server's certificate
	// (see ParseFingerprint); "" pins nothing.
	Fingerprint string
	// SkipVerify accepts any certificate. It excludes CAFile and
	// Fingerprint.
	SkipVerify bool
}

// Client returns the TLS configuration of a client. Its errors say which
// option is wrong and why.
func Client(o ClientOptions) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.SkipVerify {
		if o.CAFile != "" || o.Fingerprint != "" {
			return nil, errors.New("skipping verification excludes a CA file and a pinned fingerprint")
		}
		c.InsecureSkipVerify = true
		return c, nil
	}
	if o.CAFile != "" {
		pool, err := LoadCAFile(o.CAFile)
		if err != nil {
			return nil, err
		}
		c.RootCAs = pool
	}
	if o.Fingerprint != "" {
		want, err := ParseFingerprint(o.Fingerprint)
		if err != nil {
			return nil, fmt.Errorf("fingerprint %q %v", o.Fingerprint, err)
		}
		if o.CAFile == "" {
			// The pin replaces the chain and host name checks.
			c.InsecureSkipVerify = true
		}
		c.VerifyConnection = Pin(want)
	}
	return c, nil
}

// Pin returns a tls.Config.VerifyConnection function that accepts only a
// server whose certificate (the first of the chain it presents) has the
// fingerprint want, as Fingerprint writes it. Any other is refused with a
// *FingerprintError.
func Pin(want string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the server presented no certificate")
		}
		got := Fingerprint(cs.PeerCertificates[0].Raw)
		if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			return &FingerprintError{Want: want, Got: got}
		}
		return nil
	}
}

// LoadCAFile reads the PEM certificates of file into a pool.
func LoadCAFile(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("the CA file %s holds no PEM certificate", file)
	}
	return pool, nil
}
