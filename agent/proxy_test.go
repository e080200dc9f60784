package agent_test

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
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

// With a srv+ endpoint the proxy is asked for the SRV target by its host
// name (a proxy that allows hosts by name lets it through, and its log
// names the leaf), unless the host name is not to go through a proxy.
func TestAgentGivesTheProxyTheSRVTargetByName(t *testing.T) {
	l := startFakeLeaf(t)
	_, port, _ := net.SplitHostPort(l.addr)
	dns := testenv.StartDnsmasq(t, "--srv-host=knot-agent.knot.test,leaf.knot.test,"+port,
		"--host-record=leaf.knot.test,127.0.0.1")
	byName := net.JoinHostPort("leaf.knot.test", port)
	for _, tt := range []struct {
		name   string
		direct string // the address the proxy func declines
		want   []string
	}{
		{name: "Tunnels", want: []string{byName}},
		{name: "DialsDirectlyAHostNotForTheProxy", direct: byName},
		{name: "DialsDirectlyAnAddressNotForTheProxy", direct: l.addr},
	} {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			p := testenv.NewConnectProxy(t, 0)
			var mu sync.Mutex
			var asked []string
			before, _ := l.counts()
			stop := runAgent(t, agent.Options{Endpoint: "srv+knot-agent.knot.test", Nameservers: []string{dns},
				SpaceID: "s", Token: "t", Fingerprint: l.fp,
				Proxy: func(addr string) (*url.URL, error) {
					mu.Lock()
					defer mu.Unlock()
					asked = append(asked, addr)
					if addr == tt.direct {
						return nil, nil
					}
					return url.Parse(p.URL)
				}})
			waitFor(t, "a link", func() bool { h, _ := l.counts(); return h > before })
			stop()
			l.cut()
			if targets, _ := p.Seen(); !slices.Equal(targets, tt.want) {
				t.Fatalf("the proxy saw CONNECT %q, want %q", targets, tt.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if tt.direct != l.addr && (len(asked) != 2 || asked[0] != l.addr || asked[1] != byName) {
				t.Fatalf("the proxy decision was asked about %q, want the address %s and then the name %s", asked, l.addr, byName)
			}
		})
	}
}

// A proxy that refuses the SRV target's host is asked once a dial, not
// once for each address of the host: it resolves the name itself.
func TestAgentAsksTheProxyOnceForAHostOfManyAddresses(t *testing.T) {
	noLeaks(t)
	dns := testenv.StartDnsmasq(t, "--srv-host=knot-agent.knot.test,leaf.knot.test,7443",
		"--host-record=leaf.knot.test,127.0.0.1,::1")
	p := testenv.NewConnectProxy(t, http.StatusForbidden)
	var logs bytes.Buffer
	var mu sync.Mutex
	stop := runAgent(t, agent.Options{Endpoint: "srv+knot-agent.knot.test", Nameservers: []string{dns},
		SpaceID: "s", Token: "t", Fingerprint: strings.Repeat("ab", 32),
		Proxy:  func(string) (*url.URL, error) { return url.Parse(p.URL) },
		Logger: slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(b) }), nil))})
	waitFor(t, "a failed dial", func() bool { mu.Lock(); defer mu.Unlock(); return strings.Contains(logs.String(), "agent link down") })
	stop()
	mu.Lock()
	_, first, _ := strings.Cut(logs.String(), "agent link down")
	first, _, _ = strings.Cut(first, "\n")
	mu.Unlock()
	if n := strings.Count(first, "refused the tunnel to leaf.knot.test:7443"); n != 1 {
		t.Fatalf("one dial asked the proxy %d times: %s", n, first)
	}
}
