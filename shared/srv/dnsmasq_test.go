package srv_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/srv"
	"github.com/knot-dev/knot/shared/testenv"
)

// startDnsmasq runs Debian's dnsmasq on a free loopback port with only the
// given records, and stops it when the test ends. It returns the server's
// address once it answers.
func startDnsmasq(t *testing.T, records ...string) string {
	t.Helper()
	path, err := exec.LookPath("dnsmasq")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/dnsmasq"); serr != nil { // sbin may be missing from PATH
			testenv.Missing(t, "dnsmasq", err)
		}
		path = "/usr/sbin/dnsmasq"
	}
	var lastErr error
	for range 5 { // the free port may be taken between probing and binding
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := pc.LocalAddr().String()
		pc.Close()
		_, port, _ := net.SplitHostPort(addr)
		args := append([]string{
			"--keep-in-foreground", "--conf-file=/dev/null", "--pid-file", "--no-resolv", "--no-hosts",
			"--listen-address=127.0.0.1", "--bind-interfaces", "--port=" + port,
			"--local=/knot.test/", "--local-ttl=30", "--log-facility=-",
		}, records...)
		cmd := exec.Command(path, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			testenv.Missing(t, "dnsmasq", err)
		}
		// exited is closed when dnsmasq has exited, so that every reader
		// sees it (waitForDNS may notice the exit before stop does).
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Kill()
			<-exited
		}
		if err := waitForDNS(addr, exited); err != nil {
			stop()
			lastErr = fmt.Errorf("%v; output: %s", err, out.String())
			continue
		}
		t.Cleanup(stop)
		return addr
	}
	t.Fatalf("dnsmasq did not start: %v", lastErr)
	return ""
}

// waitForDNS polls addr with a question until it answers, the process
// exits or 10 s pass.
func waitForDNS(addr string, exited <-chan struct{}) error {
	q := new(mdns.Msg)
	q.SetQuestion("knot.test.", mdns.TypeSOA)
	c := &mdns.Client{Timeout: 200 * time.Millisecond}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			return errors.New("dnsmasq exited")
		default:
		}
		_, _, err := c.Exchange(q, addr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer on %s: %v", addr, err)
		}
		select {
		case <-exited:
			return errors.New("dnsmasq exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestDnsmasqEndToEnd(t *testing.T) {
	addr := startDnsmasq(t,
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
