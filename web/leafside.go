package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

// This file holds a leaf's side of HTTP: the credential its services
// present at the origin, the relay of the routes whose services do not
// forward yet, and carrying out the origin's commands. The way to the
// origin itself is package leaf's (leaf.Origin, leaf.Forward).

// maxForwardedAnswer bounds the body of an origin's answer a leaf relays.
const maxForwardedAnswer = 16 << 20

// credentialOf returns what the request r of p presented, for the leaf's
// services to present at the origin when they act for p there; an answer
// of the origin marks w as the origin's (X-Knot-Forwarded-To).
func credentialOf(w http.ResponseWriter, r *http.Request, p *principal) shared.Credential {
	c := shared.Credential{SessionID: p.sessionID, ForwardedFor: clientIP(r), UserAgent: r.UserAgent(),
		Answered: func() { w.Header().Set("X-Knot-Forwarded-To", "origin") }}
	if p.tokenID != "" {
		c.Token = bearer(r)
	}
	if prior := r.Header.Get("X-Forwarded-For"); prior != "" {
		c.ForwardedFor = prior + ", " + c.ForwardedFor
	}
	return c
}

// auditWrite records the event of a write of origin-owned data made
// through a service. On a leaf the service made it at the origin, which
// recorded it: nothing is recorded here.
func (s *Server) auditWrite(r *http.Request, p *principal, event, details string, props map[string]string) {
	if s.origin == nil {
		s.audit(r, p, event, details, props)
	}
}

// atOrigin returns h on an origin or a standalone server; on a leaf it
// returns a handler that forwards the request to the origin (see forward).
func (s *Server) atOrigin(h http.HandlerFunc) http.HandlerFunc {
	if s.leaf == nil {
		return h
	}
	return s.forward
}

// atOriginUnlessLocalVar is atOrigin for the template variable routes: on a
// leaf, a local variable (one created with "local": true, which the origin
// never sees) is created, changed and deleted here.
func (s *Server) atOriginUnlessLocalVar(h http.HandlerFunc) http.HandlerFunc {
	if s.leaf == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		local := false
		if id := chi.URLParam(r, "templatevar_id"); id != "" {
			v, err := storage.Get[shared.TemplateVar](r.Context(), s.store, id)
			local = err == nil && v.Local
		} else if r.Method == http.MethodPost {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
			if err != nil {
				s.writeError(w, r, tooLarge())
				return
			}
			var peek struct {
				Local bool `json:"local"`
			}
			local = json.Unmarshal(body, &peek) == nil && peek.Local
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		if local {
			h(w, r)
			return
		}
		s.forward(w, r)
	}
}

// forward sends a request for a write of origin-owned data, made at this
// leaf, to the origin and relays the origin's answer, for the routes whose
// services do not forward through leaf.Forward yet. The request goes with
// the caller's own API token, or with the origin session of the login that
// opened their session here (409 when there is none). With the origin
// unreachable it fails at once with 503. Nothing is queued.
func (s *Server) forward(w http.ResponseWriter, r *http.Request) {
	if err := s.forwardTo(w, r); err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) forwardTo(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.origin.Down(); err != nil {
		return err
	}
	// A session opened here is unknown to the origin: the request goes with
	// the session the leaf opened there at the same login, if it has one.
	sessionID, authorization := "", r.Header.Get("Authorization")
	if authorization != "" {
		if secret := bearer(r); secret != "" {
			if se, err := s.liveSession(ctx, crypt.HashToken(secret)); err == nil {
				sessionID = se.ID
			}
		}
	} else if c, err := r.Cookie(sessionCookie); err == nil {
		se, err := s.liveSession(ctx, crypt.HashToken(c.Value))
		if err != nil {
			return shared.Errorf(shared.EUNAUTHORIZED, "session has expired: log in again")
		}
		if unsafeMethod(r.Method) && !csrfOK(r, c.Value) {
			return forbidden("missing or wrong %s header: send the value of the %s cookie", csrfHeader, csrfCookie)
		}
		sessionID = se.ID
	}
	if sessionID != "" {
		secret, err := s.origin.SessionToken(sessionID)
		if err != nil {
			return err
		}
		authorization = "Bearer " + secret
	}
	base, err := s.origin.Base(ctx)
	if err != nil {
		return err
	}
	var body io.Reader
	if r.Body != nil {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			return tooLarge()
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, base+r.URL.RequestURI(), body)
	if err != nil {
		return shared.Wrap(shared.EINTERNAL, err, "build the request to the origin")
	}
	for _, h := range []string{"Content-Type", "Accept", "User-Agent"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	xff := clientIP(r)
	if prior := r.Header.Get("X-Forwarded-For"); prior != "" {
		xff = prior + ", " + xff
	}
	req.Header.Set("X-Forwarded-For", xff)
	req.Header.Set("X-Knot-Leaf", s.location)
	resp, err := s.origin.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxForwardedAnswer))
	if err != nil {
		return shared.Wrap(shared.EUNAVAILABLE, err, "the answer of the origin %s broke off", s.leaf.OriginURL)
	}
	if sessionID != "" && resp.StatusCode == http.StatusUnauthorized {
		return s.origin.SessionEnded(sessionID)
	}
	for _, h := range []string{"Content-Type", "Retry-After", "Allow"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.Header().Set("X-Knot-Forwarded-To", "origin")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(resp.StatusCode)
	w.Write(data)
	return nil
}

// originUsage asks the origin what the spaces of user at every other
// location use. It fails at once when the origin is not reachable.
func (s *Server) originUsage(ctx context.Context, userID string) (api.LeafUsage, error) {
	u, err := s.origin.Usage(ctx, userID)
	return api.LeafUsage(u), err
}

func addUsage(u *api.LeafUsage, o api.LeafUsage) {
	u.NumberSpaces += o.NumberSpaces
	u.NumberSpacesDeployed += o.NumberSpacesDeployed
	u.UsedComputeUnits += o.UsedComputeUnits
	u.UsedStorageUnits += o.UsedStorageUnits
}

func (s *Server) originLogin(ctx context.Context, id, email, password, totpCode string) {
	s.origin.Login(ctx, id, email, password, totpCode)
}

// originLogout ends the origin session kept for the session id, if any.
func (s *Server) originLogout(ctx context.Context, id string) { s.origin.Logout(ctx, id) }
