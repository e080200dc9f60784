package web

import (
	"net/http"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
)

// A leaf's side of HTTP: the credential its services present at the
// origin, and API tokens its replica does not hold yet. The way to the
// origin itself is package leaf's (leaf.Origin, leaf.Forward).

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

// write is api for the routes of writes that a leaf makes at the origin:
// there, an API token that the leaf's replica does not hold yet (one just
// created at the origin) is checked at the origin (leaf.Origin.Identify),
// as when the leaf relayed these requests.
func (s *Server) write(fn apiFunc, perms ...shared.Permission) http.HandlerFunc {
	return s.apiWith(s.authenticateAtOrigin, fn, perms)
}

func (s *Server) authenticateAtOrigin(r *http.Request) (*principal, error) {
	p, err := s.authenticate(r)
	secret := bearer(r)
	if err == nil || s.origin == nil || secret == "" || !isCode(err, shared.EUNAUTHORIZED) {
		return p, err
	}
	u, perms, err := s.origin.Identify(r.Context(), secret)
	if err != nil {
		return nil, err
	}
	return &principal{user: u, perms: uint32(shared.PermissionsOf(perms)), tokenID: crypt.HashToken(secret)}, nil
}
