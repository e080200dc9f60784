package client

import (
	"context"
	"net/http"

	"github.com/knot-dev/knot/shared/api"
)

// BeginTOTPChange asks for a new TOTP secret for the caller's account (POST
// /api/auth/totp/change), to be confirmed by ConfirmTOTPChange with a code
// of it; until then the old one keeps working.
func (a *Auth) BeginTOTPChange(ctx context.Context, req api.TOTPChangeRequest) (*api.TOTPChange, error) {
	var out api.TOTPChange
	return &out, a.c.Do(ctx, http.MethodPost, "/api/auth/totp/change", req, &out)
}

// ConfirmTOTPChange makes the pending secret the caller's with a code of it
// (POST /api/auth/totp/confirm).
func (a *Auth) ConfirmTOTPChange(ctx context.Context, code string) error {
	return a.c.Do(ctx, http.MethodPost, "/api/auth/totp/confirm", api.TOTPConfirmRequest{TOTPCode: code}, nil)
}

// ResetTOTP forgets a user's TOTP secret, so that they enrol again at their
// next login (DELETE /api/users/{user_id}/totp).
func (u *Users) ResetTOTP(ctx context.Context, id string) error {
	return u.c.Do(ctx, http.MethodDelete, "/api/users/"+esc(id)+"/totp", nil, nil)
}
