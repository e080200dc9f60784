package shared

import (
	"context"
	"time"
)

// TOTPState is what one server keeps of a user's TOTP logins; its ID is the
// user's. It is not replicated: a leaf remembers the codes used at it, and
// an origin keeps the enrolment in progress. The active secret itself is
// User.TOTPSecret, sealed with server.encrypt, which the origin replicates
// to trusted leaves only, with User.TOTPLastStep, the step of the last code
// the origin accepted.
type TOTPState struct {
	Meta
	// Pending is the sealed secret of an enrolment the user has not yet
	// confirmed with a code; "" when none is in progress.
	Pending string `json:"pending,omitempty"`
	// SecretHash is the hex SHA-256 of the sealed secret LastStep belongs
	// to: a new secret starts with no step used.
	SecretHash string `json:"secret_hash,omitempty"`
	// LastStep is the last time step whose code logged in at this leaf
	// (an origin keeps it in User.TOTPLastStep): that code and every older
	// one are refused.
	LastStep int64 `json:"last_step"`
	// Change is the sealed new secret of a user who is moving to another
	// authenticator (TOTPService.BeginTOTPChange) and has not confirmed it
	// with a code of the new one; "" when no change is in progress. It
	// replaces User.TOTPSecret only when confirmed before ChangeExpires.
	Change        string    `json:"change,omitempty"`
	ChangeExpires time.Time `json:"change_expires,omitzero"`
}

func (*TOTPState) RecordKind() Kind     { return KindTOTP }
func (*TOTPState) UniqueKeys() []string { return nil }

// TOTPService moves a user's two-factor login to a new authenticator and
// lets an admin make a user enrol again. An origin implements it over its
// store; a leaf forwards each call to the origin as the caller (EUNAVAILABLE
// at once while the origin is down). Every call is audited.
type TOTPService interface {
	// BeginTOTPChange issues a new TOTP secret to the actor of ctx, who
	// proves who they are with their current password and, when they have
	// an authenticator already, a current code of it. The new secret is
	// kept pending, sealed, until ConfirmTOTPChange, and forgotten unless
	// confirmed before the returned enrolment's Expires: the old secret
	// keeps working meanwhile. EINVALID when the server does not use TOTP
	// or the password or code is missing or malformed; EFORBIDDEN for a
	// wrong password or code; ERATELIMIT as a login's.
	BeginTOTPChange(ctx context.Context, password, code string) (*TOTPEnrolment, error)

	// ConfirmTOTPChange makes the pending secret of the actor of ctx theirs
	// when code is a current code of it: the old secret no longer logs
	// in. EINVALID for a missing or malformed code, or when no change is
	// pending (never begun, confirmed already, or expired); EFORBIDDEN for
	// a wrong code.
	ConfirmTOTPChange(ctx context.Context, code string) error

	// ResetTOTP forgets the TOTP secret of the user with id, and any
	// change in progress: the user is issued a new secret at their next
	// password login at the origin, as a new user is. It needs Manage Users
	// and passes the grant rules (an admin's TOTP only an Admin may reset).
	// EFORBIDDEN, ENOTFOUND as UserService.Update.
	ResetTOTP(ctx context.Context, id string) (*User, error)
}
