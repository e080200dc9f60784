package main_test

import (
	"io"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/knot-dev/knot/shared/testenv"
)

// TestShellSaysHowToReattach: when the connection of knot space shell
// breaks, knot prints a command that reattaches to the kept session, and
// that command, run as printed, does.
func TestShellSaysHowToReattach(t *testing.T) {
	b := startTerminalBed(t)
	// A relay between the CLI and the server that the test can cut.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn // guarded by mu
	cut := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", strings.TrimPrefix(b.URL, "http://"))
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			go io.Copy(s, c)
			go io.Copy(c, s)
		}
	}()
	t.Cleanup(func() { ln.Close(); cut() })

	// On a terminal, as a person runs it; stderr goes to the terminal too.
	cmd := exec.Command(knotBin, "space", "shell", "dev")
	cmd.Env = testEnv(clientEnv(t, "KNOT_SERVER", "http://"+ln.Addr().String(), "KNOT_TOKEN", b.adminToken))
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	out := &testenv.Buffer{}
	go io.Copy(out, f)
	direct := b.as(t, b.adminToken)
	waitUntil(t, 20*time.Second, func() string {
		if r := knot(t, direct, "", "space", "shell", "dev", "--list"); !strings.Contains(r.stdout, " viewer") {
			return "no session of knot space shell dev is listed; it printed: " + out.String()
		}
		return ""
	})
	cut()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("knot space shell exited 0 after its connection was cut")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("knot space shell did not exit within 20s of its connection being cut")
	}
	var m []string
	waitUntil(t, 5*time.Second, func() string {
		if m = regexp.MustCompile(`knot (space shell \S+ --attach [A-Za-z0-9_-]+)`).FindStringSubmatch(out.String()); m == nil {
			return "knot printed no command that reattaches to the session: " + out.String()
		}
		return ""
	})
	if !strings.HasPrefix(m[1], "space shell dev --attach ") {
		t.Fatalf("knot printed knot %s, which does not name the space", m[1])
	}
	r := knot(t, direct, "echo reattached-$((6*7))\nexit\n", strings.Fields(m[1])...)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "reattached-42") {
		t.Errorf("knot %s printed %q", m[1], r.stdout)
	}
}
