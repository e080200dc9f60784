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
		out := Token{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, Expired: t.Expired(now)}
		if !t.ExpiresAt.IsZero() {
			out.ExpiresAt = &t.ExpiresAt
		}
		return out
	})
}
