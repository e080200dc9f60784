// Package crypt holds knot's secret handling: random tokens and their hashes,
// password hashing, constant-time comparison, and the AES-GCM sealing of
// protected template variables with server.encrypt.
package crypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// NewToken returns a new random secret: 32 bytes from crypto/rand, base64url
// without padding (43 characters). Used for API tokens, session ids, agent
// tokens and shared tokens.
func NewToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken returns the hex SHA-256 of a token secret. Stores keep only this
// hash; a token is found by the hash of what the client presents.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Equal compares two secrets in constant time (for equal lengths).
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// PasswordCost is the bcrypt cost used for new password hashes.
const PasswordCost = 10

// HashPassword returns a bcrypt hash of password. bcrypt reads at most 72
// bytes, so longer passwords are refused rather than silently truncated.
func HashPassword(password string) (string, error) {
	if len(password) > 72 {
		return "", errors.New("password is longer than 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), PasswordCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether password matches the bcrypt hash.
func CheckPassword(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// dummyHash is compared against when a login names an unknown account, so
// that the response takes as long as for a known one.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("knot-dummy-password"), PasswordCost)

// BurnPasswordCheck spends the time of one password check.
func BurnPasswordCheck(password string) {
	_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
}

const keyAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// GenerateKey returns a new key for server.encrypt: 32 random letters and
// digits, used as the 32 bytes of an AES-256 key.
func GenerateKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	for i := range b {
		b[i] = keyAlphabet[int(b[i])%len(keyAlphabet)]
	}
	return string(b)
}

// Sealer encrypts and decrypts values with AES-256-GCM.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for key, which must be 32 bytes (as made by
// GenerateKey).
func NewSealer(key string) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("encryption key must be 32 characters, not %d (make one with knot genkey)", len(key))
	}
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

const sealedPrefix = "sealed:v1:"

// Seal encrypts plaintext with a random nonce and returns
// "sealed:v1:" + base64(nonce || ciphertext).
func (s *Sealer) Seal(plaintext string) string {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	out := s.aead.Seal(nonce, nonce, []byte(plaintext), nil)
	return sealedPrefix + base64.StdEncoding.EncodeToString(out)
}

// Open decrypts a value made by Seal. It fails when the value was not sealed,
// was changed, or was sealed with another key.
func (s *Sealer) Open(sealed string) (string, error) {
	rest, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return "", errors.New("value is not sealed")
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return "", fmt.Errorf("sealed value is not base64: %w", err)
	}
	n := s.aead.NonceSize()
	if len(raw) < n+s.aead.Overhead() {
		return "", errors.New("sealed value is too short")
	}
	pt, err := s.aead.Open(nil, raw[:n], raw[n:], nil)
	if err != nil {
		return "", errors.New("sealed value does not open with this key")
	}
	return string(pt), nil
}

// IsSealed reports whether v looks like a value made by Seal.
func IsSealed(v string) bool { return strings.HasPrefix(v, sealedPrefix) }
