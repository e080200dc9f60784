package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// StartDnsmasq runs Debian's dnsmasq on a free loopback port with only the
// given records (dnsmasq options such as --srv-host=...; names under
// knot.test are answered only from them), and stops it when the test ends. It returns the server's
// address once it answers.
func StartDnsmasq(t testing.TB, records ...string) string {
	t.Helper()
	path, err := exec.LookPath("dnsmasq")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/dnsmasq"); serr != nil { // sbin may be missing from PATH
			Missing(t, "dnsmasq", err)
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
			Missing(t, "dnsmasq", err)
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
