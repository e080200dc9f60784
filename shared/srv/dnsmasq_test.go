package srv_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/srv"
	"github.com/knot-dev/knot/shared/testenv"
)

func TestDnsmasqEndToEnd(t *testing.T) {
	addr := testenv.StartDnsmasq(t,
		"--srv-host=_knot._tcp.knot.test,node2.knot.test,9443,20,5",
		"--srv-host=_knot._tcp.knot.test,node1.knot.test,8443,10,5",
		"--host-record=node1.knot.test,127.0.0.1,::1",
		"--host-record=node2.knot.test,127.0.0.2",
		"--srv-host=knot-server-agent.service.consul,agent.node.consul,3000",
		"--host-record=agent.node.consul,127.0.0.3",
	)
	r := mustResolver(t, srv.Options{Consul: []string{addr}, Nameservers: []string{addr}})
	ctx := testContext(t)

	got, err := r.LookupSRV(ctx, "_knot._tcp.knot.test")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1:8443", "[::1]:8443", "127.0.0.2:9443"}
	if !slices.Equal(endpoints(got), want) {
		t.Errorf("endpoints %v, want %v", endpoints(got), want)
	}
	if ep, err := r.Resolve(ctx, "srv+knot-server-agent.service.consul"); err != nil || ep != "127.0.0.3:3000" {
		t.Errorf("agent endpoint = %q, %v; want 127.0.0.3:3000", ep, err)
	}
	if u, err := r.ResolveURL(ctx, "srv+https://_knot._tcp.knot.test/leaf"); err != nil || u != "https://127.0.0.1:8443/leaf" {
		t.Errorf("origin URL = %q, %v; want https://127.0.0.1:8443/leaf", u, err)
	}
	_, err = r.LookupSRV(ctx, "_missing._tcp.knot.test")
	if shared.ErrorCode(err) != shared.ENOTFOUND || !strings.Contains(err.Error(), addr+" answered NXDOMAIN") {
		t.Errorf("error %v, want ENOTFOUND saying %s answered NXDOMAIN", err, addr)
	}
}

// A record changed on the server is used once the old answer's TTL has
// passed, and not before.
func TestDnsmasqChangedRecordIsSeenAfterItsTTL(t *testing.T) {
	dns := testenv.NewDnsmasq(t, "--local-ttl=2",
		"--srv-host=_knot._tcp.knot.test,node.knot.test,8443",
		"--host-record=node.knot.test,127.0.0.1")
	now := time.Now()
	r := mustResolver(t, srv.Options{Nameservers: []string{dns.Addr}, Now: func() time.Time { return now }})
	ctx := testContext(t)
	lookup := func() string {
		t.Helper()
		got, err := r.LookupSRV(ctx, "_knot._tcp.knot.test")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(endpoints(got), " ")
	}
	if got := lookup(); got != "127.0.0.1:8443" {
		t.Fatalf("endpoints %s, want 127.0.0.1:8443", got)
	}
	dns.Restart(t, "--local-ttl=2",
		"--srv-host=_knot._tcp.knot.test,node.knot.test,9443",
		"--host-record=node.knot.test,127.0.0.1")
	now = now.Add(1900 * time.Millisecond)
	if got := lookup(); got != "127.0.0.1:8443" {
		t.Fatalf("within the TTL: endpoints %s, want the cached 127.0.0.1:8443", got)
	}
	now = now.Add(200 * time.Millisecond)
	if got := lookup(); got != "127.0.0.1:9443" {
		t.Fatalf("after the TTL: endpoints %s, want the changed 127.0.0.1:9443", got)
	}
}
