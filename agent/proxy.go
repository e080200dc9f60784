package agent

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/net/http/httpproxy"

	"github.com/knot-dev/knot/shared/agentwire"
)

// ProxyFromEnvironment returns the proxy decision of HTTPS_PROXY,
// https_proxy, NO_PROXY and no_proxy as they are now: for a leaf address
// host:port it gives the proxy to tunnel through, or nil to dial directly.
// The rules are golang.org/x/net/http/httpproxy's, as in net/http; like
// them it dials localhost and loopback addresses directly, whatever the
// environment says.
func ProxyFromEnvironment() func(addr string) (*url.URL, error) {
	f := httpproxy.FromEnvironment().ProxyFunc()
	return func(addr string) (*url.URL, error) {
		return f(&url.URL{Scheme: "https", Host: addr})
	}
}

// proxyFor returns the proxy Options.Proxy names for e, or nil to dial it
// directly: for an SRV target both its address and its host name must be
// sent to a proxy.
func (a *Agent) proxyFor(e endpoint) (*url.URL, error) {
	proxy, err := a.opts.Proxy(e.addr)
	if err != nil || proxy == nil || e.name == "" {
		return proxy, err
	}
	return a.opts.Proxy(e.name)
}

// dialTLS dials to, directly or through proxy when it is not nil, and
// completes TLS with the leaf. The TLS server name is the host of addr,
// the address the agent resolved (to is that address or the SRV target's
// host name): the leaf is verified as it is when dialled directly.
func (a *Agent) dialTLS(ctx context.Context, proxy *url.URL, to, addr string) (*agentwire.LinkConn, error) {
	cfg := a.tls
	var (
		raw net.Conn
		err error
	)
	if proxy == nil {
		d := net.Dialer{KeepAlive: 30 * time.Second}
		if raw, err = d.DialContext(ctx, "tcp", to); err != nil {
			return nil, err
		}
	} else if raw, err = tunnel(ctx, proxy, to); err != nil {
		return nil, err
	}
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		host, _, _ := net.SplitHostPort(addr)
		cfg.ServerName = host
	}
	c := agentwire.LinkClient(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		if proxy != nil {
			return nil, fmt.Errorf("through proxy %s: %w", proxy.Redacted(), err)
		}
		return nil, err
	}
	return c, nil
}

// tunnel opens an HTTP CONNECT tunnel to addr through proxy. Credentials
// in the proxy's URL are sent as Proxy-Authorization basic.
func tunnel(ctx context.Context, proxy *url.URL, addr string) (net.Conn, error) {
	name := proxy.Redacted()
	if proxy.Scheme != "http" {
		return nil, fmt.Errorf("proxy %s: scheme %q is not supported (the agent tunnels through http:// proxies)", name, proxy.Scheme)
	}
	host := proxy.Host
	if proxy.Port() == "" {
		host = net.JoinHostPort(proxy.Hostname(), "80")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", name, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: addr}, Host: addr, Header: http.Header{}}
	if u := proxy.User; u != nil {
		pw, _ := u.Password()
		req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw)))
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: %w", name, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: reading its answer to CONNECT %s: %w", name, addr, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		conn.Close()
		return nil, fmt.Errorf("proxy %s refused the tunnel to %s: %s", name, addr, resp.Status)
	}
	conn.SetDeadline(time.Time{})
	if br.Buffered() > 0 {
		return &bufferedConn{Conn: conn, r: br}, nil
	}
	return conn, nil
}

// bufferedConn reads what the proxy sent after its answer before the rest.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
