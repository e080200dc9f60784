package origin

import (
	"context"
	"strings"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

// This file holds two-factor login with TOTP (RFC 6238 codes of an
// authenticator app), on when AuthOptions.TOTP is set.
//
// Enrolment happens at the origin (or a standalone server), at the first
// password login of a user who has no secret: the login makes a secret,
// keeps it sealed as the pending enrolment of the user's TOTPState (a
// record of this server alone), and fails with a *shared.TOTPEnrolment
// that carries the secret and its otpauth:// URI. The next login with a
// valid code for that secret confirms it: the sealed secret moves to
// User.TOTPSecret, which the origin replicates (still sealed) to trusted
// leaves, and that login opens a session. A login without a code before
// then starts over with a new secret, so each secret is shown once and
// only to whoever knows the password. From then on every password login
// needs a valid code; a trusted leaf checks codes offline with the
// replicated secret, and a leaf sends a user who has none to the origin to
// enrol.
//
// A code logs in once (RFC 6238 §5.2): the time step of the last code
// used is remembered, and a code of that step or an older one is refused.
// The origin keeps the step in the user's record (User.TOTPLastStep),
// written in the transaction that checks the code, so of two logins racing
// with one code only one gets in, and the record replicates it to trusted
// leaves with the secret it belongs to. A leaf refuses the replicated step
// and every older one, and keeps the step of each code that logged in
// there in its own TOTPState (its store, not replicated; one record per
// user, kept across restarts), so a leaf never takes a code twice either.
// A login at a leaf logs in at the origin too while the origin is
// reachable, with the same code (package leaf): the origin records it, and
// the other leaves hear of it as of any change of the user.
//
// What no server can know: a code that logged in at leaf A can log in once
// more at leaf B, or at the origin, within its window (Window steps of 30
// s either side), when the origin is down or unreachable from A (A's use is
// then never reported, and the leaves do not talk to each other), or
// before the user's record with the step reaches B. And a code that logged
// in at the origin can log in once at a leaf that has not yet applied that
// change of the user; the leaf's own login at the origin with that code is
// then refused, so that session makes no writes there.
//
// A missing, malformed, wrong or reused code fails the login like a wrong
// password: EUNAUTHORIZED, an audit event, and a count against the login
// limits.

// TOTPOptions turns on two-factor login (server.totp.*).
type TOTPOptions struct {
	// Window is how many 30-second steps before and after the current one
	// a code may be from, for clocks that drift; 0 means the current step
	// only.
	Window int
	// Issuer names this service in authenticator apps; "" means "Knot".
	Issuer string
}

// secondFactor checks the TOTP code of the login of u, whose password was
// right. It returns nil when the login may go on. A failed check returns
// the reason for the audit log and the error to answer; the login then
// counts as failed. Any other error (an enrolment started, the origin's
// turn, a store failure) comes with no reason.
func (s *AuthService) secondFactor(ctx context.Context, u *shared.User, code string) (reason string, err error) {
	if s.opts.TOTP == nil {
		return "", nil
	}
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if u.TOTPSecret == "" {
		if s.opts.OriginURL != "" {
			return "", unauthorized("two-factor login is required and %s has no authenticator yet; that is set up at the origin %s: log in there once, then here with the code of your authenticator app",
				u.Email, s.opts.OriginURL)
		}
		return s.enrol(ctx, u, code)
	}
	if reason, err := checkCodeFormat(code); err != nil {
		return reason, err
	}
	secret, err := s.opts.Sealer.Open(u.TOTPSecret)
	if err != nil {
		return "", shared.Wrap(shared.EINTERNAL, err, "open the TOTP secret of user %s: is server.encrypt the same as the origin's? (knot admin reset-totp makes the user set up a new one)", u.ID)
	}
	ok, err := s.useCode(ctx, u.ID, u.TOTPSecret, secret, code)
	if err != nil {
		return "", err
	}
	if !ok {
		return "wrong or reused TOTP code", unauthorized("wrong two-factor code, or one used already: enter the code your authenticator app shows now (each code logs in once)")
	}
	return "", nil
}

// checkCodeFormat refuses a code that is missing or not 6 digits.
func checkCodeFormat(code string) (string, error) {
	if code == "" {
		return "no TOTP code", unauthorized("a two-factor code is required: send the 6-digit code of your authenticator app in totp_code")
	}
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return "malformed TOTP code", unauthorized("totp_code must be the 6 digits your authenticator app shows")
	}
	return "", nil
}

// totpState returns the TOTP state of user id, a new one when there is none.
func (s *AuthService) totpState(ctx context.Context, id string) (*shared.TOTPState, error) {
	st, err := storage.Get[shared.TOTPState](ctx, s.store, id)
	if isCode(err, shared.ENOTFOUND) {
		return &shared.TOTPState{Meta: shared.Meta{ID: id}}, nil
	}
	return st, err
}

// putTOTPState writes st with the revision it was read at: ECONFLICT when
// another login wrote it meanwhile.
func (s *AuthService) putTOTPState(ctx context.Context, st *shared.TOTPState) error {
	now := s.opts.Now().UTC()
	if st.CreatedAt.IsZero() {
		st.CreatedAt = now
	}
	st.UpdatedAt = now
	return s.store.Put(ctx, st)
}

// useCode reports whether code is a valid code of secret (sealed as sealed,
// the TOTP secret of user userID) whose time step comes after the last one
// used, and records its step as used: in the user's record at the origin,
// which replicates it, and in the TOTPState of this server at a leaf. Of
// logins racing with one code, one gets true.
func (s *AuthService) useCode(ctx context.Context, userID, sealed, secret, code string) (bool, error) {
	sum := crypt.HashToken(sealed)
	used := false
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		used = false
		u, err := get[shared.User](ctx, tx, userID, userNotFound(userID))
		if err != nil {
			return err
		}
		if u.TOTPSecret != sealed {
			return nil // the secret changed meanwhile: its codes no longer log in
		}
		st, err := totpStateIn(ctx, tx, userID)
		if err != nil {
			return err
		}
		after := u.TOTPLastStep
		if st.SecretHash == sum {
			after = max(after, st.LastStep)
		}
		step, ok := crypt.MatchTOTP(secret, code, s.opts.Now(), s.opts.TOTP.Window, after)
		if !ok {
			return nil
		}
		if s.opts.OriginURL == "" {
			n := *u
			n.TOTPLastStep = step
			err = tx.Put(ctx, &n)
		} else {
			st.SecretHash, st.LastStep = sum, step
			err = s.putTOTPStateIn(ctx, tx, st)
		}
		used = err == nil
		return err
	})
	if isCode(err, shared.ECONFLICT) {
		return false, nil // other logins kept writing the user: refused as raced
	}
	return used, err
}

// enrol runs the enrolment of u, who has no TOTP secret: with a valid code
// for the pending secret it confirms the enrolment and the login goes on;
// with a wrong one the login fails; with none (or nothing pending) it
// makes a new pending secret and answers with it.
func (s *AuthService) enrol(ctx context.Context, u *shared.User, code string) (string, error) {
	st, err := s.totpState(ctx, u.ID)
	if err != nil {
		return "", err
	}
	if code != "" && st.Pending != "" {
		if secret, err := s.opts.Sealer.Open(st.Pending); err == nil {
			return s.confirm(ctx, u, st, secret, code)
		}
		// Sealed with another key: start over.
	}
	secret, uri, err := crypt.NewTOTPKey(s.totpIssuer(), u.Email)
	if err != nil {
		return "", shared.Wrap(shared.EINTERNAL, err, "make a TOTP secret")
	}
	st.Pending = s.opts.Sealer.Seal(secret)
	if err := s.putTOTPState(ctx, st); isCode(err, shared.ECONFLICT) {
		return "", shared.Errorf(shared.ECONFLICT, "another login of %s is setting up two-factor login at the same time: log in again", u.Email)
	} else if err != nil {
		return "", err
	}
	s.audit(ctx, u.Username, u.ID, "TOTP Enrolment Started", "two-factor secret issued to "+u.Username)
	return "", &shared.TOTPEnrolment{Secret: secret, URI: uri}
}

// confirm ends the enrolment of u with code, a code of the pending secret:
// the secret becomes the user's and the code is used.
func (s *AuthService) confirm(ctx context.Context, u *shared.User, st *shared.TOTPState, secret, code string) (string, error) {
	if reason, err := checkCodeFormat(code); err != nil {
		return reason, err
	}
	sealed := st.Pending
	step, ok := crypt.MatchTOTP(secret, code, s.opts.Now(), s.opts.TOTP.Window, 0)
	if !ok {
		return "wrong TOTP code at enrolment", unauthorized("wrong two-factor code: enter the code your authenticator app shows for the secret you were given (a login without a code gives a new secret)")
	}
	// The state first: should the user's record fail to be written, the
	// enrolment stays pending and the next code confirms it.
	st.SecretHash, st.LastStep = crypt.HashToken(sealed), step
	if err := s.putTOTPState(ctx, st); isCode(err, shared.ECONFLICT) {
		return "two-factor enrolment raced", unauthorized("another login of %s confirmed or restarted two-factor login at the same time: log in again", u.Email)
	} else if err != nil {
		return "", err
	}
	for attempt := 1; ; attempt++ {
		n := *u
		n.TOTPSecret, n.TOTPLastStep, n.UpdatedAt = sealed, step, s.opts.Now().UTC()
		err := s.store.Put(ctx, &n)
		if err == nil {
			break
		}
		if !isCode(err, shared.ECONFLICT) || attempt == 3 {
			return "", err
		}
		// The record changed meanwhile (an admin's edit): apply to the new one.
		if u, err = storage.Get[shared.User](ctx, s.store, u.ID); err != nil {
			return "", err
		}
		if u.TOTPSecret != "" {
			return "two-factor enrolment raced", unauthorized("two-factor login of %s was set up meanwhile by another login: log in again with a code", u.Email)
		}
	}
	st.Pending = ""
	if err := s.putTOTPState(ctx, st); err != nil {
		// The sealed copy stays; a secret on the user's record overrides it.
		s.opts.Logger.WarnContext(ctx, "clear a confirmed TOTP enrolment", "user", u.ID, "err", err)
	}
	s.audit(ctx, u.Username, u.ID, "TOTP Enrolled", "two-factor login set up for "+u.Username)
	return "", nil
}

func (s *AuthService) totpIssuer() string {
	if s.opts.TOTP.Issuer == "" {
		return "Knot"
	}
	return s.opts.TOTP.Issuer
}
