package testenv

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// ConnectProxy is an HTTP CONNECT proxy on loopback that records the
// targets asked for and the Proxy-Authorization sent, and tunnels to
// them, or refuses every tunnel with one status. It keeps to
// loopback: a loopback address is dialled as given, a name under
// knot.test stands for 127.0.0.1 (as the proxy's own resolver would
// answer it), and anything else is refused with 502.
type ConnectProxy struct {
	// URL is the proxy's address, http://127.0.0.1:port.
	URL string

	refuse int // when not 0, the status every CONNECT gets
	srv    *httptest.Server
	mu     sync.Mutex
	// targets and auth are guarded by mu.
	targets, auth []string
	wg            sync.WaitGroup
}

// NewConnectProxy starts a proxy that refuses every tunnel with refuse,
// or tunnels when refuse is 0, until tb ends.
func NewConnectProxy(tb testing.TB, refuse int) *ConnectProxy {
	tb.Helper()
	p := &ConnectProxy{refuse: refuse}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	tb.Cleanup(func() { p.srv.Close(); p.wg.Wait() })
	return p
}

// URLWith returns the proxy's URL carrying user.
func (p *ConnectProxy) URLWith(user *url.Userinfo) *url.URL {
	u, _ := url.Parse(p.URL)
	u.User = user
	return u
}

// Seen returns the targets of the requests so far and the
// Proxy-Authorization header of each.
func (p *ConnectProxy) Seen() (targets, auth []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...), append([]string(nil), p.auth...)
}

func (p *ConnectProxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.targets = append(p.targets, r.Host)
	p.auth = append(p.auth, r.Header.Get("Proxy-Authorization"))
	p.mu.Unlock()
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	if p.refuse != 0 {
		http.Error(w, "no", p.refuse)
		return
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if h := strings.ToLower(host); h == "knot.test" || strings.HasSuffix(h, ".knot.test") {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		http.Error(w, "this proxy reaches loopback and knot.test only", http.StatusBadGateway)
		return
	}
	up, err := net.Dial("tcp", net.JoinHostPort(host, port))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	p.wg.Go(func() { io.Copy(up, c); up.Close() })
	p.wg.Go(func() { io.Copy(c, up); c.Close() })
}
