package leaf

import (
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
)

// AuthService is a leaf's shared.AuthService. Users log in here with what
// the origin replicated (the password hashes and sealed TOTP secrets a
// trusted leaf holds), whether or not the origin is reachable: Local checks
// them over the replica and keeps the sessions, which are the leaf's own
// (the origin does not know them). When a login here succeeds, the leaf
// logs in at the origin too, while it is reachable, and keeps that session
// for the writes it forwards for this one; a logout here ends both.
//
// The local checks are the origin's own (origin.AuthService over the
// replica, told the origin's URL): a login is the same check of the same
// records on both, and origin and leaf share no code but shared.
//
// A TOTP code logs in once here: the leaf refuses the step of the last
// code the origin accepted (User.TOTPLastStep, replicated) and every older
// one, and remembers the steps of the codes that logged in here
// (shared.TOTPState in its own store). The origin hears of a code used
// here only through the login at the origin that follows, while it is
// reachable; until then, or when it is not, another leaf or the origin
// may accept that code once more within its window (origin/totp.go says
// more).
type AuthService struct {
	shared.AuthService
	opts AuthOptions
}

var _ shared.AuthService = (*AuthService)(nil)

// AuthOptions configures a leaf's AuthService.
type AuthOptions struct {
	// Local logs in over the leaf's replica. Required.
	Local shared.AuthService
	// OriginLogin opens, when the origin is reachable, a session there with
	// the credentials of req for the writes of the leaf's session with id;
	// a failure only means those writes are refused. nil opens none.
	OriginLogin func(ctx context.Context, id string, req shared.LoginRequest)
	// OriginLogout ends the origin session kept for the leaf's session with
	// id, if any. nil ends none.
	OriginLogout func(ctx context.Context, id string)
	// Origin is where the changes of TOTPService are made (totp.go), and
	// where an API token the replica does not hold yet is checked for a
	// write (Origin.Identify); nil refuses the changes and checks nothing.
	Origin *Origin
}

// NewAuthService returns the auth service of a leaf.
func NewAuthService(opts AuthOptions) *AuthService {
	return &AuthService{AuthService: opts.Local, opts: opts}
}

// Authenticate implements shared.AuthService over the replica. For a
// write (shared.Caller.Writes), which the leaf makes at the origin, a
// bearer secret the replica does not know (an API token just created at
// the origin) is checked at the origin, as when the leaf relayed writes:
// EUNAVAILABLE at once while the origin is down, and the origin's refusal
// as its error.
func (s *AuthService) Authenticate(ctx context.Context, secret string, cookie bool, check func() error) (*shared.Identity, error) {
	id, err := s.AuthService.Authenticate(ctx, secret, cookie, check)
	if err == nil || cookie || s.opts.Origin == nil || !shared.CallerFrom(ctx).Writes || shared.ErrorCode(err) != shared.EUNAUTHORIZED {
		return id, err
	}
	u, perms, err := s.opts.Origin.Identify(ctx, secret)
	if err != nil {
		return nil, err
	}
	return &shared.Identity{User: u, Permissions: shared.PermissionsOf(perms), TokenID: crypt.HashToken(secret)}, nil
}

// Login implements shared.AuthService: over the replica, then at the
// origin.
func (s *AuthService) Login(ctx context.Context, req shared.LoginRequest) (*shared.LoginResult, error) {
	out, err := s.AuthService.Login(ctx, req)
	if err != nil {
		return nil, err
	}
	if s.opts.OriginLogin != nil {
		s.opts.OriginLogin(context.WithoutCancel(ctx), out.Session.ID, req)
	}
	return out, nil
}

// EndOwnSession implements shared.AuthService: here, then the session the
// leaf holds at the origin for it.
func (s *AuthService) EndOwnSession(ctx context.Context, id string) error {
	sessions, err := s.AuthService.OwnSessions(ctx)
	if err != nil {
		return err
	}
	if err := s.AuthService.EndOwnSession(ctx, id); err != nil {
		return err
	}
	for _, se := range sessions {
		if se.ID == id && s.opts.OriginLogout != nil {
			s.opts.OriginLogout(ctx, se.SessionID)
		}
	}
	return nil
}

// Logout implements shared.AuthService: here, then at the origin.
func (s *AuthService) Logout(ctx context.Context, sessionID string) error {
	if err := s.AuthService.Logout(ctx, sessionID); err != nil {
		return err
	}
	if s.opts.OriginLogout != nil {
		s.opts.OriginLogout(ctx, sessionID)
	}
	return nil
}
