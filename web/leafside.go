package web

import (
	"net/http"

	"github.com/knot-dev/knot/shared"
)

// A leaf's side of HTTP: the credential its services present at the
// origin. The way to the origin itself is package leaf's (leaf.Origin,
// leaf.Forward).

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
