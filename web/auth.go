package web

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/crypt"
)

const (
	sessionCookie = "__KNOT_SESSION"
	csrfCookie    = "__KNOT_CSRF"
	csrfHeader    = "X-CSRF-Token"
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

// actorOf returns the actor p is, as the services and the grant rules see
// them.
func actorOf(p *principal) *shared.Actor {
	return &shared.Actor{User: p.user, Permissions: shared.PermissionSet(p.perms), Admin: isAdmin(p)}
}

func (p *principal) canAny(perms ...shared.Permission) bool {
	return shared.PermissionSet(p.perms).HasAny(perms...)
}

var errNotAuthenticated = shared.Errorf(shared.EUNAUTHORIZED, "authentication required: log in, or send \"Authorization: Bearer <token>\"")

func hasCredentials(r *http.Request) bool {
	_, err := r.Cookie(sessionCookie)
	return r.Header.Get("Authorization") != "" || err == nil
}

// authenticate finds who r acts as: a bearer session or API token, or the
// session cookie (which also needs the CSRF header for unsafe methods).
func (s *Server) authenticate(r *http.Request) (*principal, error) {
	return s.authenticateCSRF(r, true)
}

// authenticateCSRF is authenticate, with the CSRF check of a cookie
// session only when checkCSRF is set (the web apps check the Origin).
func (s *Server) authenticateCSRF(r *http.Request, checkCSRF bool) (*principal, error) {
	var secret string
	var check func() error
	cookie := r.Header.Get("Authorization") == ""
	if !cookie {
		scheme, bearer, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if secret = strings.TrimSpace(bearer); !strings.EqualFold(scheme, "Bearer") || secret == "" {
			return nil, shared.Errorf(shared.EUNAUTHORIZED, "Authorization header must be \"Bearer <token>\"")
		}
	} else if c, err := r.Cookie(sessionCookie); err == nil {
		secret = c.Value
		check = func() error {
			if checkCSRF && unsafeMethod(r.Method) && !csrfOK(r, c.Value) {
				return forbidden("missing or wrong %s header: send the value of the %s cookie", csrfHeader, csrfCookie)
			}
			return nil
		}
	} else {
		return nil, errNotAuthenticated
	}
	id, err := s.auth.Authenticate(r.Context(), secret, cookie, check)
	if err != nil {
		return nil, err
	}
	return principalOf(id, cookie), nil
}

func principalOf(id *shared.Identity, viaCookie bool) *principal {
	return &principal{user: id.User, perms: uint32(id.Permissions), sessionID: id.SessionID, tokenID: id.TokenID, viaCookie: viaCookie}
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
		var req api.LoginRequest
		if err := decodeRequest(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		out, err := s.login(w, r, shared.LoginRequest{Email: req.Email, Password: req.Password, TOTPCode: req.TOTPCode}, web)
		if err != nil {
			s.writeLoginError(w, r, err)
			return
		}
		resp := api.Login{Status: true, Token: out.Secret}
		if web {
			resp.CSRFToken = csrfToken(out.Secret)
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

// login logs r's client in with req; with web, it sets the session's cookies.
func (s *Server) login(w http.ResponseWriter, r *http.Request, req shared.LoginRequest, web bool) (*shared.LoginResult, error) {
	req.IP, req.UserAgent = clientIP(r), r.UserAgent()
	out, err := s.auth.Login(withRequest(r), req)
	if err == nil && web {
		s.setCookies(w, r, out.Secret, csrfToken(out.Secret), 0)
	}
	return out, err
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, p *principal) error {
	if p.sessionID == "" {
		return invalid("logout ends a session, and this request used an API token: delete the token with DELETE /api/tokens/{token_id}")
	}
	if err := s.auth.Logout(r.Context(), p.sessionID); err != nil {
		return err
	}
	if p.viaCookie {
		s.setCookies(w, r, "", "", -1)
	}
	s.audit(r, p, "Logout", "logged out", nil)
	writeJSON(w, http.StatusOK, okResp)
	return nil
}

// setCookies sets the session and CSRF cookies of a web login (maxAge -1
// removes them). They are Secure when the request came over TLS, or the
// server's public URL is https (a proxy in front of it ends TLS).
func (s *Server) setCookies(w http.ResponseWriter, r *http.Request, session, csrf string, maxAge int) {
	secure := r.TLS != nil || strings.HasPrefix(s.o.URL, "https://")
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: session, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: csrf, Path: "/", MaxAge: maxAge, Secure: secure, SameSite: http.SameSiteLaxMode})
}

// writeLoginError writes the error of a login: the secret of a new TOTP
// enrolment with its message, or any other error as writeError does.
func (s *Server) writeLoginError(w http.ResponseWriter, r *http.Request, err error) {
	var en *shared.TOTPEnrolment
	if errors.As(err, &en) {
		writeJSON(w, http.StatusUnauthorized, api.NewEnrolment(en))
		return
	}
	s.writeError(w, r, err)
}

// handleUsingTOTP serves GET /api/auth/using-totp: whether logins here need
// a code, so that a login form knows to ask for one.
func (s *Server) handleUsingTOTP(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.UsingTOTP{UsingTOTP: s.auth.UsingTOTP()})
}

// handleListSessions serves GET /api/sessions: the caller's own login
// sessions at this server, newest first; nobody sees another's here.
func (s *Server) handleListSessions(r *http.Request, p *principal) ([]api.Session, error) {
	sessions, err := s.auth.OwnSessions(r.Context())
	return api.NewSessions(sessions, p.sessionID), err
}

// handleDeleteSession serves DELETE /api/sessions/{session_id}: ends one of
// the caller's sessions (and on a leaf the one it opened at the origin).
func (s *Server) handleDeleteSession(r *http.Request, _ *principal) (api.OK, error) {
	return okResp, s.auth.EndOwnSession(r.Context(), chi.URLParam(r, "session_id"))
}
