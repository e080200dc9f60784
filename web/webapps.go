package web

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
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/web/ui"
)

const (
	appCookie   = "__KNOT_APP"
	appAuthPath = "/__knot_auth"
)

// webApps is the state of the web app proxy (package leaf, webapps.go,
// says what it serves to whom).
type webApps struct {
	grants    *leaf.AppGrants
	transport *http.Transport
}

// appDialKey carries, in a request's context (with its actor), how to
// dial and audit a connection to its app (leaf.Access.DialWebApp).
type appDialKey struct{}

func newWebApps(wildcard string) *webApps {
	return &webApps{grants: leaf.NewAppGrants(wildcard), transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			dial, ok := ctx.Value(appDialKey{}).(func(context.Context) (net.Conn, error))
			if !ok {
				return nil, errors.New("web app: no space to dial")
			}
			return dial(ctx)
		},
		MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Minute, ResponseHeaderTimeout: 5 * time.Minute,
	}}
}

// appHosts is the middleware that serves the wildcard domain's hosts.
func (s *Server) appHosts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		label, ok := s.apps.grants.AppHost(r.Host)
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
	if _, _, _, err := leaf.ParseAppLabel(label); err != nil {
		return err
	}
	if r.URL.Path == appAuthPath {
		return s.redeemAppCode(w, r, r.Host)
	}
	p, err := s.appPrincipal(r, r.Host)
	if isCode(err, shared.EUNAUTHORIZED) && (r.Method == http.MethodGet || r.Method == http.MethodHead) && s.o.URL != "" {
		to := schemeOf(r) + "://" + r.Host + r.URL.RequestURI()
		http.Redirect(w, r, strings.TrimSuffix(s.o.URL, "/")+"/proxy/auth?to="+url.QueryEscape(to), http.StatusFound)
		return nil
	}
	if err != nil {
		return err
	}
	r = r.WithContext(shared.NewContextWithActor(r.Context(), actorOf(p)))
	sp, port, err := s.access.AppSpace(r.Context(), callerOf(r), label)
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
	g, err := s.apps.grants.Cookie(c.Value, host, s.now())
	if err != nil {
		return nil, err
	}
	id, err := s.auth.Identify(r.Context(), g.SessionID, g.TokenID)
	if err != nil {
		return nil, err
	}
	return principalOf(id, true), nil
}

// handleAppAuth serves GET /proxy/auth?to=URL: for a user who may open the
// web app at URL, a redirect there with a one-time code.
func (s *Server) handleAppAuth(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticate(r)
	s.loginFirst(w, r, p, err, s.appAuth)
}

// loginFirst serves r with serve as p, whom authenticating r found unless
// err; a browser that is not logged in and asks for a page with GET goes
// to the login page first.
func (s *Server) loginFirst(w http.ResponseWriter, r *http.Request, p *principal, err error, serve func(http.ResponseWriter, *http.Request, *principal) error) {
	if isCode(err, shared.EUNAUTHORIZED) && r.Method == http.MethodGet && wantsHTML(r) {
		ui.Redirect(w, r, "/login?redirect="+url.QueryEscape(r.URL.RequestURI()))
		return
	}
	if err == nil {
		err = serve(w, r, p)
	}
	if err != nil {
		s.writeError(w, r, err)
	}
}

// appAuth serves GET /proxy/auth as p.
func (s *Server) appAuth(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := shared.NewContextWithActor(r.Context(), actorOf(p))
	to, err := s.access.AppLogin(ctx, callerOf(r), s.apps.grants, r.URL.Query().Get("to"), appAuthPath, p.sessionID, p.tokenID)
	if err != nil {
		return err
	}
	http.Redirect(w, r, to, http.StatusFound)
	return nil
}

// redeemAppCode serves /__knot_auth on an app host: it turns a one-time
// code into the app cookie and sends the browser on (leaf.AppNext).
func (s *Server) redeemAppCode(w http.ResponseWriter, r *http.Request, host string) error {
	q := r.URL.Query()
	secret, err := s.apps.grants.Redeem(q.Get("code"), host, s.now())
	if err != nil {
		return err
	}
	w.Header().Set("Referrer-Policy", "no-referrer") // the code is in this URL
	http.SetCookie(w, &http.Cookie{Name: appCookie, Value: secret, Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, leaf.AppNext(q.Get("next")), http.StatusFound)
	return nil
}

// handleWebAppPath serves /proxy/spaces/{space_id}/ports/{port}/*.
func (s *Server) handleWebAppPath(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticateCSRF(r, false)
	s.loginFirst(w, r, p, err, s.webAppPath)
}

func (s *Server) webAppPath(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !p.canAny(shared.PermUseSpaces, shared.PermManageSpaces) {
		return needs(shared.PermUseSpaces, shared.PermManageSpaces)
	}
	port, err := portParam(r)
	if err != nil {
		return err
	}
	r = r.WithContext(shared.NewContextWithActor(r.Context(), actorOf(p)))
	sp, err := s.access.Space(r.Context(), chi.URLParam(r, "space_id"))
	if err != nil {
		return err
	}
	prefix := "/proxy/spaces/" + sp.ID + "/ports/" + strconv.Itoa(port)
	if r.URL.Path == prefix {
		http.Redirect(w, r, prefix+"/", http.StatusMovedPermanently)
		return nil
	}
	if err := s.access.WebApp(r.Context(), callerOf(r), sp, port); err != nil {
		return err
	}
	return s.proxyWebApp(w, r, p, sp, port, prefix)
}

// proxyWebApp relays r to port of sp, the path without prefix; p may
// open it (leaf.Access.WebApp).
func (s *Server) proxyWebApp(w http.ResponseWriter, r *http.Request, p *principal, sp *shared.Space, port int, prefix string) error {
	if p.viaCookie && (unsafeMethod(r.Method) || r.Header.Get("Upgrade") != "") {
		if o := r.Header.Get("Origin"); o != "" && o != schemeOf(r)+"://"+r.Host {
			return forbidden("a request from %s may not act with your login on %s", quote(o), quote(r.Host))
		}
	}
	sandbox := sp.UserID != p.user.ID && prefix != ""
	c := callerOf(r)
	dial := func(ctx context.Context) (net.Conn, error) { return s.access.DialWebApp(ctx, c, sp, port) }
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
			s.writeError(w, r, leaf.WebAppError(err, port, sp))
		},
	}
	rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), appDialKey{}, dial)))
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

func schemeOf(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func wantsHTML(r *http.Request) bool { return strings.Contains(r.Header.Get("Accept"), "text/html") }
