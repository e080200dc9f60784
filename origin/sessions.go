package origin

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

// Session lifetimes. A session ends sessionTTL after its last use (the
// sliding expiry) and at the latest AuthOptions.SessionMaxAge after the
// login (the absolute one), however busy it is.
const (
	sessionTTL = 2 * time.Hour
	// sessionSlide is how much a session's expiry must move before it is
	// written again, so that a busy session is not rewritten on every
	// request.
	sessionSlide = time.Minute
	// DefaultSessionMaxAge is the absolute lifetime when AuthOptions
	// leaves it 0.
	DefaultSessionMaxAge = 7 * 24 * time.Hour
	// maxSessionsPerUser bounds the sessions one user holds; a login
	// beyond it ends that user's oldest sessions.
	maxSessionsPerUser = 20
)

// AuthOptions configures the AuthService.
type AuthOptions struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logins bounds password checks; nil means NewLogins with defaults. Give
	// the one every other password check of the server uses.
	Logins *Logins
	// SessionMaxAge is how long a session lasts at most; 0 means
	// DefaultSessionMaxAge.
	SessionMaxAge time.Duration
	// Sealer opens and seals TOTP secrets; required with TOTP.
	Sealer *crypt.Sealer
	// TOTP makes password logins need a TOTP code; nil means a password
	// alone logs in.
	TOTP *TOTPOptions
	// OriginURL is set when the store is a leaf's replica: a user whose
	// password hash the origin did not share (a restricted leaf holds
	// none) is told to log in there, and a user without a TOTP secret is
	// sent there to enrol.
	OriginURL string
	// Audit records the login's audit events (actor, event, details and
	// properties set); nil records none.
	Audit func(ctx context.Context, ev *shared.AuditEvent)
	// Logger receives errors that do not fail a call; nil means
	// slog.Default().
	Logger *slog.Logger
}

// AuthService is the shared.AuthService of a server over its store. It
// serves a leaf too, over the leaf's replica (AuthOptions.OriginURL): a
// login is the same check of the same records there, and the sessions
// are the server's own either way (package leaf adds the session the leaf
// opens at the origin).
type AuthService struct {
	store storage.Store
	opts  AuthOptions

	sessions decodeCache[shared.Session, *shared.Session]
	users    decodeCache[shared.User, *shared.User]
}

var _ shared.AuthService = (*AuthService)(nil)

// NewAuthService returns the auth service over store.
func NewAuthService(store storage.Store, opts AuthOptions) *AuthService {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logins == nil {
		opts.Logins = NewLogins(LoginsOptions{Now: opts.Now})
	}
	if opts.SessionMaxAge <= 0 {
		opts.SessionMaxAge = DefaultSessionMaxAge
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &AuthService{store: store, opts: opts}
}

func (s *AuthService) audit(ctx context.Context, actor, userID, event, details string) {
	ev := &shared.AuditEvent{Actor: actor, Event: event, Details: details, Properties: map[string]string{}}
	if userID != "" {
		ev.Properties["user_id"] = userID
	}
	s.record(ctx, ev)
}

func (s *AuthService) record(ctx context.Context, ev *shared.AuditEvent) {
	if s.opts.Audit != nil {
		s.opts.Audit(ctx, ev)
	}
}

// UsingTOTP implements shared.AuthService.
func (s *AuthService) UsingTOTP() bool { return s.opts.TOTP != nil }

// Login implements shared.AuthService.
func (s *AuthService) Login(ctx context.Context, req shared.LoginRequest) (*shared.LoginResult, error) {
	if req.Email == "" {
		return nil, invalid("email is required")
	}
	if req.Password == "" {
		return nil, invalid("password is required")
	}
	if len(req.Email) > 254 || len(req.Password) > 1024 {
		return nil, shared.Errorf(shared.EUNAUTHORIZED, "invalid email or password")
	}
	attempt, err := s.opts.Logins.Begin(ctx, req.Email, req.IP, func(f Refusal) { s.record(ctx, f.AuditEvent(req.Email)) })
	if err != nil {
		return nil, err
	}
	defer attempt.End()
	ctx = writeContext(ctx)
	u, reason, err := s.checkCredentials(ctx, attempt, req)
	if reason != "" {
		s.audit(ctx, req.Email, "", "Login Failed", reason)
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	attempt.Succeed()
	out, err := s.open(ctx, u, req)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, u.Username, u.ID, "Login Success", "logged in as "+u.Username)
	return out, nil
}

func unauthorized(format string, args ...any) error {
	return shared.Errorf(shared.EUNAUTHORIZED, format, args...)
}

// checkCredentials returns the user whose password and TOTP code req
// holds. A refusal comes with the reason for the audit log.
func (s *AuthService) checkCredentials(ctx context.Context, attempt *PasswordAttempt, req shared.LoginRequest) (*shared.User, string, error) {
	u, err := storage.Lookup[shared.User](ctx, s.store, "email:"+strings.ToLower(req.Email))
	if isCode(err, shared.ENOTFOUND) {
		attempt.Check("", req.Password)
		return nil, "unknown email", unauthorized("invalid email or password")
	}
	if err != nil {
		return nil, "", err
	}
	if u.PasswordHash == "" && s.opts.OriginURL != "" {
		attempt.Check("", req.Password)
		return nil, "no password at this leaf", unauthorized("this leaf holds no password for %s (the origin shares none with a leaf connected by a user's API token): log in at the origin %s, or use an API token here", req.Email, s.opts.OriginURL)
	}
	if !attempt.Check(u.PasswordHash, req.Password) {
		return nil, "wrong password", unauthorized("invalid email or password")
	}
	if !u.Active {
		return nil, "account not active", unauthorized("this account is not active")
	}
	reason, err := s.secondFactor(ctx, u, req.TOTPCode)
	return u, reason, err
}

// open stores a new session of u and ends u's oldest sessions beyond
// maxSessionsPerUser, in one transaction. The new session is never one of
// those ended, even when the clock gives several the same time.
func (s *AuthService) open(ctx context.Context, u *shared.User, req shared.LoginRequest) (*shared.LoginResult, error) {
	secret := crypt.NewToken()
	now := s.opts.Now()
	ua := req.UserAgent
	if len(ua) > 512 {
		ua = ua[:512]
	}
	se := &shared.Session{
		Meta:      shared.Meta{ID: crypt.HashToken(secret), CreatedAt: now, UpdatedAt: now},
		UserID:    u.ID,
		IP:        req.IP,
		UserAgent: ua,
		ExpiresAt: s.expiry(now, now),
	}
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		if err := capSessions(ctx, tx, u.ID); err != nil {
			return err
		}
		return tx.Put(ctx, se)
	})
	if err != nil {
		return nil, err
	}
	return &shared.LoginResult{Secret: secret, Session: se, User: u}, nil
}

// capSessions ends the oldest sessions of userID, leaving room for one
// more below maxSessionsPerUser.
func capSessions(ctx context.Context, tx storage.Tx, userID string) error {
	sessions, err := storage.ListWhere(ctx, tx, func(se *shared.Session) bool { return se.UserID == userID })
	if err != nil || len(sessions) < maxSessionsPerUser {
		return err
	}
	slices.SortFunc(sessions, func(a, b *shared.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	for _, se := range sessions[maxSessionsPerUser-1:] {
		if err := tx.Delete(ctx, shared.KindSession, se.ID); err != nil && !isCode(err, shared.ENOTFOUND) {
			return err
		}
	}
	return nil
}

// Logout implements shared.AuthService.
func (s *AuthService) Logout(ctx context.Context, sessionID string) error {
	if _, err := s.store.Delete(writeContext(ctx), shared.KindSession, sessionID); err != nil && !isCode(err, shared.ENOTFOUND) {
		return err
	}
	return nil
}

// expiry is when a session made at created ends if it is not used after
// now: sessionTTL from now, but never past its absolute end.
func (s *AuthService) expiry(created, now time.Time) time.Time {
	next := now.Add(sessionTTL)
	if end := created.Add(s.opts.SessionMaxAge); end.Before(next) {
		return end
	}
	return next
}

// over reports whether se has ended at now.
func (s *AuthService) over(se *shared.Session, now time.Time) bool {
	return !now.Before(se.ExpiresAt) || !now.Before(se.CreatedAt.Add(s.opts.SessionMaxAge))
}

// Session implements shared.AuthService.
func (s *AuthService) Session(ctx context.Context, id string) (*shared.Session, error) {
	se, err := s.sessions.get(ctx, s.store, id)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	if s.over(se, now) {
		if _, err := s.store.Delete(writeContext(ctx), shared.KindSession, id); err != nil && !isCode(err, shared.ENOTFOUND) {
			s.opts.Logger.ErrorContext(ctx, "delete expired session", "err", err)
		}
		return nil, shared.Errorf(shared.ENOTFOUND, "session expired")
	}
	if next := s.expiry(se.CreatedAt, now); next.Sub(se.ExpiresAt) >= sessionSlide {
		slid := *se
		slid.ExpiresAt, slid.UpdatedAt = next, now
		// A concurrent request may have slid it already; that is as good.
		if err := s.store.Put(writeContext(ctx), &slid); err != nil && !isCode(err, shared.ECONFLICT) && !isCode(err, shared.ENOTFOUND) {
			s.opts.Logger.ErrorContext(ctx, "slide session expiry", "err", err)
		}
	}
	return se, nil
}

// SweepSessions implements shared.AuthService.
func (s *AuthService) SweepSessions(ctx context.Context) error {
	sessions, err := storage.List[shared.Session](ctx, s.store)
	if err != nil {
		return fmt.Errorf("list sessions for expiry: %w", err)
	}
	now := s.opts.Now()
	for _, se := range sessions {
		if s.over(se, now) {
			if _, err := s.store.Delete(ctx, shared.KindSession, se.ID); err != nil && !isCode(err, shared.ENOTFOUND) {
				s.opts.Logger.Error("delete expired session", "err", err)
			}
		}
	}
	return nil
}

var errTokenInvalid = unauthorized("authentication token is not valid")

// Authenticate implements shared.AuthService.
func (s *AuthService) Authenticate(ctx context.Context, secret string, cookie bool, check func() error) (*shared.Identity, error) {
	id := crypt.HashToken(secret)
	se, err := s.Session(ctx, id)
	switch {
	case err == nil:
	case !isCode(err, shared.ENOTFOUND):
		return nil, err
	case cookie:
		return nil, unauthorized("session has expired: log in again")
	default:
		return s.tokenIdentity(ctx, id)
	}
	if check != nil {
		if err := check(); err != nil {
			return nil, err
		}
	}
	return s.identify(ctx, &shared.Identity{SessionID: se.ID}, se.UserID)
}

// Identify implements shared.AuthService.
func (s *AuthService) Identify(ctx context.Context, sessionID, tokenID string) (*shared.Identity, error) {
	if sessionID == "" {
		return s.tokenIdentity(ctx, tokenID)
	}
	se, err := s.Session(ctx, sessionID)
	if isCode(err, shared.ENOTFOUND) {
		return nil, unauthorized("session has expired: log in again")
	}
	if err != nil {
		return nil, err
	}
	return s.identify(ctx, &shared.Identity{SessionID: se.ID}, se.UserID)
}

// tokenIdentity returns who the unexpired API token with id acts as.
func (s *AuthService) tokenIdentity(ctx context.Context, id string) (*shared.Identity, error) {
	tok, err := storage.Get[shared.Token](ctx, s.store, id)
	if isCode(err, shared.ENOTFOUND) {
		return nil, errTokenInvalid
	}
	if err != nil {
		return nil, err
	}
	if !tok.ExpiresAt.IsZero() && !s.opts.Now().Before(tok.ExpiresAt) {
		return nil, unauthorized("API token %s expired at %s: create a new one", quote(tok.Name), tok.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return s.identify(ctx, &shared.Identity{TokenID: tok.ID}, tok.UserID)
}

// identify completes out with the user userID and the permissions of
// their roles.
func (s *AuthService) identify(ctx context.Context, out *shared.Identity, userID string) (*shared.Identity, error) {
	u, err := s.users.get(ctx, s.store, userID)
	if isCode(err, shared.ENOTFOUND) || (err == nil && !u.Active) {
		return nil, errTokenInvalid
	}
	if err != nil {
		return nil, err
	}
	out.User = u
	for _, id := range u.Roles {
		role, err := roleIn(ctx, s.store, id)
		if isCode(err, shared.ENOTFOUND) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out.Permissions |= shared.PermissionsOf(role.Permissions)
	}
	return out, nil
}

// decodeCache keeps decoded records of one kind by id, so that the records
// read on every request (sessions, users) are decoded only when they
// change. It is bounded: past maxDecoded entries it starts over. Values are
// shared: callers must not modify them.
type decodeCache[T any, P storage.RecordPtr[T]] struct {
	mu sync.Mutex
	m  map[string]decoded[P] // guarded by mu
}

type decoded[P any] struct {
	rev  int64
	data []byte
	val  P
}

const maxDecoded = 10000

// get reads the record with id from st and returns it decoded.
func (c *decodeCache[T, P]) get(ctx context.Context, st storage.Reader, id string) (P, error) {
	ch, err := st.Get(ctx, P(new(T)).RecordKind(), id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && e.rev == ch.Revision && bytes.Equal(e.data, ch.Data) {
		return e.val, nil
	}
	v, err := storage.Decode[T, P](ch)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxDecoded {
		c.m = map[string]decoded[P]{}
	}
	c.m[id] = decoded[P]{rev: ch.Revision, data: ch.Data, val: v}
	c.mu.Unlock()
	return v, nil
}
