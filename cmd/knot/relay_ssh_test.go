package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// serveLoopback listens on loopback, where the agent of a manual space
// running on this machine dials its ports, and serves each connection
// with serve in a goroutine of its own, until the test ends. It returns
// the address.
func serveLoopback(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// portOf returns the port of a loopback address.
func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// echoPort serves on loopback and echoes every connection; it returns the
// port.
func echoPort(t *testing.T) string {
	return portOf(serveLoopback(t, func(c net.Conn) { io.Copy(c, c) }))
}

// answerAtEOFPort serves on loopback and answers each connection after it
// read it to its end: "got N bytes", then closes. It returns the port.
func answerAtEOFPort(t *testing.T) string {
	return portOf(serveLoopback(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		n, _ := io.Copy(io.Discard, c)
		fmt.Fprintf(c, "got %d bytes", n)
	}))
}

// startForward runs knot forward port at the server env names for the
// space dev's port, until the test ends, and returns its local address.
func startForward(t testing.TB, env map[string]string, port string) string {
	t.Helper()
	local := "127.0.0.1:" + loopbackPort(t)
	fw := startKnot(t, env, "forward", "port", "dev", port, local)
	select {
	case line := <-fw.lines:
		if !strings.Contains(line, "Forwarding "+local) {
			t.Fatalf("knot forward port said %q", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("knot forward port did not start: %s", fw.stderr)
	}
	return local
}

// forwardPort runs knot forward port at the server env names for the
// space dev's port and returns a connection to its local end.
func forwardPort(t *testing.T, env map[string]string, port string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", startForward(t, env, port), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// forwardAndEcho runs knot forward port at the server env names for the
// space dev's port, and checks that a line sent through it comes back.
func forwardAndEcho(t *testing.T, env map[string]string, port string) {
	t.Helper()
	c := forwardPort(t, env, port)
	defer c.Close()
	io.WriteString(c, "ping-relayed\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "ping-relayed\n" {
		t.Fatalf("through knot forward port at %s: %q, %v", env["KNOT_SERVER"], line, err)
	}
}

// forwardHalfClose runs knot forward port at the server env names for
// the space dev's port, where answerAtEOFPort listens: a client that sends
// 200 KB and ends its writing (a TCP half-close) gets the answer, then
// the end.
func forwardHalfClose(t *testing.T, env map[string]string, port string) {
	t.Helper()
	c := forwardPort(t, env, port)
	defer c.Close()
	if _, err := c.Write(make([]byte, 200_000)); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "got 200000 bytes" {
		t.Fatalf("after a half-close through knot forward port at %s: %q, %v", env["KNOT_SERVER"], got, err)
	}
}

// wayIn asks s for the way into the fleet's space at path as a websocket,
// and returns the status and the error message.
func wayIn(t *testing.T, s *serverProc, token, path string) (int, string, time.Duration) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	began := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Error, time.Since(began)
}

// A forwarded port and SSH of a space at one leaf, opened at the origin
// or at another leaf, are relayed there; the space's leaf audits them with
// the way they came. A non-owner is refused at each server; with the
// space's leaf down, both other servers answer 503 at once, naming it.
func TestPortsAndSSHOfALeafSpaceFromAnyServer(t *testing.T) {
	f := startRelayFleet(t)
	port := echoPort(t)
	portPath := "/api/spaces/" + f.spaceID + "/ports/" + port
	sshPath := "/api/spaces/" + f.spaceID + "/ssh"

	originEnv := clientEnv(t, "KNOT_SERVER", f.origin.base, "KNOT_TOKEN", f.admin)
	forwardAndEcho(t, originEnv, port)
	audited(t, f.branch, f.admin, "the relayed port from the origin", func(e auditItem) bool {
		return e.Event == "port forward closed" && e.Actor == "admin" && e.Properties["via"] == "origin hq" &&
			e.Properties["port"] == port && e.Properties["bytes_to_space"] == "13" && e.Properties["bytes_from_space"] == "13"
	})
	forwardAndEcho(t, clientEnv(t, "KNOT_SERVER", f.annex.base, "KNOT_TOKEN", f.admin), port)
	audited(t, f.branch, f.admin, "the relayed port from the other leaf", func(e auditItem) bool {
		return e.Event == "port forward closed" && e.Properties["via"] == "leaf annex via origin hq"
	})

	// A half-close reaches the space and the answer comes back: at the
	// space's own leaf, relayed by the origin, and from the other leaf.
	answerPort := answerAtEOFPort(t)
	for _, s := range []*serverProc{f.branch, f.origin, f.annex} {
		forwardHalfClose(t, clientEnv(t, "KNOT_SERVER", s.base, "KNOT_TOKEN", f.admin), answerPort)
	}

	// A web app through the origin's path proxy, once the template lists
	// its port.
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from the space at branch")
	}))
	defer app.Close()
	appPort := strconv.Itoa(app.Listener.Addr().(*net.TCPAddr).Port)
	f.origin.call("PUT", "/api/templates/"+f.tmplID, f.admin, map[string]any{"http_ports": []map[string]any{{"port": app.Listener.Addr().(*net.TCPAddr).Port, "name": "app"}}}, 200, nil)
	if code, body := f.origin.fetch("GET", "/proxy/spaces/"+f.spaceID+"/ports/"+appPort+"/", f.admin, nil); code != 200 || string(body) != "hello from the space at branch" {
		t.Fatalf("the web app through the origin: %d %s", code, body)
	}

	// SSH through the origin, with OpenSSH and the configuration knot
	// ssh-config update wrote there.
	if _, err := exec.LookPath("ssh"); err == nil {
		home := originEnv["HOME"]
		key := filepath.Join(home, ".ssh", "id_ed25519")
		if err := os.MkdirAll(filepath.Dir(key), 0o700); err != nil {
			t.Fatal(err)
		}
		keygen(t, key)
		mustSucceed(t, knot(t, originEnv, "", "ssh-key", "add", key+".pub"))
		mustSucceed(t, knot(t, originEnv, "", "ssh-config", "update"))
		c := &sshClient{t: t, home: home, key: key, env: originEnv, config: filepath.Join(home, ".ssh", "config")}
		// The key reaches the space's leaf by replication.
		poll(t, "ssh through the origin", func() (bool, string) {
			code, out, errs := c.run("ssh", "knot.dev", "--", "echo", "relayed-$((6*7))")
			return code == 0 && out == "relayed-42\n", out + errs
		})
		if code, _, errs := c.run("ssh", "knot.dev", "exit 7"); code != 7 {
			t.Fatalf("ssh exit 7 through the origin: code %d %s", code, errs)
		}
		audited(t, f.branch, f.admin, "the relayed SSH connection", func(e auditItem) bool {
			return e.Event == "ssh closed" && e.Actor == "admin" && e.Properties["via"] == "origin hq" && e.Properties["bytes_in"] != "0"
		})
		audited(t, f.origin, f.admin, "the SSH connection at the origin", func(e auditItem) bool {
			return e.Event == "ssh closed" && e.Actor == "admin" && e.Properties["bytes_in"] != "0"
		})
	} else if os.Getenv("KNOT_REQUIRE_ENGINES") != "" {
		t.Fatalf("ssh is not installed (openssh-client): %v", err)
	}

	// Someone else's space: refused at the origin and at the other leaf.
	for _, s := range []*serverProc{f.origin, f.annex} {
		for _, path := range []string{portPath, sshPath} {
			if code, msg, _ := wayIn(t, s, f.mallory, path); code != http.StatusNotFound {
				t.Fatalf("mallory at %s%s: %d %s; want 404", s.base, path, code, msg)
			}
		}
		audited(t, s, f.admin, "mallory's refusals", func(e auditItem) bool { return e.Event == "ssh refused" && e.Actor == "mallory" })
		audited(t, s, f.admin, "mallory's refusals", func(e auditItem) bool { return e.Event == "port forward refused" && e.Actor == "mallory" })
	}

	// The space's leaf goes down: the origin and the other leaf say so at
	// once.
	f.branch.kill()
	waitUntil(t, 30*time.Second, func() string {
		if code, msg, _ := wayIn(t, f.origin, f.admin, portPath); code != http.StatusServiceUnavailable {
			return "the origin does not count branch gone yet: " + msg
		}
		return ""
	})
	for _, s := range []*serverProc{f.origin, f.annex} {
		for _, path := range []string{portPath, sshPath} {
			code, msg, took := wayIn(t, s, f.admin, path)
			if code != http.StatusServiceUnavailable || !strings.Contains(msg, "branch") || !strings.Contains(msg, "not connected") || took > 3*time.Second {
				t.Fatalf("%s%s with the leaf down: %d %q after %s; want 503 naming the location, at once", s.base, path, code, msg, took)
			}
		}
	}
}
