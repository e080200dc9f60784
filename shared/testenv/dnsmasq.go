package testenv

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
)

// Dnsmasq is Debian's dnsmasq serving a test's records on a loopback port.
type Dnsmasq struct {
	// Addr is the server's address, 127.0.0.1:port; it stays the same
	// across Restart.
	Addr string

	path string
	stop func()
}

// StartDnsmasq runs Debian's dnsmasq on a free loopback port with only the
// given records (dnsmasq options such as --srv-host=...; names under
// knot.test are answered only from them), and stops it when the test ends. It returns the server's
// address once it answers.
func StartDnsmasq(t testing.TB, records ...string) string {
	t.Helper()
	return NewDnsmasq(t, records...).Addr
}

// NewDnsmasq is StartDnsmasq, returning the server so that the test can
// change its records with Restart. Records are answered with a TTL of 30 s
// unless the records give --local-ttl.
func NewDnsmasq(t testing.TB, records ...string) *Dnsmasq {
	t.Helper()
	path, err := exec.LookPath("dnsmasq")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/dnsmasq"); serr != nil { // sbin may be missing from PATH
			Missing(t, "dnsmasq", err)
		}
		path = "/usr/sbin/dnsmasq"
	}
	d := &Dnsmasq{path: path}
	var lastErr error
	for range 5 { // the free port may be taken between probing and binding
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := pc.LocalAddr().String()
		pc.Close()
		if lastErr = d.start(t, addr, records); lastErr == nil {
			t.Cleanup(func() { d.stop() })
			return d
		}
	}
	t.Fatalf("dnsmasq did not start: %v", lastErr)
	return nil
}

// Restart stops the server and starts it again on the same address with
// these records instead, as an operator changing a DNS zone. Clients see
// the new records once the old ones' TTL has passed.
func (d *Dnsmasq) Restart(t testing.TB, records ...string) {
	t.Helper()
	d.stop()
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for { // the port was just freed; something else may hold it a moment
		if err = d.start(t, d.Addr, records); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("dnsmasq did not start again on %s: %v", d.Addr, err)
	}
}

// start runs dnsmasq on addr and waits until it answers; on success d.Addr
// and d.stop are set.
func (d *Dnsmasq) start(t testing.TB, addr string, records []string) error {
	_, port, _ := net.SplitHostPort(addr)
	args := append([]string{
		"--keep-in-foreground", "--conf-file=/dev/null", "--pid-file", "--no-resolv", "--no-hosts",
		"--listen-address=127.0.0.1", "--bind-interfaces", "--port=" + port,
		"--local=/knot.test/", "--log-facility=-",
	}, records...)
	if !slices.ContainsFunc(records, func(r string) bool { return strings.HasPrefix(r, "--local-ttl=") }) {
		args = append(args, "--local-ttl=30")
	}
	cmd := exec.Command(d.path, args...)
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
		return fmt.Errorf("%v; output: %s", err, out.String())
	}
	d.Addr, d.stop = addr, stop
	return nil
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
