package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

// This file holds a leaf's side: forwarding writes of origin-owned data to
// the origin, the leaf's status, asking the origin for a user's usage, and
// carrying out the origin's commands.

// maxForwardedAnswer bounds the body of an origin's answer a leaf relays.
const maxForwardedAnswer = 16 << 20

// originBase returns the origin's base URL for REST requests, without a
// trailing slash, resolving a srv+ name.
func (s *Server) originBase(ctx context.Context) (string, error) {
	raw := s.leaf.OriginURL
	if strings.HasPrefix(raw, "srv+") {
		if s.leaf.Resolve == nil {
			return "", shared.Errorf(shared.EUNAVAILABLE, "the origin %s is a srv+ name and this leaf has no resolver for it", raw)
		}
		r, err := s.leaf.Resolve(ctx, raw)
		if err != nil {
			return "", shared.Wrap(shared.EUNAVAILABLE, err, "the origin %s could not be resolved: %s", raw, shared.ErrorMessage(err))
		}
		raw = r
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", shared.Errorf(shared.EUNAVAILABLE, "the origin URL %s is not usable", quote(raw))
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.RawQuery, u.Fragment = "", ""
	return strings.TrimRight(u.String(), "/"), nil
}

// originDown returns the EUNAVAILABLE error of a write that cannot reach
// the origin, or nil when the uplink is connected.
func (s *Server) originDown() error {
	st := s.leaf.Uplink.Status()
	if st.Connected {
		return nil
	}
	reason := st.Reason
	if reason == "" {
		reason = "not connected"
	}
	return shared.Errorf(shared.EUNAVAILABLE,
		"the origin %s is not reachable (%s): users, groups, roles, API tokens, templates and variables are changed at the origin, so this change cannot be made until it is back; nothing was changed",
		s.leaf.OriginURL, reason)
}

// originDo sends req to the origin. A request that gets no answer, other
// than one its client gave up on, makes the uplink probe its link at once:
// a hung or cut-off origin keeps the websocket open, and the next request
// should fail at once rather than wait as this one did.
func (s *Server) originDo(req *http.Request) (*http.Response, error) {
	resp, err := s.leaf.HTTPClient.Do(req)
	if err != nil && !errors.Is(err, context.Canceled) {
		s.leaf.Uplink.Probe()
	}
	return resp, err
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
// leaf, to the origin and relays the origin's answer. The request goes
// with the caller's own Authorization header (an API token, which the
// origin knows) or none; a session opened at this leaf is refused with 409,
// since the origin does not know it. With the origin unreachable it fails
// at once with 503. Nothing is queued.
func (s *Server) forward(w http.ResponseWriter, r *http.Request) {
	if err := s.forwardTo(w, r); err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) forwardTo(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.originDown(); err != nil {
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
		secret, ok := s.originSessions.get(sessionID)
		if !ok {
			return shared.Errorf(shared.ECONFLICT,
				"this server is a leaf of location %s, and this change is made at the origin %s, which does not know this session (the origin was not reachable at login, or this leaf restarted since): log in again, send the request with an API token (Authorization: Bearer <token>), or make the change at the origin",
				s.location, s.leaf.OriginURL)
		}
		authorization = "Bearer " + secret
	}
	base, err := s.originBase(ctx)
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
	resp, err := s.originDo(req)
	if err != nil {
		if ctx.Err() != nil {
			return shared.Errorf(shared.EUNAVAILABLE, "the request to the origin %s was cancelled", s.leaf.OriginURL)
		}
		return shared.Wrap(shared.EUNAVAILABLE, err,
			"the origin %s did not answer (%s): the change may not have been made; try again when it is reachable", s.leaf.OriginURL, transportReason(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxForwardedAnswer))
	if err != nil {
		return shared.Wrap(shared.EUNAVAILABLE, err, "the answer of the origin %s broke off", s.leaf.OriginURL)
	}
	if sessionID != "" && resp.StatusCode == http.StatusUnauthorized {
		// The session at the origin ended before the one here.
		s.originSessions.drop(sessionID)
		return shared.Errorf(shared.ECONFLICT, "your session at the origin %s has ended while the one at this leaf goes on: log in again to make changes there", s.leaf.OriginURL)
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

// transportReason shortens a failed request's error to its cause.
func transportReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// originClient returns a client of the origin's REST API that sends token
// ("" for none) and header. Like originDo, a request that gets no answer,
// other than one its caller gave up on, makes the uplink probe its link.
func (s *Server) originClient(ctx context.Context, token string, header http.Header) (*client.Client, error) {
	base, err := s.originBase(ctx)
	if err != nil {
		return nil, err
	}
	hc := *s.leaf.HTTPClient
	hc.Transport = probing{next: hc.Transport, probe: s.leaf.Uplink.Probe}
	c, err := client.New(client.Config{Address: base, Token: token, HTTPClient: &hc, UserAgent: "knot/" + s.version, Header: header})
	if err != nil {
		return nil, shared.Wrap(shared.EUNAVAILABLE, err, "the origin URL %s is not usable", quote(base))
	}
	return c, nil
}

// probing is a RoundTripper that calls probe when a request gets no answer
// and its caller did not give up on it.
type probing struct {
	next  http.RoundTripper // nil: http.DefaultTransport
	probe func()
}

func (p probing) RoundTrip(req *http.Request) (*http.Response, error) {
	next := p.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	if err != nil && !errors.Is(err, context.Canceled) {
		p.probe()
	}
	return resp, err
}

// originUsage asks the origin what the spaces of user at every other
// location use. It fails at once when the origin is not reachable.
func (s *Server) originUsage(ctx context.Context, userID string) (api.LeafUsage, error) {
	var u api.LeafUsage
	if s.leaf.Token == "" {
		return u, shared.Errorf(shared.EUNAVAILABLE, "this leaf has no credential to ask the origin")
	}
	if err := s.originDown(); err != nil {
		return u, err
	}
	c, err := s.originClient(ctx, s.leaf.Token, nil)
	if err != nil {
		return u, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got, err := c.Leaves().Usage(ctx, userID, s.location)
	var re *client.ResponseError
	var te *client.TransportError
	switch {
	case errors.As(err, &re):
		return u, shared.Errorf(shared.EUNAVAILABLE, "the origin answered %d %s: %s", re.StatusCode, http.StatusText(re.StatusCode), strings.TrimSpace(string(re.Body)))
	case errors.As(err, &te):
		return u, shared.Wrap(shared.EUNAVAILABLE, err, "the origin did not answer: %s", transportReason(te.Err))
	case err != nil:
		return u, shared.Wrap(shared.EUNAVAILABLE, err, "the origin's answer does not decode")
	}
	return *got, nil
}

func addUsage(u *api.LeafUsage, o api.LeafUsage) {
	u.NumberSpaces += o.NumberSpaces
	u.NumberSpacesDeployed += o.NumberSpacesDeployed
	u.UsedComputeUnits += o.UsedComputeUnits
	u.UsedStorageUnits += o.UsedStorageUnits
}

// handleLeafStatus serves GET /api/leaf/status on a leaf.
func (s *Server) handleLeafStatus(w http.ResponseWriter, r *http.Request, p *principal) error {
	if s.leaf == nil {
		return notFound("this server is not a leaf: it has no origin (it is %s)", s.roleName())
	}
	st := s.leaf.Uplink.Status()
	loc := st.Location
	if loc == "" {
		loc = s.location
	}
	if st.Epoch == "" {
		// Not connected since the start: the replica state is in the store.
		if e, a, err := s.store.Replica(r.Context()); err == nil {
			st.Epoch, st.Applied = e, a
		}
	}
	writeJSON(w, http.StatusOK, api.LeafStatus{
		Location: loc, OriginServer: s.leaf.OriginURL, OriginReachable: st.Connected, Reason: st.Reason,
		Since: timePtr(st.Since), NextAttempt: timePtr(st.NextAttempt), Protocol: st.Protocol, Restricted: st.Restricted,
		Epoch: st.Epoch, AppliedRevision: st.Applied, HeadRevision: max(st.Head, st.Applied), Lag: st.Lag, PendingReports: st.PendingReports,
		PreviousEpoch: st.PreviousEpoch, EpochChangedAt: timePtr(st.EpochChangedAt), ReplicaBackup: st.ReplicaBackup,
	})
	return nil
}

// maxOriginSessions bounds the origin sessions a leaf keeps; past it, it
// starts over (the sessions concerned then get 409 until they log in again).
const maxOriginSessions = 10000

// originSessions maps leaf session ids to origin session secrets, in memory
// only: a restarted leaf forgets them.
type originSessions struct {
	mu sync.Mutex
	m  map[string]string // guarded by mu
}

func (o *originSessions) get(id string) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	v, ok := o.m[id]
	return v, ok
}

func (o *originSessions) put(id, secret string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil || len(o.m) >= maxOriginSessions {
		o.m = map[string]string{}
	}
	o.m[id] = secret
}

func (o *originSessions) drop(id string) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	v, ok := o.m[id]
	delete(o.m, id)
	return v, ok
}

// originLogin logs in at the origin with the credentials that opened the
// session id here (the TOTP code too, which the origin checks for itself),
// when the origin is reachable, and keeps the origin's session for the
// writes this session makes. A failure only means those writes get 409; the
// login here stands.
func (s *Server) originLogin(ctx context.Context, id, email, password, totpCode string) {
	if s.originDown() != nil {
		return
	}
	c, err := s.originClient(ctx, "", http.Header{"X-Knot-Leaf": {s.location}})
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	login, err := c.Auth().Login(ctx, api.LoginRequest{Email: email, Password: password, TOTPCode: totpCode})
	var te *client.TransportError
	switch {
	case errors.As(err, &te):
		s.log.InfoContext(ctx, "no session at the origin for a login here", "reason", transportReason(te.Err))
		return
	case err != nil || login.Token == "":
		s.log.InfoContext(ctx, "no session at the origin for a login here", "status", client.StatusOf(err))
		return
	}
	s.originSessions.put(id, login.Token)
}

// originLogout ends the origin session kept for the session id, if any.
func (s *Server) originLogout(ctx context.Context, id string) {
	secret, ok := s.originSessions.drop(id)
	if !ok || s.originDown() != nil {
		return
	}
	c, err := s.originClient(ctx, secret, nil)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = c.Auth().Logout(ctx)
}
