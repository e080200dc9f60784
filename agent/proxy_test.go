package agent_test

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/knot-dev/knot/agent"
)

// connectProxy is an HTTP CONNECT proxy on loopback that counts its
// tunnels and the targets asked for, or refuses every one with refuse.
type connectProxy struct {
	srv    *httptest.Server
	refuse int

	mu      sync.Mutex
	targets []string
	auth    []string
	wg      sync.WaitGroup
}

func startProxy(t *testing.T, refuse int) *connectProxy {
	t.Helper()
	p := &connectProxy{refuse: refuse}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() { p.srv.Close(); p.wg.Wait() })
	return p
}

func (p *connectProxy) url(user *url.Userinfo) *url.URL {
	u, _ := url.Parse(p.srv.URL)
	u.User = user
	return u
}

func (p *connectProxy) serve(w http.ResponseWriter, r *http.Request) {
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
	if h, _, _ := net.SplitHostPort(r.Host); net.ParseIP(h) == nil {
		http.Error(w, "this proxy dials IP addresses only", http.StatusBadGateway)
		return
	}
	up, err := net.Dial("tcp", r.Host)
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
	p.wg.Add(2)
	go func() { defer p.wg.Done(); io.Copy(up, c); up.Close() }()
	go func() { defer p.wg.Done(); io.Copy(c, up); c.Close() }()
}

func (p *connectProxy) seen() (targets, auth []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...), append([]string(nil), p.auth...)
}

func TestAgentLinksThroughAnHTTPProxy(t *testing.T) {
	noLeaks(t)
	l := startFakeLeaf(t)
	p := startProxy(t, 0)
	stop := runAgent(t, agent.Options{Endpoint: l.addr, SpaceID: "s", Token: "t", Fingerprint: l.fp,
		Proxy: func(string) (*url.URL, error) { return p.url(url.UserPassword("knot", "pw")), nil }})
	waitFor(t, "a state through the proxy", func() bool { _, s := l.counts(); return s >= 1 })
	stop()
	l.cut()
	targets, auth := p.seen()
	if len(targets) == 0 || targets[0] != l.addr {
		t.Fatalf("the proxy saw CONNECT to %q, want %s", targets, l.addr)
	}
	if auth[0] != "Basic a25vdDpwdw==" {
		t.Fatalf("Proxy-Authorization %q, want basic knot:pw", auth[0])
	}
}

func TestAgentBypassesTheProxyForNoProxy(t *testing.T) {
	noLeaks(t)
	l := startFakeLeaf(t)
	p := startProxy(t, 0)
	// The decision is the environment's, asked about the leaf's address.
	t.Setenv("HTTPS_PROXY", p.srv.URL)
	t.Setenv("NO_PROXY", "leaf.knot.test")
	env := agent.ProxyFromEnvironment()
	_, port, _ := net.SplitHostPort(l.addr)
	runAgent(t, agent.Options{Endpoint: l.addr, SpaceID: "s", Token: "t", Fingerprint: l.fp,
		Proxy: func(addr string) (*url.URL, error) { return env(net.JoinHostPort("leaf.knot.test", port)) }})
	waitFor(t, "a direct link", func() bool { _, s := l.counts(); return s >= 1 })
	if targets, _ := p.seen(); len(targets) != 0 {
		t.Fatalf("the proxy saw %q, want no tunnel", targets)
	}
}

func TestAgentReportsAProxyThatRefusesAndRetries(t *testing.T) {
	noLeaks(t)
	l := startFakeLeaf(t)
	p := startProxy(t, http.StatusForbidden)
	var logs bytes.Buffer
	var mu sync.Mutex
	stop := runAgent(t, agent.Options{Endpoint: l.addr, SpaceID: "s", Token: "t", Fingerprint: l.fp,
		Proxy:  func(string) (*url.URL, error) { return p.url(url.UserPassword("knot", "hidden")), nil },
		Logger: slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(b) }), nil))})
	waitFor(t, "two refusals", func() bool { t, _ := p.seen(); return len(t) >= 2 })
	stop()
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	want := "proxy http://knot:xxxxx@" + p.srv.Listener.Addr().String() + " refused the tunnel to " + l.addr + ": 403 Forbidden"
	if !strings.Contains(out, want) {
		t.Fatalf("logs %q\nwant %q", out, want)
	}
	if strings.Contains(out, "hidden") {
		t.Fatal("the log shows the proxy's password")
	}
	if h, _ := l.counts(); h != 0 {
		t.Fatalf("the leaf saw %d hellos through a refusing proxy", h)
	}
}

func TestProxyFromEnvironment(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://proxy.knot.test:3128")
	t.Setenv("https_proxy", "")
	t.Setenv("NO_PROXY", ".corp.knot.test")
	t.Setenv("no_proxy", "")
	env := agent.ProxyFromEnvironment()
	for addr, want := range map[string]string{
		"leaf.knot.test:7443":      "http://proxy.knot.test:3128",
		"leaf.corp.knot.test:7443": "",
		"127.0.0.1:7443":           "", // loopback is always direct
	} {
		u, err := env(addr)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if u != nil {
			got = u.String()
		}
		if got != want {
			t.Errorf("proxy for %s = %q, want %q", addr, got, want)
		}
	}
}
