package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

const (
	sessionCookie = "__KNOT_SESSION"
	csrfCookie    = "__KNOT_CSRF"
	csrfHeader    = "X-CSRF-Token"
	// sessionTTL is how long a session lives after its last use.
	sessionTTL = 2 * time.Hour
	// sessionSlide is how much a session's expiry must move before it is
	// written again, so that a busy session is not rewritten on every request.
	sessionSlide = time.Minute
)

// principal is who a request acts as. user is shared with a cache and must
// not be modified.
type principal struct {
	user      *shared.User
	perms     uint32 // bit p set: permission p
	sessionID string // set when authenticated by a session
	tokenID   string // set when authenticated by an API token
	viaCookie bool   // authenticated by the session cookie
}

func (p *principal) can(perm shared.Permission) bool { return p.perms&(1<<perm) != 0 }

// canAny reports whether p holds at least one of perms.
func (p *principal) canAny(perms ...shared.Permission) bool {
	for _, perm := range perms {
		if p.can(perm) {
			return true
		}
	}
	return false
}

func (p *principal) permissions() []shared.Permission {
	var out []shared.Permission
	for _, perm := range shared.AllPermissions() {
		if p.can(perm) {
			out = append(out, perm)
		}
	}
	return out
}

// permsOf returns the permission bits of the roles with ids; unknown roles
// give none.
func (s *Server) permsOf(ctx context.Context, ids []string) (uint32, error) {
	var bits uint32
	for _, id := range ids {
		role, err := s.role(ctx, id)
		if isCode(err, shared.ENOTFOUND) {
			continue
		}
		if err != nil {
			return 0, err
		}
		for _, p := range role.Permissions {
			if p.Valid() {
				bits |= 1 << p
			}
		}
	}
	return bits, nil
}

// role returns the built-in or stored role with id.
func (s *Server) role(ctx context.Context, id string) (*shared.Role, error) {
	for _, r := range shared.BuiltinRoles() {
		if r.ID == id {
			return r, nil
		}
	}
	r, err := storage.Get[shared.Role](ctx, s.store, id)
	if isCode(err, shared.ENOTFOUND) {
		return nil, notFound("role %q not found", id)
	}
	return r, err
}

var errNotAuthenticated = shared.Errorf(shared.EUNAUTHORIZED, "authentication required: log in, or send \"Authorization: Bearer <token>\"")

// hasCredentials reports whether r carries a bearer token or session cookie.
func hasCredentials(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	_, err := r.Cookie(sessionCookie)
	return err == nil
}

// authenticate finds who r acts as: a bearer session or API token, or the
// session cookie (which also needs the CSRF header for unsafe methods).
func (s *Server) authenticate(r *http.Request) (*principal, error) {
	return s.authenticateCSRF(r, true)
}

// authenticateCSRF is authenticate, with the CSRF check of a cookie
// session only when checkCSRF is set (the web apps check the Origin).
func (s *Server) authenticateCSRF(r *http.Request, checkCSRF bool) (*principal, error) {
	ctx := r.Context()
	p := &principal{}
	var userID string
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, _ := strings.Cut(h, " ")
		secret = strings.TrimSpace(secret)
		if !strings.EqualFold(scheme, "Bearer") || secret == "" {
			return nil, shared.Errorf(shared.EUNAUTHORIZED, "Authorization header must be \"Bearer <token>\"")
		}
		id := crypt.HashToken(secret)
		se, err := s.liveSession(ctx, id)
		switch {
		case err == nil:
			p.sessionID, userID = se.ID, se.UserID
		case isCode(err, shared.ENOTFOUND):
			tok, err := s.validToken(ctx, id)
			if err != nil {
				return nil, err
			}
			p.tokenID, userID = tok.ID, tok.UserID
		default:
			return nil, err
		}
	} else if c, err := r.Cookie(sessionCookie); err == nil {
		se, err := s.liveSession(ctx, crypt.HashToken(c.Value))
		if isCode(err, shared.ENOTFOUND) {
			return nil, shared.Errorf(shared.EUNAUTHORIZED, "session has expired: log in again")
		}
		if err != nil {
			return nil, err
		}
		if checkCSRF && unsafeMethod(r.Method) && !csrfOK(r, c.Value) {
			return nil, forbidden("missing or wrong %s header: send the value of the %s cookie", csrfHeader, csrfCookie)
		}
		p.sessionID, userID, p.viaCookie = se.ID, se.UserID, true
	} else {
		return nil, errNotAuthenticated
	}
	return s.principalFor(ctx, p, userID)
}

// validToken returns the unexpired API token with id.
func (s *Server) validToken(ctx context.Context, id string) (*shared.Token, error) {
	tok, err := storage.Get[shared.Token](ctx, s.store, id)
	if isCode(err, shared.ENOTFOUND) {
		return nil, shared.Errorf(shared.EUNAUTHORIZED, "authentication token is not valid")
	}
	if err != nil {
		return nil, err
	}
	if err := s.checkTokenExpiry(tok); err != nil {
		return nil, err
	}
	return tok, nil
}

// principalFor completes p with the user userID and its permissions.
func (s *Server) principalFor(ctx context.Context, p *principal, userID string) (*principal, error) {
	u, err := s.authUsers.get(ctx, s.store, userID)
	if isCode(err, shared.ENOTFOUND) || (err == nil && !u.Active) {
		return nil, shared.Errorf(shared.EUNAUTHORIZED, "authentication token is not valid")
	}
	if err != nil {
		return nil, err
	}
	p.user = u
	if p.perms, err = s.permsOf(ctx, u.Roles); err != nil {
		return nil, err
	}
	return p, nil
}

// liveSession returns the unexpired session with id and slides its expiry.
// ENOTFOUND when there is none or it expired (it is then deleted).
func (s *Server) liveSession(ctx context.Context, id string) (*shared.Session, error) {
	se, err := s.authSessions.get(ctx, s.store, id)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if s.sessionOver(se, now) {
		if _, err := s.store.Delete(context.WithoutCancel(ctx), shared.KindSession, id); err != nil && !isCode(err, shared.ENOTFOUND) {
			s.log.ErrorContext(ctx, "delete expired session", "err", err)
		}
		return nil, notFound("session expired")
	}
	if next := s.sessionExpiry(se.CreatedAt, now); next.Sub(se.ExpiresAt) >= sessionSlide {
		slid := *se
		slid.ExpiresAt, slid.UpdatedAt = next, now
		// A concurrent request may have slid it already; that is as good.
		if err := s.store.Put(context.WithoutCancel(ctx), &slid); err != nil && !isCode(err, shared.ECONFLICT) && !isCode(err, shared.ENOTFOUND) {
			s.log.ErrorContext(ctx, "slide session expiry", "err", err)
		}
	}
	return se, nil
}

func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// csrfToken derives the CSRF token of a session secret. The token is set as
// a readable cookie at web login and must come back in the X-CSRF-Token
// header (double submit); deriving it from the session binds it to the
// session, so a cookie planted by another site does not help.
func csrfToken(sessionSecret string) string {
	sum := sha256.Sum256([]byte("knot-csrf\x00" + sessionSecret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func csrfOK(r *http.Request, sessionSecret string) bool {
	h := r.Header.Get(csrfHeader)
	c, err := r.Cookie(csrfCookie)
	if h == "" || err != nil {
		return false
	}
	want := csrfToken(sessionSecret)
	return crypt.Equal(h, c.Value) && crypt.Equal(h, want)
}

// clientIP is the address of the client: the host of the connection's remote
// address. Forwarding headers are not trusted for it; they are recorded in
// audit events only.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// handleLogin serves POST /api/auth and, with web set, POST /api/auth/web.
func (s *Server) handleLogin(web bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret, err := s.login(w, r)
		if err != nil {
			s.writeLoginError(w, r, err)
			return
		}
		resp := api.Login{Status: true, Token: secret}
		if web {
			secure := s.secureCookies(r)
			resp.CSRFToken = csrfToken(secret)
			http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
			http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: resp.CSRFToken, Path: "/", Secure: secure, SameSite: http.SameSiteLaxMode})
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

// login checks the credentials in r and creates a session. It returns the
// session secret.
func (s *Server) login(w http.ResponseWriter, r *http.Request) (string, error) {
	var req api.LoginRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return "", err
	}
	if req.Email == "" {
		return "", invalid("email is required")
	}
	if req.Password == "" {
		return "", invalid("password is required")
	}
	if len(req.Email) > 254 || len(req.Password) > 1024 {
		return "", shared.Errorf(shared.EUNAUTHORIZED, "invalid email or password")
	}
	ctx := context.WithoutCancel(r.Context())
	attempt, err := s.beginPasswordCheck(r, req.Email)
	if err != nil {
		return "", err
	}
	defer attempt.end()
	fail := func(msg, reason string) (string, error) {
		s.auditAs(r, req.Email, "", "Login Failed", reason, nil)
		return "", shared.Errorf(shared.EUNAUTHORIZED, "%s", msg)
	}
	u, err := storage.Lookup[shared.User](ctx, s.store, "email:"+strings.ToLower(req.Email))
	if isCode(err, shared.ENOTFOUND) {
		attempt.check("", req.Password)
		return fail("invalid email or password", "unknown email")
	}
	if err != nil {
		return "", err
	}
	if u.PasswordHash == "" && s.leaf != nil {
		// A restricted leaf holds no password hashes (DESIGN.md).
		attempt.check("", req.Password)
		return fail(fmt.Sprintf("this leaf holds no password for %s (the origin shares none with a leaf connected by a user's API token): log in at the origin %s, or use an API token here", req.Email, s.leaf.OriginURL),
			"no password at this leaf")
	}
	if !attempt.check(u.PasswordHash, req.Password) {
		return fail("invalid email or password", "wrong password")
	}
	if !u.Active {
		return fail("this account is not active", "account not active")
	}
	if reason, err := s.secondFactor(r, u, req.TOTPCode); reason != "" {
		return fail(shared.ErrorMessage(err), reason)
	} else if err != nil {
		return "", err
	}
	attempt.succeed()

	secret := crypt.NewToken()
	now := s.now()
	ua := r.UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	se := &shared.Session{
		Meta:      shared.Meta{ID: crypt.HashToken(secret), CreatedAt: now, UpdatedAt: now},
		UserID:    u.ID,
		IP:        clientIP(r),
		UserAgent: ua,
		ExpiresAt: s.sessionExpiry(now, now),
	}
	if err := s.store.Put(ctx, se); err != nil {
		return "", err
	}
	if err := s.capSessions(ctx, u.ID); err != nil {
		return "", err
	}
	if s.leaf != nil {
		s.originLogin(ctx, se.ID, req.Email, req.Password, req.TOTPCode)
	}
	s.auditAs(r, u.Username, u.ID, "Login Success", "logged in as "+u.Username, nil)
	return secret, nil
}

// handleLogout serves POST /api/auth/logout: it ends the current session.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, p *principal) error {
	if p.sessionID == "" {
		return invalid("logout ends a session, and this request used an API token: delete the token with DELETE /api/tokens/{token_id}")
	}
	if _, err := s.store.Delete(context.WithoutCancel(r.Context()), shared.KindSession, p.sessionID); err != nil && !isCode(err, shared.ENOTFOUND) {
		return err
	}
	if s.leaf != nil {
		s.originLogout(r.Context(), p.sessionID)
	}
	if p.viaCookie {
		secure := s.secureCookies(r)
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: "", Path: "/", MaxAge: -1, Secure: secure, SameSite: http.SameSiteLaxMode})
	}
	s.audit(r, p, "Logout", "logged out", nil)
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// newID returns a new record id (UUIDv7, ordered by creation time).
func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
