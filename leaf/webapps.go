package leaf

// Web apps: the ports a space's template declares in http_ports, served
// over HTTP and websockets to the space's owner and users with Manage
// Spaces, relayed to 127.0.0.1:PORT in the space over the agent link.
//
//   - Always at /proxy/spaces/{space_id}/ports/{port}/ on this server
//     (the prefix is removed; X-Forwarded-Prefix says what it was), and,
//     with server.wildcard_domain (*.example.com), at
//     USER--SPACE--PORT.example.com, the app at the root of its own host.
//   - Never anonymous. The path proxy takes the knot session (cookie or
//     bearer token) as any route does. A wildcard host takes a bearer
//     token, or its own cookie, __KNOT_APP: a browser without it is sent
//     to this server's /proxy/auth, which, for a logged-in user who may
//     open the app, makes a one-time code (valid 60 seconds, for that host
//     alone) and sends the browser back to /__knot_auth on the app host;
//     that redeems the code and sets __KNOT_APP, host-only, HttpOnly,
//     SameSite=Lax. The cookie stands for the knot session (or token) it
//     was made from and lives no longer: every request checks that session
//     and the user's right to the space again, so logging out ends it.
//   - The app never sees knot's credentials: the cookies __KNOT_SESSION,
//     __KNOT_CSRF and __KNOT_APP and the headers Authorization and
//     X-CSRF-Token are removed before a request reaches it, and a
//     Set-Cookie of a __KNOT_ cookie from it is dropped.
//   - A request carried by a cookie that changes something (not GET or
//     HEAD) or opens a websocket must come from the app's own origin when
//     the browser names one (Origin): another app on the same site cannot
//     act with the user's cookie. On the path proxy, a user who opens
//     another user's app gets it sandboxed (Content-Security-Policy:
//     sandbox), so its scripts cannot act with that user's knot session.
//   - A port the template does not declare is 404 saying so (WebApp); the
//     owner reaches any port with knot forward port.
//   - Connections to the app are pooled per user, client address, space
//     and port, and each is audited when it ends (who, from where, the
//     port, how long, the bytes each way; DialWebApp).
//
// Here are who may open an app, the finding of a space by its app host,
// and the one-time codes and cookies of the wildcard hosts; the HTTP
// (the proxy, the cookies, the redirects) is package web's (webapps.go).

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

const (
	// AppCodeTTL is how long a one-time code of a web app login is valid.
	AppCodeTTL = time.Minute
	// AppGrantTTL bounds the life of an app cookie; the session it stands
	// for usually ends it first.
	AppGrantTTL = 12 * time.Hour
	// maxAppGrants bounds the codes and cookies kept.
	maxAppGrants = 100_000
)

// AppGrants keeps the one-time codes and cookies of web app hosts. Its
// methods are safe for concurrent use.
type AppGrants struct {
	domain string // ".example.com"; "" without a wildcard domain

	mu     sync.Mutex
	grants map[string]AppGrant // by the SHA-256 of a code or cookie; guarded by mu
}

// AppGrant is what a one-time code or an app cookie stands for.
type AppGrant struct {
	Host      string // the app host, lower case, without a port
	SessionID string // the knot session, or
	TokenID   string // the API token
	UserID    string
	Code      bool // a one-time code, not a cookie
	Expires   time.Time
}

// NewAppGrants returns the grants of the web apps of wildcard
// ("*.example.com"; "" means none).
func NewAppGrants(wildcard string) *AppGrants {
	a := &AppGrants{grants: map[string]AppGrant{}}
	if wildcard != "" {
		a.domain = "." + strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(wildcard, "*."), "."))
	}
	return a
}

// AppHost returns the first label of host when host is an app host of
// the wildcard domain.
func (a *AppGrants) AppHost(host string) (string, bool) {
	if a.domain == "" {
		return "", false
	}
	label, ok := strings.CutSuffix(hostOnly(host), a.domain)
	if !ok || label == "" || strings.Contains(label, ".") {
		return "", false
	}
	return label, true
}

// AppURL reads raw, the URL of a web app (in the query parameter to of a
// login), and returns it and the label of its app host. EINVALID when it
// is not the http(s) URL of an app host of the wildcard domain.
func (a *AppGrants) AppURL(raw string) (*url.URL, string, error) {
	to, err := url.Parse(raw)
	if err != nil || (to.Scheme != "http" && to.Scheme != "https") {
		return nil, "", shared.Errorf(shared.EINVALID, "query parameter to must be the http(s) URL of a web app")
	}
	label, ok := a.AppHost(to.Host)
	if !ok {
		return nil, "", shared.Errorf(shared.EINVALID, "%s is not a host of this server's web apps (server.wildcard_domain)", quote(to.Host))
	}
	return to, label, nil
}

// AppLogin returns where the browser of the actor, logged in with the
// knot session sessionID or the API token tokenID, goes to open the web
// app at raw (the query parameter to of GET /proxy/auth): authPath on the
// app host, with a one-time code and the path to go on to. EINVALID as
// AppURL; as AppSpace and Issue.
func (a *Access) AppLogin(ctx context.Context, c Caller, g *AppGrants, raw, authPath, sessionID, tokenID string) (string, error) {
	to, label, err := g.AppURL(raw)
	if err != nil {
		return "", err
	}
	if _, _, err := a.AppSpace(ctx, c, label); err != nil {
		return "", err
	}
	code, err := g.Issue(to.Host, sessionID, tokenID, shared.ActorFrom(ctx).User.ID, a.opts.Now())
	if err != nil {
		return "", err
	}
	return to.Scheme + "://" + to.Host + authPath + "?code=" + url.QueryEscape(code) + "&next=" + url.QueryEscape(to.RequestURI()), nil
}

// AppNext returns next, where a browser goes after its app login, when it
// is a path of the app host, and "/" otherwise: browsers read a backslash
// as a slash and drop tabs and newlines, so "/\evil.example" leads
// elsewhere.
func AppNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || len(next) > 2048 ||
		strings.ContainsFunc(next, func(c rune) bool { return c == '\\' || c < 0x20 || c == 0x7f }) {
		return "/"
	}
	return next
}

// ParseAppLabel splits USER--SPACE--PORT; ENOTFOUND when label is not one.
func ParseAppLabel(label string) (user, space string, port int, err error) {
	parts := strings.Split(label, "--")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return "", "", 0, shared.Errorf(shared.ENOTFOUND, "%s is not a web app's host: USER--SPACE--PORT", quote(label))
	}
	port, perr := strconv.Atoi(parts[2])
	if perr != nil || port < 1 || port > 65535 || strconv.Itoa(port) != parts[2] {
		return "", "", 0, shared.Errorf(shared.ENOTFOUND, "%s is not a web app's host: its port must be from 1 to 65535", quote(label))
	}
	return parts[0], parts[1], port, nil
}

// Put keeps a grant under a new secret and returns the secret.
// EUNAVAILABLE when too many are kept.
func (a *AppGrants) Put(g AppGrant, now time.Time) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.grants) >= maxAppGrants {
		for k, v := range a.grants {
			if now.After(v.Expires) {
				delete(a.grants, k)
			}
		}
		if len(a.grants) >= maxAppGrants {
			return "", shared.Errorf(shared.EUNAVAILABLE, "too many web app logins are open; try again later")
		}
	}
	secret := crypt.NewToken()
	a.grants[crypt.HashToken(secret)] = g
	return secret, nil
}

// hostOnly is host without its port, in lower case.
func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(host)
}

// Issue keeps a one-time code for the app host host (a port is ignored),
// valid for AppCodeTTL, that stands for the knot session sessionID or the
// API token tokenID of user userID, and returns the code. EUNAVAILABLE
// when too many are kept.
func (a *AppGrants) Issue(host, sessionID, tokenID, userID string, now time.Time) (string, error) {
	return a.Put(AppGrant{Host: hostOnly(host), SessionID: sessionID, TokenID: tokenID, UserID: userID,
		Code: true, Expires: now.Add(AppCodeTTL)}, now)
}

// Redeem uses up the one-time code of host and returns the secret of the
// app cookie that stands for the same login, valid for at most
// AppGrantTTL. EUNAUTHORIZED when the code is not valid for host or was
// used; EUNAVAILABLE as Put.
func (a *AppGrants) Redeem(code, host string, now time.Time) (string, error) {
	g, ok := a.Get(code, hostOnly(host), true, now)
	if !ok {
		return "", shared.Errorf(shared.EUNAUTHORIZED, "the code of this web app login is not valid or was used: open the app again")
	}
	g.Code, g.Expires = false, now.Add(AppGrantTTL)
	return a.Put(g, now)
}

// Cookie returns the grant of the app cookie secret of host. EUNAUTHORIZED
// when the cookie is not one of host's or has ended.
func (a *AppGrants) Cookie(secret, host string, now time.Time) (AppGrant, error) {
	g, ok := a.Get(secret, hostOnly(host), false, now)
	if !ok {
		return AppGrant{}, shared.Errorf(shared.EUNAUTHORIZED, "the login of this web app has ended: open it again")
	}
	return g, nil
}

// Get returns the grant of secret for host; a code is used up.
func (a *AppGrants) Get(secret, host string, code bool, now time.Time) (AppGrant, bool) {
	k := crypt.HashToken(secret)
	a.mu.Lock()
	defer a.mu.Unlock()
	g, ok := a.grants[k]
	if !ok || g.Code != code {
		return AppGrant{}, false
	}
	if code || now.After(g.Expires) {
		delete(a.grants, k)
	}
	return g, g.Host == host && !now.After(g.Expires)
}

// AppSpace returns the space and port of the app host label when the
// actor may open it as a web app. ENOTFOUND for a label that is not an
// app's, and as SpaceNamed and WebApp.
func (a *Access) AppSpace(ctx context.Context, c Caller, label string) (*shared.Space, int, error) {
	username, name, port, err := ParseAppLabel(label)
	if err != nil {
		return nil, 0, err
	}
	sp, err := a.SpaceNamed(ctx, username, name)
	if err != nil {
		return nil, 0, err
	}
	return sp, port, a.WebApp(ctx, c, sp, port)
}

// SpaceNamed returns the space name of the user username, names in any
// case: the one at this server's location, else the one of that name at
// another location (appsElsewhere; its web apps are relayed there).
// ENOTFOUND when the user or the space is not there, ECONFLICT when
// several other locations have one; it says nothing of who may use the
// space.
func (a *Access) SpaceNamed(ctx context.Context, username, name string) (*shared.Space, error) {
	u, err := storage.Lookup[shared.User](ctx, a.opts.Store, "username:"+strings.ToLower(username))
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		return nil, shared.Errorf(shared.ENOTFOUND, "space %s of user %s not found", quote(name), quote(username))
	} else if err != nil {
		return nil, err
	}
	sp, err := storage.Lookup[shared.Space](ctx, a.opts.Store, "name:"+u.ID+"/"+strings.ToLower(a.opts.Location)+"/"+strings.ToLower(name))
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		return a.apps.spaceElsewhere(ctx, a.opts.Store, a.opts.Location, u, name)
	}
	return sp, err
}

// DialWebApp connects to the web app on port of sp (one WebApp or
// AppSpace allowed) through its agent, as DialPort does. The connection is
// audited when it opens and when it closes.
func (a *Access) DialWebApp(ctx context.Context, c Caller, sp *shared.Space, port int) (net.Conn, error) {
	pc, visit, err := a.DialPort(ctx, c, sp, Way{Kind: "web app", Port: port})
	if err != nil {
		return nil, err
	}
	visit.Begin()
	return &auditedConn{PortConn: pc, closed: func() { visit.End("the connection closed") }}, nil
}

// auditedConn audits its connection once, when it closes.
type auditedConn struct {
	*PortConn
	once   sync.Once
	closed func()
}

func (c *auditedConn) Close() error {
	err := c.PortConn.Close()
	c.once.Do(c.closed)
	return err
}

// WebAppError is the error of a request to the web app on port of sp
// whose connection failed with err: a refusal of the space's leaf (its
// disable_proxy, its checks) keeps its code; anything else is the app not
// answering (EUNAVAILABLE).
func WebAppError(err error, port int, sp *shared.Space) error {
	why, code := "it does not answer", shared.ErrorCode(err)
	if code != shared.EINTERNAL {
		why = shared.ErrorMessage(err)
	}
	if code != shared.EFORBIDDEN && code != shared.ENOTFOUND {
		code = shared.EUNAVAILABLE
	}
	return shared.Wrap(code, err, "web app on port %d of space %s: %s", port, quote(sp.Name), why)
}

// WebApp checks that the actor may open port of sp as a web app: as
// Forward, and the port is one of the http_ports of its template
// (ENOTFOUND saying so).
func (a *Access) WebApp(ctx context.Context, c Caller, sp *shared.Space, port int) error {
	if err := a.mayForward(ctx, c, sp, Way{Kind: "web app", Port: port}); err != nil {
		return err
	}
	t, err := storage.Get[shared.Template](ctx, a.opts.Store, sp.TemplateID)
	if err != nil && shared.ErrorCode(err) != shared.ENOTFOUND {
		return err
	}
	if t == nil {
		return shared.Errorf(shared.ENOTFOUND, "port %d of space %s is not a web app: its template is gone", port, quote(sp.Name))
	}
	if _, ok := t.WebPort(port); !ok {
		return shared.Errorf(shared.ENOTFOUND, "port %d of space %s is not a web app: its template %s does not list it in http_ports (knot forward port reaches any port)", port, quote(sp.Name), quote(t.Name))
	}
	return nil
}
