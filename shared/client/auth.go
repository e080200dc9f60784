package client

import (
	"context"
	"net/http"

	"github.com/knot-dev/knot/shared/api"
)

// Auth logs in and out, and asks about the server: /api/auth*, /api/ping.
type Auth struct{ c *Client }

// Auth returns the calls of logging in and out.
func (c *Client) Auth() *Auth { return &Auth{c} }

// Login opens a session (POST /api/auth). Its token is the session secret
// to send as the Config's Token. A user who must enrol in TOTP first gets
// a 401 that Enrolment reads.
func (a *Auth) Login(ctx context.Context, req api.LoginRequest) (*api.Login, error) {
	var out api.Login
	return &out, a.c.Do(ctx, http.MethodPost, "/api/auth", req, &out)
}

// LoginWeb opens a session as the web UI does (POST /api/auth/web): the
// answer carries the CSRF token too, and the session cookie comes with it.
func (a *Auth) LoginWeb(ctx context.Context, req api.LoginRequest) (*api.Login, error) {
	var out api.Login
	return &out, a.c.Do(ctx, http.MethodPost, "/api/auth/web", req, &out)
}

// Logout ends the session the client's token is the secret of (POST
// /api/auth/logout).
func (a *Auth) Logout(ctx context.Context) error {
	return a.c.Do(ctx, http.MethodPost, "/api/auth/logout", nil, nil)
}

// UsingTOTP reports whether logins need a TOTP code (GET
// /api/auth/using-totp); it needs no token.
func (a *Auth) UsingTOTP(ctx context.Context) (bool, error) {
	var out api.UsingTOTP
	err := a.c.Do(ctx, http.MethodGet, "/api/auth/using-totp", nil, &out)
	return out.UsingTOTP, err
}

// Ping checks the token and returns the server's version (GET /api/ping).
func (a *Auth) Ping(ctx context.Context) (*api.Ping, error) {
	var out api.Ping
	return &out, a.c.Do(ctx, http.MethodGet, "/api/ping", nil, &out)
}

// ConnectToken redeems the one-time code of a browser login with the code
// verifier (POST /api/connect/token); it needs no token. The answer holds
// the new API token's secret.
func (a *Auth) ConnectToken(ctx context.Context, req api.ConnectTokenRequest) (*api.TokenCreated, error) {
	var out api.TokenCreated
	return &out, a.c.Do(ctx, http.MethodPost, "/api/connect/token", req, &out)
}
