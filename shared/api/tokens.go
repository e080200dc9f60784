package api

import "time"

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
