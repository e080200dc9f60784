package shared

import (
	"context"
	"time"
)

// AuthService logs users in and out and tells who a session secret or an
// API token acts as. Sessions are records of the server that opened them:
// an origin and each leaf keep their own. An origin implements it over its
// store, a leaf over its replica (where users log in with the password
// hashes the origin replicated) and, while the origin is reachable, opens a
// session there too for the writes it forwards.
type AuthService interface {
	// Login checks the credentials of req and opens a session. It counts
	// the attempt against the login limits before the password is hashed,
	// and records a "Login Failed", "Login Rate Limited" or "Login
	// Success" audit event. EINVALID when the email or the password is
	// missing; ERATELIMIT, with a RetryAfter() method, when a login limit
	// of the account or the address is used up or no password check frees
	// in time; EUNAVAILABLE when ctx ends while it waits for one;
	// EUNAUTHORIZED for an unknown email, a wrong password, an inactive
	// account, a user whose password this server does not hold, and a
	// missing, malformed, wrong or reused TOTP code; a *TOTPEnrolment
	// (EUNAUTHORIZED) when a TOTP enrolment starts; ECONFLICT when two
	// logins start an enrolment at once.
	Login(ctx context.Context, req LoginRequest) (*LoginResult, error)

	// Logout ends the session with id; a session that is already gone is
	// no error.
	Logout(ctx context.Context, sessionID string) error

	// Authenticate returns who the session or API token with secret acts
	// as. With cookie set, secret is a session cookie's and only sessions
	// count; check (when not nil) runs once the session is found, and its
	// error is returned. An unexpired session's expiry slides with use.
	// EUNAUTHORIZED when the session has expired or the secret is no valid
	// session or API token, the token has expired, or its user is gone or
	// inactive. A leaf checks at the origin, for a write (Caller.Writes in
	// ctx), a bearer secret its replica does not know: EUNAVAILABLE while
	// the origin is down.
	Authenticate(ctx context.Context, secret string, cookie bool, check func() error) (*Identity, error)

	// Identify returns who the session with sessionID, or else (sessionID
	// "") the API token with tokenID, acts as: ids, the hashes of their
	// secrets, that an earlier Authenticate returned. EUNAUTHORIZED as
	// Authenticate.
	Identify(ctx context.Context, sessionID, tokenID string) (*Identity, error)

	// Session returns the unexpired session with id (the hash of its
	// secret) and slides its expiry. ENOTFOUND when there is none or it
	// has expired (it is then deleted).
	Session(ctx context.Context, id string) (*Session, error)

	// SweepSessions deletes every expired session. It needs no actor.
	SweepSessions(ctx context.Context) error

	// UsingTOTP reports whether a password login needs a TOTP code.
	UsingTOTP() bool

	// OwnSessions returns the unexpired sessions of the actor of ctx at
	// this server, newest first. EUNAUTHORIZED without an actor.
	OwnSessions(ctx context.Context) ([]*SessionInfo, error)

	// EndOwnSession ends the session of the actor of ctx whose public id
	// (SessionInfo.ID) is id. ENOTFOUND when the actor has no such
	// session: another user's sessions are never found.
	EndOwnSession(ctx context.Context, id string) error
}

// SessionInfo is a session as its user sees it. ID is a public id derived
// from the session's id (itself the hash of its secret), so that a list of
// sessions names none of the ids the server authenticates by.
type SessionInfo struct {
	ID         string
	SessionID  string // the session's own id, for the server alone
	IP         string
	UserAgent  string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
}

// LoginRequest is what a login presents.
type LoginRequest struct {
	Email, Password string
	// TOTPCode is the code of the user's authenticator app; "" for none.
	TOTPCode string
	// IP and UserAgent are the client's, kept with the session; the login
	// limits count per IP.
	IP, UserAgent string
}

// LoginResult is an opened session.
type LoginResult struct {
	// Secret is the session's secret, shown once; the session's ID is its
	// hash.
	Secret  string
	Session *Session
	User    *User
}

// Identity is who a request acts as.
type Identity struct {
	// User may be shared with a cache and must not be modified.
	User        *User
	Permissions PermissionSet
	SessionID   string // set when authenticated by a session
	TokenID     string // set when authenticated by an API token
}

// TOTPEnrolment is the refusal of the login that starts a TOTP enrolment:
// it carries the new secret and its otpauth:// URI, which the answer shows.
type TOTPEnrolment struct {
	Secret, URI string
	// Expires is when a pending change of authenticator is forgotten
	// (TOTPService.BeginTOTPChange); zero for a login's enrolment.
	Expires time.Time
}

// EnrolMessage is the message of a TOTPEnrolment.
const EnrolMessage = "two-factor login is required and this account has no authenticator yet: add the secret in totp_secret (or the otpauth URI in totp_url) to an authenticator app, then log in again with the 6-digit code it shows in totp_code"

func (e *TOTPEnrolment) Error() string { return EnrolMessage }
func (e *TOTPEnrolment) Unwrap() error { return Errorf(EUNAUTHORIZED, "%s", EnrolMessage) }
