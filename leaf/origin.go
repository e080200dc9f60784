package leaf

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
)

// Origin is a leaf's way to the REST API of its origin, beside the
// replication link. The leaf's services for origin-owned data send their
// writes through it with Forward, acting as their caller there; the leaf
// asks it what a user's spaces elsewhere use (Usage); and a login at the
// leaf opens a session at the origin too (Login), which the writes of that
// session then present. It is safe for concurrent use.
type Origin struct {
	opts     OriginOptions
	sessions originSessions
}

// OriginOptions configures an Origin.
type OriginOptions struct {
	// URL is the origin's URL as configured (server.origin_server):
	// http(s)://, ws(s):// or srv+. Required.
	URL string
	// Resolve turns a srv+ URL into a plain one; nil means a srv+ origin
	// cannot be reached this way.
	Resolve func(ctx context.Context, url string) (string, error)
	// HTTPClient sends the requests; nil means a client with a 30 second
	// timeout.
	HTTPClient *http.Client
	// Uplink is the leaf's link to the origin: while it is down every
	// request fails at once with EUNAVAILABLE, and a request that gets no
	// answer makes it probe its link. nil means the origin counts as
	// reachable (for tests).
	Uplink *Uplink
	// Location is the leaf's location, sent with every request.
	Location string
	// Token is the leaf's own credential at the origin, with which it asks
	// for usage; "" means it cannot.
	Token string
	// Version is the leaf's version, for the User-Agent of its own
	// requests; "" means "dev".
	Version string
	// Logger logs what fails quietly (a login at the origin); nil means
	// slog.Default().
	Logger *slog.Logger
}

// NewOrigin returns the way to the origin opts describes. It sends nothing.
func NewOrigin(opts OriginOptions) *Origin {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Origin{opts: opts}
}

// URL returns the origin's URL as configured.
func (o *Origin) URL() string { return o.opts.URL }

// Location returns the leaf's location.
func (o *Origin) Location() string { return o.opts.Location }

// Down returns nil while the link to the origin is up, and otherwise the
// EUNAVAILABLE error of a write that cannot be made.
func (o *Origin) Down() error {
	if o.opts.Uplink == nil {
		return nil
	}
	st := o.opts.Uplink.Status()
	if st.Connected {
		return nil
	}
	reason := st.Reason
	if reason == "" {
		reason = "not connected"
	}
	return shared.Errorf(shared.EUNAVAILABLE,
		"the origin %s is not reachable (%s): users, groups, roles, API tokens, templates and variables are changed at the origin, so this change cannot be made until it is back; nothing was changed",
		o.opts.URL, reason)
}

// base returns the origin's base URL for REST requests, without a trailing
// slash, resolving a srv+ name.
func (o *Origin) base(ctx context.Context) (string, error) {
	raw := o.opts.URL
	if isSRV(raw) {
		if o.opts.Resolve == nil {
			return "", shared.Errorf(shared.EUNAVAILABLE, "the origin %s is a srv+ name and this leaf has no resolver for it", raw)
		}
		r, err := o.opts.Resolve(ctx, raw)
		if err != nil {
			return "", shared.Wrap(shared.EUNAVAILABLE, err, "the origin %s could not be resolved: %s", raw, shared.ErrorMessage(err))
		}
		raw = r
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", shared.Errorf(shared.EUNAVAILABLE, "the origin URL %s is not usable", strconv.Quote(raw))
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

// httpClient returns the client of every request to the origin: one that
// gets no answer, other than one its caller gave up on, makes the uplink
// probe its link at once. A hung or cut-off origin keeps the websocket
// open, and the next request should fail at once rather than wait as this
// one did.
func (o *Origin) httpClient() *http.Client {
	hc := *o.opts.HTTPClient
	if o.opts.Uplink != nil {
		hc.Transport = probing{next: hc.Transport, probe: o.opts.Uplink.Probe}
	}
	return &hc
}

// Client returns a client of the origin that sends token ("" for none),
// userAgent ("" for the leaf's own) and header, and probes as httpClient
// says.
func (o *Origin) Client(ctx context.Context, token, userAgent string, header http.Header) (*client.Client, error) {
	base, err := o.base(ctx)
	if err != nil {
		return nil, err
	}
	if userAgent == "" {
		userAgent = "knot/" + o.opts.Version
	}
	c, err := client.New(client.Config{Address: base, Token: token, HTTPClient: o.httpClient(), UserAgent: userAgent, Header: header})
	if err != nil {
		return nil, shared.Wrap(shared.EUNAVAILABLE, err, "the origin URL %s is not usable", strconv.Quote(base))
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

// Forward makes call, a write of origin-owned data (or a read the origin
// alone can answer), at the origin, acting for the caller of ctx with the
// credential they presented here (shared.CredentialFrom): their API token,
// or the session the leaf opened at the origin when they logged in here.
// It is the one way the leaf's services reach the origin; a service makes
// one call per write:
//
//	id, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (string, error) {
//		return c.Groups().Create(ctx, req)
//	})
//
// It fails at once with EUNAVAILABLE while the origin is down (o nil
// included), without sending anything. The origin's refusal comes back as
// its *shared.Error, with the code of its status and its message as they
// were. A session of the leaf that the origin does not know (opened while
// it was down, or before the leaf restarted), or that the origin ended, is
// ECONFLICT, saying to log in again or use an API token; a call that got
// no answer is EUNAVAILABLE, saying that the change may have been made.
// Nothing is queued.
func Forward[T any](ctx context.Context, o *Origin, call func(ctx context.Context, c *client.Client) (T, error)) (T, error) {
	var zero T
	if _, err := shared.ActorRequired(ctx); err != nil {
		return zero, err
	}
	if o == nil {
		return zero, shared.Errorf(shared.EUNAVAILABLE, "this leaf has no way to the origin for writes: make the change at the origin")
	}
	if err := o.Down(); err != nil {
		return zero, err
	}
	cred, _ := shared.CredentialFrom(ctx)
	token := cred.Token
	if token == "" && cred.SessionID != "" {
		secret, err := o.SessionToken(cred.SessionID)
		if err != nil {
			return zero, err
		}
		token = secret
	}
	if token == "" {
		return zero, shared.Errorf(shared.EUNAUTHORIZED, "this change is made at the origin %s, and the call carries no credential of its caller to present there", o.opts.URL)
	}
	return send(ctx, o, token, call)
}

// send makes call at the origin o with token ("" for none) and the rest of
// the credential of ctx, as Forward describes, once the origin is up.
func send[T any](ctx context.Context, o *Origin, token string, call func(ctx context.Context, c *client.Client) (T, error)) (T, error) {
	var zero T
	cred, _ := shared.CredentialFrom(ctx)
	header := http.Header{"X-Knot-Leaf": {o.opts.Location}}
	if cred.ForwardedFor != "" {
		header.Set("X-Forwarded-For", cred.ForwardedFor)
	}
	c, err := o.Client(ctx, token, cred.UserAgent, header)
	if err != nil {
		return zero, err
	}
	got, err := call(ctx, c)
	var re *client.ResponseError
	if cred.Answered != nil && (err == nil || errors.As(err, &re)) {
		cred.Answered()
	}
	if err == nil {
		return got, nil
	}
	var te *client.TransportError
	switch {
	case errors.As(err, &re) && re.StatusCode == http.StatusUnauthorized && cred.Token == "" && cred.SessionID != "":
		return zero, o.SessionEnded(cred.SessionID)
	case errors.As(err, &re):
		if re.RetryAfter > 0 {
			return zero, &shared.RetryError{Err: re.Err, After: re.RetryAfter}
		}
		return zero, re.Err
	case ctx.Err() != nil || errors.As(err, &te):
		return zero, o.noAnswer(ctx, err)
	case shared.ErrorCode(err) != shared.EINTERNAL:
		return zero, err
	}
	return zero, shared.Wrap(shared.EUNAVAILABLE, err, "the answer of the origin %s is not one this leaf understands: the change may have been made", o.opts.URL)
}

// Identify asks the origin whose API token secret is, for a write made at
// the leaf with a token its replica does not hold yet (one just created at
// the origin). It returns the user and their permissions as the origin
// answers; EUNAVAILABLE at once while the origin is down, and the origin's
// refusal as its error.
func (o *Origin) Identify(ctx context.Context, secret string) (*shared.User, []shared.Permission, error) {
	if err := o.Down(); err != nil {
		return nil, nil, err
	}
	c, err := o.Client(ctx, secret, "", http.Header{"X-Knot-Leaf": {o.opts.Location}})
	if err != nil {
		return nil, nil, err
	}
	me, err := c.Users().WhoAmI(ctx)
	var re *client.ResponseError
	switch {
	case errors.As(err, &re):
		return nil, nil, re.Err
	case err != nil:
		return nil, nil, o.noAnswer(ctx, err)
	}
	return userOf(me), me.Permissions, nil
}

// noAnswer returns the EUNAVAILABLE error of a request that got no answer
// with err.
func (o *Origin) noAnswer(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return shared.Errorf(shared.EUNAVAILABLE, "the request to the origin %s was cancelled", o.opts.URL)
	}
	return shared.Wrap(shared.EUNAVAILABLE, err,
		"the origin did not answer: %s; the change may not have been made: try again when it is reachable", o.transportReason(err))
}

// transportReason says in words why a request got no answer, as the leaf's
// banner does (unreachable), with the cause as Go gives it when the words
// know no more than that the origin cannot be reached.
func (o *Origin) transportReason(err error) string {
	var te *client.TransportError
	if errors.As(err, &te) {
		err = te.Err
	}
	words, known := client.Unreachable(originWording, o.opts.URL, err)
	if known {
		return words
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return words + ": " + err.Error()
}

// Usage asks the origin what the spaces of userID at every location other
// than the leaf's use, with the leaf's own credential. It fails at once
// with EUNAVAILABLE while the origin is down, and every failure is
// EUNAVAILABLE.
func (o *Origin) Usage(ctx context.Context, userID string) (shared.Usage, error) {
	if o.opts.Token == "" {
		return shared.Usage{}, shared.Errorf(shared.EUNAVAILABLE, "this leaf has no credential to ask the origin")
	}
	if err := o.Down(); err != nil {
		return shared.Usage{}, err
	}
	c, err := o.Client(ctx, o.opts.Token, "", nil)
	if err != nil {
		return shared.Usage{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got, err := c.Leaves().Usage(ctx, userID, o.opts.Location)
	var re *client.ResponseError
	var te *client.TransportError
	switch {
	case errors.As(err, &re):
		return shared.Usage{}, shared.Errorf(shared.EUNAVAILABLE, "the origin answered %d %s: %s", re.StatusCode, http.StatusText(re.StatusCode), strings.TrimSpace(string(re.Body)))
	case errors.As(err, &te):
		return shared.Usage{}, shared.Wrap(shared.EUNAVAILABLE, err, "the origin did not answer: %s", o.transportReason(err))
	case err != nil:
		return shared.Usage{}, shared.Wrap(shared.EUNAVAILABLE, err, "the origin's answer does not decode")
	}
	return shared.Usage(*got), nil
}

// Login logs in at the origin with the credentials that opened the session
// id here (the TOTP code too, which the origin checks for itself), when the
// origin is reachable, and keeps the origin's session for the writes this
// session makes. A failure only means those writes get ECONFLICT; the login
// here stands.
func (o *Origin) Login(ctx context.Context, id, email, password, totpCode string) {
	if o.Down() != nil {
		return
	}
	// The user agent names the leaf, so that the user's list of sessions
	// at the origin says where this one comes from.
	ua := "knot/" + o.opts.Version + " leaf/" + o.opts.Location
	c, err := o.Client(ctx, "", ua, http.Header{"X-Knot-Leaf": {o.opts.Location}})
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	login, err := c.Auth().Login(ctx, api.LoginRequest{Email: email, Password: password, TOTPCode: totpCode})
	var te *client.TransportError
	switch {
	case errors.As(err, &te):
		o.opts.Logger.InfoContext(ctx, "no session at the origin for a login here", "reason", o.transportReason(err))
		return
	case err != nil || login.Token == "":
		o.opts.Logger.InfoContext(ctx, "no session at the origin for a login here", "status", client.StatusOf(err))
		return
	}
	o.sessions.put(id, login.Token)
}

// Logout ends the origin session kept for the session id here, if any.
func (o *Origin) Logout(ctx context.Context, id string) {
	secret, ok := o.sessions.drop(id)
	if !ok || o.Down() != nil {
		return
	}
	c, err := o.Client(ctx, secret, "", nil)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = c.Auth().Logout(ctx)
}

// SessionToken returns the secret of the origin session kept for the
// session id here, with which a write of that session goes to the origin;
// ECONFLICT when there is none.
func (o *Origin) SessionToken(id string) (string, error) {
	secret, ok := o.sessions.get(id)
	if !ok {
		return "", shared.Errorf(shared.ECONFLICT,
			"this server is a leaf of location %s, and this change is made at the origin %s, which does not know this session (the origin was not reachable at login, or this leaf restarted since): log in again, send the request with an API token (Authorization: Bearer <token>), or make the change at the origin",
			o.opts.Location, o.opts.URL)
	}
	return secret, nil
}

// SessionEnded forgets the origin session kept for the session id here,
// which the origin refused (it ended before the one here), and returns the
// ECONFLICT error that says so.
func (o *Origin) SessionEnded(id string) error {
	o.sessions.drop(id)
	return shared.Errorf(shared.ECONFLICT, "your session at the origin %s has ended while the one at this leaf goes on: log in again to make changes there", o.opts.URL)
}

// maxOriginSessions bounds the origin sessions a leaf keeps; past it, it
// starts over (the sessions concerned then get ECONFLICT until they log in
// again).
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
