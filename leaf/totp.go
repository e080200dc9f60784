package leaf

import (
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
)

// A change of a user's TOTP secret is a write of origin-owned data: a leaf
// makes it at the origin as the caller, and hears of the new secret (or
// its reset) through replication.

var _ shared.TOTPService = (*AuthService)(nil)

// BeginTOTPChange implements shared.TOTPService at the origin.
func (s *AuthService) BeginTOTPChange(ctx context.Context, password, code string) (*shared.TOTPEnrolment, error) {
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.TOTPChange, error) {
		return c.Auth().BeginTOTPChange(ctx, api.TOTPChangeRequest{CurrentPassword: password, TOTPCode: code})
	})
	if err != nil {
		return nil, err
	}
	return &shared.TOTPEnrolment{Secret: got.TOTPSecret, URI: got.TOTPURL, Expires: got.ExpiresAt}, nil
}

// ConfirmTOTPChange implements shared.TOTPService at the origin.
func (s *AuthService) ConfirmTOTPChange(ctx context.Context, code string) error {
	_, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (struct{}, error) {
		return struct{}{}, c.Auth().ConfirmTOTPChange(ctx, code)
	})
	return err
}

// ResetTOTP implements shared.TOTPService at the origin, and returns the
// user as the origin answers after the reset.
func (s *AuthService) ResetTOTP(ctx context.Context, id string) (*shared.User, error) {
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.User, error) {
		if err := c.Users().ResetTOTP(ctx, id); err != nil {
			return nil, err
		}
		return c.Users().Get(ctx, id)
	})
	if err != nil {
		return nil, err
	}
	return userOf(got), nil
}
