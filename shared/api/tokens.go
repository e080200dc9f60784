package api

import (
	"time"

	"github.com/knot-dev/knot/shared"
)

// Token is an API token as GET /api/tokens lists it; the secret is shown
// only once, in TokenCreated.
type Token struct {
	ID        string     `json:"token_id"`
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Expired   bool       `json:"expired"`
	CreatedAt time.Time  `json:"created_at"`
}

// TokenCreateRequest is the body of POST /api/tokens.
type TokenCreateRequest struct {
	Name      string `json:"name"`
	ExpiresAt string `json:"expires_at"` // RFC 3339; "": never
}

// TokenCreated is the answer of POST /api/tokens.
type TokenCreated struct {
	Status  bool   `json:"status"`
	TokenID string `json:"token_id"`
	Token   string `json:"token"`
}

// NewTokens returns the tokens of p as GET /api/tokens shows them at now.
func NewTokens(p shared.Page[*shared.Token], now time.Time) []Token {
	return mapped(p.Items, func(t *shared.Token) Token {
		return Token{ID: t.ID, Name: t.Name, ExpiresAt: timePtr(t.ExpiresAt), CreatedAt: t.CreatedAt, Expired: t.Expired(now)}
	})
}

// Expiry returns when the token r creates expires: the zero time for
// never. The token service checks that it is in the future.
func (r *TokenCreateRequest) Expiry() (time.Time, error) {
	if r.ExpiresAt == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, r.ExpiresAt)
	if err != nil {
		return time.Time{}, invalid("expires_at must be an RFC 3339 time such as 2030-01-02T15:04:05Z, not %s", shared.Quote(cut(r.ExpiresAt, 64)))
	}
	return t.UTC(), nil
}

// cut returns at most the first n bytes of s.
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
