package web

import (
	"context"
	"net/http"

	"github.com/knot-dev/knot/origin"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// The browser login of the CLI, knot connect --use-web-auth (see
// shared.ConnectRequest): the web UI's page /connect approves with POST
// /api/connect/approve, and the CLI redeems the code with POST
// /api/connect/token. The API token is created when the code is redeemed,
// as the user through the login session that approved it, so a code that
// is never redeemed leaves no token behind.

// handleConnectApprove serves POST /api/connect/approve: a user logged in
// to the web UI approves the CLI that asks, and gets the CLI's address with
// a one-time code to send the browser to. Only a browser's session may
// approve: the cookie's CSRF check is the approval form's. On a leaf, an
// approval whose token could not be made at the origin now is refused at
// once (tokensReady).
func (s *Server) handleConnectApprove(r *http.Request, p *principal, req *api.ConnectApproveRequest) (api.ConnectApproved, error) {
	if !p.viaCookie || p.sessionID == "" {
		return api.ConnectApproved{}, invalid("approve the CLI on the web UI's page /connect, logged in in a browser; an API token cannot approve one")
	}
	cr := shared.ConnectRequest{Port: req.Port, State: req.State, Challenge: req.Challenge, Host: req.Host}
	if err := cr.Check(); err != nil {
		return api.ConnectApproved{}, err
	}
	if err := s.tokensReady(r.Context()); err != nil {
		return api.ConnectApproved{}, err
	}
	code, err := s.connect.Issue(origin.ConnectGrant{UserID: p.user.ID, SessionID: p.sessionID, Host: req.Host}, req.Challenge)
	if err != nil {
		return api.ConnectApproved{}, err
	}
	s.audit(r, p, "Connect Approve", "approved knot connect on "+quote(req.Host), nil)
	return api.ConnectApproved{Status: true, Redirect: cr.Redirect(code)}, nil
}

// tokensReady returns, on a leaf, the error that making the caller's API
// token would fail with now (leaf.TokenService.Ready).
func (s *Server) tokensReady(ctx context.Context) error {
	if tr, ok := s.tokens.(interface{ Ready(context.Context) error }); ok {
		return tr.Ready(ctx)
	}
	return nil
}

// handleConnectToken serves POST /api/connect/token: the CLI redeems its
// code with its verifier and gets a new API token of the user who
// approved, named after the CLI's host, for shared.ConnectTokenLifetime.
// A code is no credential beyond this: 400 saying what is wrong with it.
func (s *Server) handleConnectToken(w http.ResponseWriter, r *http.Request) {
	redeem := func(r *http.Request, _ *principal, req *api.ConnectTokenRequest) (api.TokenCreated, error) {
		return s.connectToken(w, r, req)
	}
	if err := decoded(http.StatusCreated, redeem)(w, r, nil); err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) connectToken(w http.ResponseWriter, r *http.Request, req *api.ConnectTokenRequest) (api.TokenCreated, error) {
	g, err := s.connect.Redeem(req.Code, req.Verifier)
	if err != nil {
		return api.TokenCreated{}, err
	}
	id, err := s.auth.Identify(r.Context(), g.SessionID, "")
	if err != nil && !isCode(err, shared.EUNAUTHORIZED) {
		return api.TokenCreated{}, err
	}
	if err != nil || id.User.ID != g.UserID {
		return api.TokenCreated{}, invalid("the login session that approved the code has ended: approve the CLI again")
	}
	p := principalOf(id, true)
	ctx := shared.NewContextWithActor(withRequest(r), actorOf(p))
	ctx = shared.NewContextWithCredential(ctx, credentialOf(w, r, p))
	t, secret, err := s.tokens.Create(ctx, shared.ConnectTokenName(g.Host), s.now().Add(shared.ConnectTokenLifetime))
	if err != nil {
		return api.TokenCreated{}, err
	}
	return api.TokenCreated{Status: true, TokenID: t.ID, Token: secret}, nil
}
