package origin

import (
	"context"
	"strings"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

// This file holds the shared.TOTPService of an origin: a user moving their
// two-factor login to a new authenticator, and an admin making a user enrol
// again.
//
// A change is made in two steps, so that nothing changes for a user who
// abandons it. BeginTOTPChange checks the password (under the login
// limits) and a code of the current authenticator, and keeps the new
// secret sealed as TOTPState.Change for TOTPChangeTTL. ConfirmTOTPChange
// with a code of the new secret then moves it to User.TOTPSecret, which is
// replicated as any change of the user; from then on only the new
// authenticator's codes log in.

// TOTPChangeTTL is how long a new secret of BeginTOTPChange waits for the
// code that confirms it.
const TOTPChangeTTL = 10 * time.Minute

var _ shared.TOTPService = (*AuthService)(nil)

// BeginTOTPChange implements shared.TOTPService.
func (s *AuthService) BeginTOTPChange(ctx context.Context, password, code string) (*shared.TOTPEnrolment, error) {
	u, err := s.totpUser(ctx)
	if err != nil {
		return nil, err
	}
	if password == "" {
		return nil, invalid("current_password is required to change your authenticator")
	}
	code = normalCode(code)
	if u.TOTPSecret != "" {
		if _, err := checkCodeFormat(code); err != nil {
			return nil, invalid("totp_code must be the 6 digits your current authenticator app shows")
		}
	}
	ctx = writeContext(ctx)
	attempt, err := s.opts.Logins.Begin(ctx, u.Email, callerAddr(ctx), func(f Refusal) { s.record(ctx, f.AuditEvent(u.Email)) })
	if err != nil {
		return nil, err
	}
	defer attempt.End()
	if len(password) > 1024 || !attempt.Check(u.PasswordHash, password) {
		s.audit(ctx, u.Username, u.ID, "TOTP Change Refused", "wrong current password for a change of "+u.Username+"'s authenticator")
		return nil, forbidden("current_password is not your password")
	}
	if u.TOTPSecret != "" {
		secret, err := s.opts.Sealer.Open(u.TOTPSecret)
		if err != nil {
			return nil, shared.Wrap(shared.EINTERNAL, err, "open the TOTP secret of user %s", u.ID)
		}
		ok, err := s.useCode(ctx, u.ID, u.TOTPSecret, secret, code)
		if err != nil {
			return nil, err
		}
		if !ok {
			s.audit(ctx, u.Username, u.ID, "TOTP Change Refused", "wrong or reused code of "+u.Username+"'s current authenticator")
			return nil, forbidden("totp_code is not a code your current authenticator app shows now, or it was used already: wait for the next one")
		}
	}
	attempt.Succeed()
	secret, uri, err := crypt.NewTOTPKey(s.totpIssuer(), u.Email)
	if err != nil {
		return nil, shared.Wrap(shared.EINTERNAL, err, "make a TOTP secret")
	}
	expires := s.opts.Now().Add(TOTPChangeTTL).UTC()
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		st, err := totpStateIn(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		st.Change, st.ChangeExpires = s.opts.Sealer.Seal(secret), expires
		return s.putTOTPStateIn(ctx, tx, st)
	})
	if err != nil {
		return nil, err
	}
	s.audit(ctx, u.Username, u.ID, "TOTP Change Started", "new two-factor secret issued to "+u.Username+", to be confirmed with a code of it")
	return &shared.TOTPEnrolment{Secret: secret, URI: uri, Expires: expires}, nil
}

// ConfirmTOTPChange implements shared.TOTPService.
func (s *AuthService) ConfirmTOTPChange(ctx context.Context, code string) error {
	u, err := s.totpUser(ctx)
	if err != nil {
		return err
	}
	code = normalCode(code)
	if _, err := checkCodeFormat(code); err != nil {
		return invalid("totp_code must be the 6 digits your new authenticator app shows")
	}
	ctx = writeContext(ctx)
	st, err := s.totpState(ctx, u.ID)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	secret, err := s.opts.Sealer.Open(st.Change)
	if st.Change == "" || !now.Before(st.ChangeExpires) || err != nil {
		return invalid("no change of authenticator is in progress (a new secret waits %v for its first code): start again with your password and a code of your current authenticator", TOTPChangeTTL)
	}
	step, ok := crypt.MatchTOTP(secret, code, now, s.opts.TOTP.Window, 0)
	if !ok {
		s.audit(ctx, u.Username, u.ID, "TOTP Change Refused", "wrong code of "+u.Username+"'s new authenticator")
		return forbidden("totp_code is not a code of the new secret: enter the code your authenticator app shows now for the secret just added")
	}
	sealed := st.Change
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		st, err := totpStateIn(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if st.Change != sealed {
			return shared.Errorf(shared.ECONFLICT, "the change of authenticator was restarted meanwhile: confirm it with a code of the newest secret")
		}
		cur, err := get[shared.User](ctx, tx, u.ID, userNotFound(u.ID))
		if err != nil {
			return err
		}
		n := *cur
		n.TOTPSecret, n.TOTPLastStep, n.UpdatedAt = sealed, step, now.UTC()
		if err := tx.Put(ctx, &n); err != nil {
			return err
		}
		st.Change, st.ChangeExpires = "", time.Time{}
		st.SecretHash, st.LastStep = crypt.HashToken(sealed), step
		return s.putTOTPStateIn(ctx, tx, st)
	})
	if err != nil {
		return err
	}
	s.audit(ctx, u.Username, u.ID, "TOTP Changed", "two-factor login of "+u.Username+" moved to a new authenticator")
	return nil
}

// ResetTOTP implements shared.TOTPService.
func (s *AuthService) ResetTOTP(ctx context.Context, id string) (*shared.User, error) {
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.Needs(shared.PermManageUsers); err != nil {
		return nil, err
	}
	ctx = writeContext(ctx)
	var out *shared.User
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		cur, err := get[shared.User](ctx, tx, id, userNotFound(id))
		if err != nil {
			return err
		}
		n := *cur
		n.TOTPSecret, n.TOTPLastStep, n.UpdatedAt = "", 0, s.opts.Now().UTC()
		// A reset is judged as a change of the TOTP even when the user has
		// no secret: it ends their enrolment in progress too.
		judged := *cur
		judged.TOTPSecret += "reset"
		if err := JudgeChange(ctx, a, Change{UserBefore: &judged, UserAfter: &n}, RoleOf(tx)); err != nil {
			return err
		}
		if err := tx.Put(ctx, &n); err != nil {
			return err
		}
		out = &n
		if err := tx.Delete(ctx, shared.KindTOTP, id); err != nil && !isCode(err, shared.ENOTFOUND) {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.record(ctx, &shared.AuditEvent{Actor: a.User.Username, Event: "TOTP Reset",
		Details:    "two-factor login of " + out.Username + " reset: a new secret is issued at their next login",
		Properties: map[string]string{"user_id": a.User.ID, "reset_user_id": out.ID}})
	return out, nil
}

// totpUser returns the actor of ctx as stored, or EINVALID when this server
// does not use TOTP.
func (s *AuthService) totpUser(ctx context.Context) (*shared.User, error) {
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return nil, err
	}
	if s.opts.TOTP == nil {
		return nil, invalid("two-factor login is off at this server (server.totp.enabled): there is no authenticator to change")
	}
	return get[shared.User](ctx, s.store, a.User.ID, userNotFound(a.User.ID))
}

// totpStateIn is totpState read in r.
func totpStateIn(ctx context.Context, r storage.Reader, id string) (*shared.TOTPState, error) {
	st, err := storage.Get[shared.TOTPState](ctx, r, id)
	if isCode(err, shared.ENOTFOUND) {
		return &shared.TOTPState{Meta: shared.Meta{ID: id}}, nil
	}
	return st, err
}

// putTOTPStateIn is putTOTPState in tx.
func (s *AuthService) putTOTPStateIn(ctx context.Context, tx storage.Tx, st *shared.TOTPState) error {
	now := s.opts.Now().UTC()
	if st.CreatedAt.IsZero() {
		st.CreatedAt = now
	}
	st.UpdatedAt = now
	return tx.Put(ctx, st)
}

// normalCode returns code without spaces.
func normalCode(code string) string {
	return strings.ReplaceAll(strings.TrimSpace(code), " ", "")
}

// callerAddr is the address the caller's request came from, the last of
// the credential's X-Forwarded-For chain, for the login limits.
func callerAddr(ctx context.Context) string {
	cred, _ := shared.CredentialFrom(ctx)
	chain := strings.Split(cred.ForwardedFor, ",")
	return strings.TrimSpace(chain[len(chain)-1])
}
