package agent_test

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/knot-dev/knot/agent"
	"github.com/knot-dev/knot/shared/testenv"
)

func TestAgentLinksThroughAnHTTPProxy(t *testing.T) {
	noLeaks(t)
	l := startFakeLeaf(t)
	p := testenv.NewConnectProxy(t, 0)
	stop := runAgent(t, agent.Options{Endpoint: l.addr, SpaceID: "s", Token: "t", Fingerprint: l.fp,
		Proxy: func(string) (*url.URL, error) { return p.URLWith(url.UserPassword("knot", "pw")), nil }})
	waitFor(t, "a state through the proxy", func() bool { _, s := l.counts(); return s >= 1 })
	stop()
	l.cut()
	targets, auth := p.Seen()
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
	p := testenv.NewConnectProxy(t, 0)
	// The decision is the environment's, asked about the leaf's address.
	t.Setenv("HTTPS_PROXY", p.URL)
	t.Setenv("NO_PROXY", "leaf.knot.test")
	env := agent.ProxyFromEnvironment()
	_, port, _ := net.SplitHostPort(l.addr)
	runAgent(t, agent.Options{Endpoint: l.addr, SpaceID: "s", Token: "t", Fingerprint: l.fp,
		Proxy: func(addr string) (*url.URL, error) { return env(net.JoinHostPort("leaf.knot.test", port)) }})
	waitFor(t, "a direct link", func() bool { _, s := l.counts(); return s >= 1 })
	if targets, _ := p.Seen(); len(targets) != 0 {
		t.Fatalf("the proxy saw %q, want no tunnel", targets)
	}
}

func TestAgentReportsAProxyThatRefusesAndRetries(t *testing.T) {
	noLeaks(t)
	l := startFakeLeaf(t)
	p := testenv.NewConnectProxy(t, http.StatusForbidden)
	var logs bytes.Buffer
	var mu sync.Mutex
	stop := runAgent(t, agent.Options{Endpoint: l.addr, SpaceID: "s", Token: "t", Fingerprint: l.fp,
		Proxy:  func(string) (*url.URL, error) { return p.URLWith(url.UserPassword("knot", "hidden")), nil },
		Logger: slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(b) }), nil))})
	waitFor(t, "two refusals", func() bool { t, _ := p.Seen(); return len(t) >= 2 })
	stop()
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	want := "proxy http://knot:xxxxx@" + strings.TrimPrefix(p.URL, "http://") + " refused the tunnel to " + l.addr + ": 403 Forbidden"
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
