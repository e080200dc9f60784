package web

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
//   - A port the template does not declare is 404 saying so; the owner
//     reaches any port with knot forward port (ports.go).
//   - Connections to the app are pooled per user, client address, space
//     and port, and each is audited when it ends (who, from where, the
//     port, how long, the bytes each way).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
	"github.com/knot-dev/knot/web/ui"
)

const (
	appCookie   = "__KNOT_APP"
	appAuthPath = "/__knot_auth"
	// appCodeTTL is how long a one-time code of /proxy/auth is valid.
	appCodeTTL = time.Minute
	// appGrantTTL bounds the life of an app cookie; the session it stands
	// for usually ends it first.
	appGrantTTL = 12 * time.Hour
	// maxAppGrants bounds the codes and cookies kept.
	maxAppGrants = 100_000
)

// webApps is the state of the web app proxy.
type webApps struct {
	domain    string // ".example.com"; "" without a wildcard domain
	transport *http.Transport

	mu     sync.Mutex
	grants map[string]appGrant // by the SHA-256 of a code or cookie; guarded by mu
}

// appGrant is what a one-time code or an app cookie stands for.
type appGrant struct {
	host      string // the app host, lower case, without a port
	sessionID string // the knot session, or
	tokenID   string // the API token
	userID    string
	code      bool // a one-time code, not a cookie
	expires   time.Time
}

// appDial is what the transport needs to dial and audit a connection;
// it travels in the request's context.
type appDial struct {
	s    *Server
	r    *http.Request // a copy of the first request's address and agent
	p    *principal
	sp   *shared.Space
	port int
}

type appDialKey struct{}

func newWebApps(wildcard string) *webApps {
	a := &webApps{grants: map[string]appGrant{}}
	if wildcard != "" {
		a.domain = "." + strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(wildcard, "*."), "."))
	}
	a.transport = &http.Transport{
		DialContext:           a.dial,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       time.Minute,
		ResponseHeaderTimeout: 5 * time.Minute,
		ForceAttemptHTTP2:     false,
	}
	return a
}

// dial opens a connection to the app of the request whose context ctx is.
func (a *webApps) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	d, ok := ctx.Value(appDialKey{}).(*appDial)
	if !ok {
		return nil, errors.New("web app: no space to dial")
	}
	pc, err := d.s.agents.DialPort(ctx, d.sp.ID, d.port)
	if err != nil {
		return nil, err
	}
	began := d.s.now()
	return &auditedConn{PortConn: pc, closed: func() {
		d.s.auditPortConn(d.r, d.p, "web app", d.sp, d.port, began, pc, "the connection closed")
	}}, nil
}

// auditedConn audits its connection once, when it closes.
type auditedConn struct {
	*leaf.PortConn
	once   sync.Once
	closed func()
}

func (c *auditedConn) Close() error {
	err := c.PortConn.Close()
	c.once.Do(c.closed)
	return err
}

// appHost returns the first label of host when host is an app host of
// the wildcard domain.
func (a *webApps) appHost(host string) (string, bool) {
	if a.domain == "" {
		return "", false
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	label, ok := strings.CutSuffix(strings.ToLower(host), a.domain)
	if !ok || label == "" || strings.Contains(label, ".") {
		return "", false
	}
	return label, true
}

// parseAppLabel splits USER--SPACE--PORT.
func parseAppLabel(label string) (user, space string, port int, err error) {
	parts := strings.Split(label, "--")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return "", "", 0, notFound("%s is not a web app's host: USER--SPACE--PORT", quote(label))
	}
	port, perr := strconv.Atoi(parts[2])
	if perr != nil || port < 1 || port > 65535 || strconv.Itoa(port) != parts[2] {
		return "", "", 0, notFound("%s is not a web app's host: its port must be from 1 to 65535", quote(label))
	}
	return parts[0], parts[1], port, nil
}

// put keeps a grant under a new secret and returns the secret.
func (a *webApps) put(g appGrant, now time.Time) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.grants) >= maxAppGrants {
		for k, v := range a.grants {
			if now.After(v.expires) {
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

// get returns the grant of secret for host; a code is used up.
func (a *webApps) get(secret, host string, code bool, now time.Time) (appGrant, bool) {
	k := crypt.HashToken(secret)
	a.mu.Lock()
	defer a.mu.Unlock()
	g, ok := a.grants[k]
	if !ok || g.code != code {
		return appGrant{}, false
	}
	if code || now.After(g.expires) {
		delete(a.grants, k)
	}
	return g, g.host == host && !now.After(g.expires)
}

// appHosts is the middleware that serves the wildcard domain's hosts.
func (s *Server) appHosts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		label, ok := s.apps.appHost(r.Host)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if err := s.serveAppHost(w, r, label); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// serveAppHost serves a request to an app host.
func (s *Server) serveAppHost(w http.ResponseWriter, r *http.Request, label string) error {
	user, name, port, err := parseAppLabel(label)
	if err != nil {
		return err
	}
	host := hostOnly(r.Host)
	if r.URL.Path == appAuthPath {
		return s.redeemAppCode(w, r, host)
	}
	p, err := s.appPrincipal(r, host)
	if isCode(err, shared.EUNAUTHORIZED) && (r.Method == http.MethodGet || r.Method == http.MethodHead) && s.url != "" {
		to := schemeOf(r) + "://" + r.Host + r.URL.RequestURI()
		http.Redirect(w, r, strings.TrimSuffix(s.url, "/")+"/proxy/auth?to="+url.QueryEscape(to), http.StatusFound)
		return nil
	}
	if err != nil {
		return err
	}
	sp, err := s.spaceByOwnerName(r.Context(), user, name)
	if err != nil {
		return err
	}
	return s.proxyWebApp(w, r, p, sp, port, "")
}

// appPrincipal finds who a request to an app host acts as: a bearer
// token, or the app cookie and the knot session it stands for.
func (s *Server) appPrincipal(r *http.Request, host string) (*principal, error) {
	if r.Header.Get("Authorization") != "" {
		return s.authenticate(r)
	}
	c, err := r.Cookie(appCookie)
	if err != nil {
		return nil, errNotAuthenticated
	}
	g, ok := s.apps.get(c.Value, host, false, s.now())
	if !ok {
		return nil, shared.Errorf(shared.EUNAUTHORIZED, "the login of this web app has ended: open it again")
	}
	return s.grantPrincipal(r.Context(), g)
}

// grantPrincipal checks that the session or token of g still holds.
func (s *Server) grantPrincipal(ctx context.Context, g appGrant) (*principal, error) {
	id, err := s.auth.Identify(ctx, g.sessionID, g.tokenID)
	if err != nil {
		return nil, err
	}
	return principalOf(id, true), nil
}

// handleAppAuth serves GET /proxy/auth?to=URL: for a user who may open the
// web app at URL, a redirect there with a one-time code.
func (s *Server) handleAppAuth(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticate(r)
	if isCode(err, shared.EUNAUTHORIZED) && wantsHTML(r) {
		ui.Redirect(w, r, "/login?redirect="+url.QueryEscape(r.URL.RequestURI()))
		return
	}
	if err == nil {
		err = s.appAuth(w, r, p)
	}
	if err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) appAuth(w http.ResponseWriter, r *http.Request, p *principal) error {
	to, err := url.Parse(r.URL.Query().Get("to"))
	if err != nil || (to.Scheme != "http" && to.Scheme != "https") {
		return invalid("query parameter to must be the http(s) URL of a web app")
	}
	label, ok := s.apps.appHost(to.Host)
	if !ok {
		return invalid("%s is not a host of this server's web apps (server.wildcard_domain)", quote(to.Host))
	}
	user, name, port, err := parseAppLabel(label)
	if err != nil {
		return err
	}
	sp, err := s.spaceByOwnerName(r.Context(), user, name)
	if err != nil {
		return err
	}
	if err := s.webAppAllowed(r.Context(), r, p, sp, port); err != nil {
		return err
	}
	code, err := s.apps.put(appGrant{host: hostOnly(to.Host), sessionID: p.sessionID, tokenID: p.tokenID, userID: p.user.ID,
		code: true, expires: s.now().Add(appCodeTTL)}, s.now())
	if err != nil {
		return err
	}
	next := to.RequestURI()
	http.Redirect(w, r, to.Scheme+"://"+to.Host+appAuthPath+"?code="+url.QueryEscape(code)+"&next="+url.QueryEscape(next), http.StatusFound)
	return nil
}

// redeemAppCode serves /__knot_auth on an app host: it turns a one-time
// code into the app cookie and sends the browser on.
func (s *Server) redeemAppCode(w http.ResponseWriter, r *http.Request, host string) error {
	q := r.URL.Query()
	g, ok := s.apps.get(q.Get("code"), host, true, s.now())
	if !ok {
		return shared.Errorf(shared.EUNAUTHORIZED, "the code of this web app login is not valid or was used: open the app again")
	}
	g.code, g.expires = false, s.now().Add(appGrantTTL)
	secret, err := s.apps.put(g, s.now())
	if err != nil {
		return err
	}
	w.Header().Set("Referrer-Policy", "no-referrer") // the code is in this URL
	http.SetCookie(w, &http.Cookie{Name: appCookie, Value: secret, Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	next := q.Get("next")
	// Only a path of this host: browsers read a backslash as a slash and
	// drop tabs and newlines (see safeRedirect).
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || len(next) > 2048 ||
		strings.ContainsFunc(next, func(c rune) bool { return c == '\\' || c < 0x20 || c == 0x7f }) {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusFound)
	return nil
}

// handleWebAppPath serves /proxy/spaces/{space_id}/ports/{port}/*.
func (s *Server) handleWebAppPath(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticateCSRF(r, false)
	if isCode(err, shared.EUNAUTHORIZED) && r.Method == http.MethodGet && wantsHTML(r) {
		ui.Redirect(w, r, "/login?redirect="+url.QueryEscape(r.URL.RequestURI()))
		return
	}
	if err == nil {
		err = s.webAppPath(w, r, p)
	}
	if err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) webAppPath(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !p.canAny(shared.PermUseSpaces, shared.PermManageSpaces) {
		return needs(shared.PermUseSpaces, shared.PermManageSpaces)
	}
	sp, port, err := s.spacePort(r)
	if err != nil {
		return err
	}
	prefix := "/proxy/spaces/" + sp.ID + "/ports/" + strconv.Itoa(port)
	if r.URL.Path == prefix {
		http.Redirect(w, r, prefix+"/", http.StatusMovedPermanently)
		return nil
	}
	return s.proxyWebApp(w, r, p, sp, port, prefix)
}

// spaceByOwnerName finds the space name of the user username at this
// server's location.
func (s *Server) spaceByOwnerName(ctx context.Context, username, name string) (*shared.Space, error) {
	u, err := storage.Lookup[shared.User](ctx, s.store, "username:"+strings.ToLower(username))
	if isCode(err, shared.ENOTFOUND) {
		return nil, notFound("space %s of user %s not found", quote(name), quote(username))
	} else if err != nil {
		return nil, err
	}
	sp, err := storage.Lookup[shared.Space](ctx, s.store, "name:"+u.ID+"/"+strings.ToLower(s.location)+"/"+strings.ToLower(name))
	if isCode(err, shared.ENOTFOUND) {
		return nil, notFound("space %s of user %s not found at location %s", quote(name), quote(username), quote(s.location))
	}
	return sp, err
}

// webAppAllowed checks that p may open port of sp as a web app.
func (s *Server) webAppAllowed(ctx context.Context, r *http.Request, p *principal, sp *shared.Space, port int) error {
	if err := s.portSpace(ctx, r, p, sp, "web app", port); err != nil {
		return err
	}
	t, err := storage.Get[shared.Template](ctx, s.store, sp.TemplateID)
	if err != nil && !isCode(err, shared.ENOTFOUND) {
		return err
	}
	if t == nil {
		return notFound("port %d of space %s is not a web app: its template is gone", port, quote(sp.Name))
	}
	if _, ok := t.WebPort(port); !ok {
		return notFound("port %d of space %s is not a web app: its template %s does not list it in http_ports (knot forward port reaches any port)", port, quote(sp.Name), quote(t.Name))
	}
	return nil
}

// proxyWebApp relays r to port of sp, the path without prefix.
func (s *Server) proxyWebApp(w http.ResponseWriter, r *http.Request, p *principal, sp *shared.Space, port int, prefix string) error {
	if err := s.webAppAllowed(r.Context(), r, p, sp, port); err != nil {
		return err
	}
	if p.viaCookie && (unsafeMethod(r.Method) || r.Header.Get("Upgrade") != "") {
		if o := r.Header.Get("Origin"); o != "" && o != schemeOf(r)+"://"+r.Host {
			return forbidden("a request from %s may not act with your login on %s", quote(o), quote(r.Host))
		}
	}
	sandbox := sp.UserID != p.user.ID && prefix != ""
	d := &appDial{s: s, r: auditCopy(r), p: p, sp: sp, port: port}
	sum := sha256.Sum256([]byte(sp.ID + "\x00" + strconv.Itoa(port) + "\x00" + p.user.ID + "\x00" + clientIP(r)))
	pool := hex.EncodeToString(sum[:12]) + ".knot.invalid"
	rp := &httputil.ReverseProxy{
		Transport: s.apps.transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", pool
			pr.Out.Host = r.Host
			if prefix != "" {
				pr.Out.URL.Path = "/" + strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, prefix), "/")
				pr.Out.URL.RawPath = ""
				pr.Out.Header.Set("X-Forwarded-Prefix", prefix)
			}
			pr.SetXForwarded()
			stripCredentials(pr.Out.Header)
		},
		ModifyResponse: func(resp *http.Response) error {
			dropKnotCookies(resp.Header)
			if sandbox {
				resp.Header.Set("Content-Security-Policy", "sandbox allow-scripts allow-forms allow-popups allow-downloads allow-modals")
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			why := "it does not answer"
			if shared.ErrorCode(err) != shared.EINTERNAL {
				why = shared.ErrorMessage(err)
			}
			s.writeError(w, r, shared.Wrap(shared.EUNAVAILABLE, err, "web app on port %d of space %s: %s", port, quote(sp.Name), why))
		},
	}
	rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), appDialKey{}, d)))
	return nil
}

// stripCredentials removes knot's credentials from a request's headers.
func stripCredentials(h http.Header) {
	h.Del("Authorization")
	h.Del(csrfHeader)
	var keep []string
	for _, c := range (&http.Request{Header: h}).Cookies() {
		if c.Name != sessionCookie && c.Name != csrfCookie && c.Name != appCookie {
			keep = append(keep, c.String())
		}
	}
	h.Del("Cookie")
	if len(keep) > 0 {
		h.Set("Cookie", strings.Join(keep, "; "))
	}
}

// dropKnotCookies removes an app's Set-Cookie of a knot cookie.
func dropKnotCookies(h http.Header) {
	sc := h.Values("Set-Cookie")
	h.Del("Set-Cookie")
	for _, v := range sc {
		name, _, _ := strings.Cut(strings.TrimSpace(v), "=")
		if !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(name)), "__KNOT_") {
			h.Add("Set-Cookie", v)
		}
	}
}

// auditCopy keeps what the audit log reads of r, for after r is done.
func auditCopy(r *http.Request) *http.Request {
	h := http.Header{}
	for _, k := range []string{"User-Agent", "X-Forwarded-For"} {
		if v := r.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return (&http.Request{RemoteAddr: r.RemoteAddr, Header: h}).WithContext(context.Background())
}

func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(host)
}

func schemeOf(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func wantsHTML(r *http.Request) bool { return strings.Contains(r.Header.Get("Accept"), "text/html") }
