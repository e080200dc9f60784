package srv_test

import (
	"net/url"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/knot-dev/knot/shared/srv"
)

// FuzzNormalizeName checks that any accepted name comes back as a
// lower-case FQDN that is itself accepted unchanged.
func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{"_knot._tcp.knot.test", "WEB.service.consul.", "", ".", "a..b", "-a.b", "a_b.c-d", strings.Repeat("a.", 127) + "a", "\xff", "a\\.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := srv.NormalizeNameForTest(s)
		if err != nil {
			return
		}
		if name != strings.ToLower(name) || !strings.HasSuffix(name, ".") || len(name) > 254 || !srv.ValidHostForTest(strings.TrimSuffix(name, ".")) {
			t.Fatalf("NormalizeName(%q) = %q", s, name)
		}
		if again, err := srv.NormalizeNameForTest(name); err != nil || again != name {
			t.Fatalf("NormalizeName(%q) = %q, %v; want it unchanged", name, again, err)
		}
	})
}

// FuzzSplitURL checks that an accepted srv+ URL has a valid name, no port,
// and that putting host:port in its place gives a URL that parses back to
// that host.
func FuzzSplitURL(f *testing.F) {
	for _, s := range []string{"https://_knot._tcp.knot.test/x?y#z", "wss://u:p@name/ws", "https://name:443/", "name/path", "https:///p", "https://%zz/", "https://[::1]/", "mysql://a.b", "https://a.b:/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rest string) {
		host, name, err := srv.SplitURLForTest(rest)
		if err != nil {
			return
		}
		if again, err := srv.NormalizeNameForTest(name); err != nil || again != name {
			t.Fatalf("SplitURL(%q) name %q is not a normalized name", rest, name)
		}
		if strings.Contains(host, ":") {
			t.Fatalf("SplitURL(%q) accepted host %q with a port", rest, host)
		}
		u, err := url.Parse(rest)
		if err != nil {
			t.Fatalf("SplitURL accepted %q that url.Parse rejects: %v", rest, err)
		}
		u.Host = "[::1]:8443"
		back, err := url.Parse(u.String())
		if err != nil || back.Host != "[::1]:8443" {
			t.Fatalf("rebuilt %q from %q parses to host %q, %v", u.String(), rest, back.Host, err)
		}
	})
}

// FuzzSRVAnswer feeds arbitrary DNS messages to the answer checks: they
// never panic and only ever accept host-name targets with non-zero ports.
func FuzzSRVAnswer(f *testing.F) {
	m := new(mdns.Msg)
	m.SetQuestion("_knot._tcp.knot.test.", mdns.TypeSRV)
	m.Response = true
	for _, z := range []string{
		"_knot._tcp.knot.test. 60 IN SRV 10 5 8001 a.knot.test.",
		"_knot._tcp.knot.test. 60 IN SRV 10 5 0 b.knot.test.",
		"_knot._tcp.knot.test. 60 IN CNAME alias.knot.test.",
		"alias.knot.test. 60 IN SRV 1 1 80 c.knot.test.",
	} {
		rr, _ := mdns.NewRR(z)
		m.Answer = append(m.Answer, rr)
	}
	rr, _ := mdns.NewRR("a.knot.test. 60 IN A 127.0.0.1")
	m.Extra = append(m.Extra, rr)
	b, err := m.Pack()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var msg mdns.Msg
		if msg.Unpack(b) != nil {
			return
		}
		targets, ports, _ := srv.SRVRecordsForTest(&msg, "_knot._tcp.knot.test.")
		for i, target := range targets {
			if ports[i] == 0 || !srv.ValidHostForTest(strings.TrimSuffix(target, ".")) {
				t.Fatalf("accepted target %q port %d", target, ports[i])
			}
		}
	})
}
