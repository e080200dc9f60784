package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// webBed is a knot server on Docker with the wildcard domain example.test
// and a running busybox space "dev" of the admin whose template declares
// two web ports: busybox httpd on httpd, and echoapp (testdata) on echo.
type webBed struct {
	s                *serverProc
	base, token      string
	env              map[string]string
	spaceID          string
	httpd, echo, off string // ports: the two web ports and one nothing declares
	port             string // the server's port
}

func startWebBed(t *testing.T) *webBed {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "echoapp"), "./testdata/echoapp")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building echoapp: %v\n%s", err, out)
	}
	os.MkdirAll(filepath.Join(dir, "www"), 0o755)
	os.WriteFile(filepath.Join(dir, "www", "index.html"), []byte("hello from busybox httpd\n"), 0o644)
	os.Chmod(dir, 0o755)

	b := &webBed{httpd: loopbackPort(t), echo: loopbackPort(t), off: loopbackPort(t), port: loopbackPort(t)}
	e, s, token, env := dockerServer(t, "--listen", "127.0.0.1:"+b.port, "--url", "http://127.0.0.1:"+b.port, "--wildcard-domain", "*.example.test")
	b.s, b.base, b.token, b.env = s, s.base, token, env
	tmpl := fmt.Sprintf(`name: web
kind: container
http_ports:
  - {port: %s, name: Site}
  - {port: %s, name: Echo}
spec: |
  image: %s
  network: host
  volumes:
    - "%s:/app:ro"
  command: ["sh", "-c", "httpd -f -p 127.0.0.1:%s -h /app/www & /app/echoapp 127.0.0.1:%s & trap 'exit 0' TERM; while :; do sleep 3600 & wait; done"]
`, b.httpd, b.echo, e.Image, dir, b.httpd, b.echo)
	mustSucceed(t, knot(t, env, tmpl, "template", "import", "-"))
	mustSucceed(t, knot(t, env, "", "space", "create", "dev", "web"))
	mustSucceed(t, knot(t, env, "", "space", "start", "dev"))
	if body, ok := waitOnlySpace(s, token, func(state string, agent bool) bool { return agent }); !ok {
		t.Fatalf("the space's agent did not connect within 60s: %s\n%s", body, s.log)
	}
	b.spaceID = spacesAt(s, token, "")[0].ID
	// The programs in the space answer once started.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := curl(t, "-H", "Authorization: Bearer "+token, b.base+"/proxy/spaces/"+b.spaceID+"/ports/"+b.echo+"/")
		if err == nil && strings.Contains(out, "echoapp") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("echoapp in the space does not answer through the proxy: %v %s\n%s", err, out, s.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return b
}

// curl runs curl with args and returns its output; it fails on an HTTP
// error (--fail-with-body).
func curl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "curl", append([]string{"-sS", "--fail-with-body", "--noproxy", "*"}, args...)...).CombinedOutput()
	return string(out), err
}

// login logs email in as a browser does and returns the session cookie.
func (b *webBed) login(t *testing.T, email, password string) *http.Cookie {
	t.Helper()
	body := strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
	resp, err := http.Post(b.base+"/api/auth/web", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "__KNOT_SESSION" {
			return c
		}
	}
	t.Fatalf("web login of %s: %s, no session cookie", email, resp.Status)
	return nil
}

func (b *webBed) appHost(port string) string { return "admin--dev--" + port + ".example.test" }

func (b *webBed) resolve(port string) string {
	return b.appHost(port) + ":" + b.port + ":127.0.0.1"
}

func TestWebAppsOfAContainerSpace(t *testing.T) {
	b := startWebBed(t)
	path := b.base + "/proxy/spaces/" + b.spaceID + "/ports/"
	bearer := "Authorization: Bearer " + b.token

	// The space's record and knot space list show its web ports.
	r := knot(t, b.env, "", "space", "list")
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, b.httpd+" (Site), "+b.echo+" (Echo)") {
		t.Fatalf("knot space list does not show the web ports:\n%s", r.stdout)
	}

	// busybox httpd through the path proxy, with an API token.
	out, err := curl(t, "-H", bearer, path+b.httpd+"/index.html")
	if err != nil || out != "hello from busybox httpd\n" {
		t.Fatalf("httpd through the path proxy: %v %q", err, out)
	}

	// The app sees none of knot's credentials, with a browser's session
	// cookie, CSRF cookie and header; it keeps its own cookie.
	session := b.login(t, "admin@example.com", "a-long-password")
	hdrs, err := curl(t, "-D", "-", "-H", "Cookie: __KNOT_SESSION="+session.Value+"; __KNOT_CSRF=x; mine=1", "-H", "X-CSRF-Token: x",
		"-X", "POST", "-H", "Origin: "+b.base, path+b.echo+"/headers")
	if err != nil {
		t.Fatalf("headers through the path proxy: %v %s", err, hdrs)
	}
	head, body, _ := strings.Cut(hdrs, "\r\n\r\n")
	var seen struct {
		Host, Path string
		Headers    http.Header
	}
	if err := json.Unmarshal([]byte(body), &seen); err != nil {
		t.Fatalf("echoapp answered %q: %v", body, err)
	}
	if seen.Path != "/headers" || seen.Headers.Get("Cookie") != "mine=1" || seen.Headers.Get("Authorization") != "" || seen.Headers.Get("X-Csrf-Token") != "" ||
		seen.Headers.Get("X-Forwarded-Prefix") != "/proxy/spaces/"+b.spaceID+"/ports/"+b.echo {
		t.Fatalf("the app saw path %q and headers %v", seen.Path, seen.Headers)
	}
	if strings.Contains(head, "planted") || !strings.Contains(head, "app=kept") {
		t.Fatalf("the app's Set-Cookie of a knot cookie must be dropped, its own kept:\n%s", head)
	}
	// A cookie request from another origin that changes something is refused.
	if out, err := curl(t, "-H", "Cookie: __KNOT_SESSION="+session.Value, "-X", "POST", "-H", "Origin: http://evil.example.test", path+b.echo+"/headers"); err == nil || !strings.Contains(out, "may not act with your login") {
		t.Fatalf("a cross-origin post with the cookie: %v %s", err, out)
	}

	// The wildcard domain with a bearer token: the app at the root of its host.
	out, err = curl(t, "--resolve", b.resolve(b.echo), "-H", bearer, "http://"+b.appHost(b.echo)+":"+b.port+"/headers")
	if err != nil || json.Unmarshal([]byte(out), &seen) != nil || seen.Host != b.appHost(b.echo)+":"+b.port || seen.Headers.Get("Authorization") != "" {
		t.Fatalf("the wildcard host with a token: %v %s", err, out)
	}

	// The wildcard domain as a browser: the host sends it to the server,
	// which sends it back with a one-time code, which becomes the host's
	// own cookie; then the app answers.
	jar := filepath.Join(t.TempDir(), "jar")
	os.WriteFile(jar, []byte(fmt.Sprintf("127.0.0.1\tFALSE\t/\tFALSE\t0\t__KNOT_SESSION\t%s\n", session.Value)), 0o600)
	out, err = curl(t, "-L", "-b", jar, "-c", jar, "--resolve", b.resolve(b.httpd), "http://"+b.appHost(b.httpd)+":"+b.port+"/index.html")
	if err != nil || out != "hello from busybox httpd\n" {
		t.Fatalf("the wildcard host as a browser: %v %q", err, out)
	}
	cookies, _ := os.ReadFile(jar)
	if !strings.Contains(string(cookies), b.appHost(b.httpd)) || !strings.Contains(string(cookies), "__KNOT_APP") {
		t.Fatalf("no app cookie for the app host in the jar:\n%s", cookies)
	}
	// The cookie alone opens the app now; without any login the host redirects.
	out, err = curl(t, "-b", jar, "--resolve", b.resolve(b.httpd), "http://"+b.appHost(b.httpd)+":"+b.port+"/index.html")
	if err != nil || out != "hello from busybox httpd\n" {
		t.Fatalf("the wildcard host with its cookie: %v %q", err, out)
	}
	out, _ = curl(t, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "--resolve", b.resolve(b.httpd), "http://"+b.appHost(b.httpd)+":"+b.port+"/")
	if !strings.HasPrefix(out, "302 "+b.base+"/proxy/auth?to=") {
		t.Fatalf("an anonymous request to the app host: %q, want a redirect to the server", out)
	}
	// A one-time code works once, and only on its own host.
	out, _ = curl(t, "-o", "/dev/null", "-w", "%{redirect_url}", "-b", jar, b.base+"/proxy/auth?to="+"http://"+b.appHost(b.httpd)+":"+b.port+"/x")
	codeURL := strings.Replace(out, b.appHost(b.httpd), b.appHost(b.echo), 1)
	if o, _ := curl(t, "-o", "/dev/null", "-w", "%{http_code}", "--resolve", b.resolve(b.echo), codeURL); !strings.HasSuffix(o, "401") {
		t.Fatalf("a code redeemed on another app host: %q, want 401", o)
	}
	out, _ = curl(t, "-o", "/dev/null", "-w", "%{redirect_url}", "-b", jar, b.base+"/proxy/auth?to="+"http://"+b.appHost(b.httpd)+":"+b.port+"/x")
	for i, want := range []string{"302", "401"} {
		if o, _ := curl(t, "-o", "/dev/null", "-w", "%{http_code}", "--resolve", b.resolve(b.httpd), out); !strings.HasSuffix(o, want) {
			t.Fatalf("redeeming the code %s, time %d: %q, want %s", out, i+1, o, want)
		}
	}

	// Logging out ends the app's cookie too.
	req, _ := http.NewRequest("POST", b.base+"/api/auth/logout", nil)
	req.Header.Set("Authorization", "Bearer "+session.Value)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	out, _ = curl(t, "-o", "/dev/null", "-w", "%{http_code}", "-b", jar, "-H", "Accept: application/json", "--resolve", b.resolve(b.httpd), "-X", "POST", "http://"+b.appHost(b.httpd)+":"+b.port+"/")
	if !strings.HasSuffix(out, "\n401") {
		t.Fatalf("the app cookie after logout: %s, want 401", out)
	}

	// A websocket echo through the path proxy and the wildcard host.
	for _, u := range []string{strings.Replace(path, "http://", "ws://", 1) + b.echo + "/ws", "ws://" + b.appHost(b.echo) + ":" + b.port + "/ws"} {
		wsEcho(t, b, u)
	}

	// A port the template does not declare is not a web app.
	if out, err := curl(t, "-H", bearer, path+b.off+"/"); err == nil || !strings.Contains(out, "http_ports") {
		t.Fatalf("an undeclared port: %v %s", err, out)
	}

	// Another user gets nothing, on every path.
	b.s.fetch("POST", "/api/users", b.token, map[string]string{"username": "bob", "email": "bob@example.com", "password": "bob-password-long"})
	code, lb := b.s.fetch("POST", "/api/auth", "", map[string]string{"email": "bob@example.com", "password": "bob-password-long"})
	var bob struct{ Token string }
	if code != http.StatusOK || json.Unmarshal(lb, &bob) != nil {
		t.Fatalf("bob's login: %d %s", code, lb)
	}
	bobAuth := "Authorization: Bearer " + bob.Token
	for name, args := range map[string][]string{
		"path proxy":    {"-H", bobAuth, path + b.httpd + "/index.html"},
		"wildcard host": {"-H", bobAuth, "--resolve", b.resolve(b.httpd), "http://" + b.appHost(b.httpd) + ":" + b.port + "/index.html"},
		"app login":     {"-H", bobAuth, b.base + "/proxy/auth?to=" + "http://" + b.appHost(b.httpd) + ":" + b.port + "/"},
		"forward port":  {"-H", bobAuth, b.base + "/api/spaces/" + b.spaceID + "/ports/" + b.httpd},
	} {
		out, _ := curl(t, append([]string{"-w", "\n%{http_code}"}, args...)...)
		if !strings.HasSuffix(out, "\n404") || strings.Contains(out, "busybox") {
			t.Errorf("bob through the %s: %s, want 404", name, out)
		}
	}

	// The audit log has each connection, who, the port and the bytes, and the refusals.
	_, al := b.s.fetch("GET", "/api/audit-logs?max_items=1000", b.token, nil)
	var audit struct {
		Events []struct {
			Event      string            `json:"event"`
			Actor      string            `json:"actor"`
			Properties map[string]string `json:"properties"`
		} `json:"items"`
	}
	json.Unmarshal(al, &audit)
	var closed, refused int
	for _, e := range audit.Events {
		switch e.Event {
		case "web app closed":
			if e.Actor == "admin" && e.Properties["ip"] == "127.0.0.1" && e.Properties["duration"] != "" && e.Properties["bytes_to_space"] != "0" && e.Properties["bytes_from_space"] != "0" {
				closed++
			}
		case "web app refused", "port forward refused":
			if e.Actor == "bob" {
				refused++
			}
		}
	}
	if closed == 0 || refused < 3 {
		t.Fatalf("the audit log has %d web app connections of the admin with bytes and %d refusals of bob: %s", closed, refused, al)
	}
}

// wsEcho sends a message through the websocket at u and wants it back.
func wsEcho(t *testing.T, b *webBed, u string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+b.port)
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: http.Header{"Authorization": {"Bearer " + b.token}}})
	if err != nil {
		t.Fatalf("websocket %s: %v", u, err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	for _, msg := range []string{"ping-42", strings.Repeat("x", 40<<10)} {
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, p, err := c.Read(ctx)
		if err != nil || string(p) != msg {
			t.Fatalf("websocket %s echoed %d bytes, %v; want %d", u, len(p), err, len(msg))
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
}

func TestForwardPortOfAContainerSpace(t *testing.T) {
	b := startWebBed(t)
	local := loopbackPort(t)
	fw := startKnot(t, b.env, "forward", "port", "dev", b.httpd, "127.0.0.1:"+local)
	select {
	case line := <-fw.lines:
		if !strings.Contains(line, "Forwarding 127.0.0.1:"+local+" to port "+b.httpd+" of space dev") {
			t.Fatalf("knot forward port said %q", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("knot forward port did not start: %s", fw.stderr)
	}

	// curl through it.
	out, err := curl(t, "http://127.0.0.1:"+local+"/index.html")
	if err != nil || out != "hello from busybox httpd\n" {
		t.Fatalf("curl through knot forward port: %v %q", err, out)
	}
	// nc through it: the request, then the end of its input (a half-close).
	nc := exec.Command("busybox", "nc", "127.0.0.1", local)
	nc.Stdin = strings.NewReader("GET /index.html HTTP/1.0\r\n\r\n")
	if out, err := nc.CombinedOutput(); err != nil || !strings.Contains(string(out), "hello from busybox httpd") {
		t.Fatalf("nc through knot forward port: %v %q", err, out)
	}

	// Two at once, each its own connection: open both, then ask on both.
	var conns [2]net.Conn
	for i := range conns {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+local, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		conns[i] = c
	}
	var wg sync.WaitGroup
	got := make([]string, 2)
	for i, c := range conns {
		wg.Go(func() {
			fmt.Fprintf(c, "GET /index.html HTTP/1.0\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				got[i] = string(body)
			}
		})
	}
	wg.Wait()
	if got[0] != "hello from busybox httpd\n" || got[1] != got[0] {
		t.Fatalf("two connections at once got %q", got)
	}
	for _, c := range conns {
		c.Close()
	}

	// A closed port in the space: the connection ends with the reason.
	fw2 := startKnot(t, b.env, "forward", "port", "dev", b.off, "127.0.0.1:"+loopbackPort(t))
	line := <-fw2.lines
	addr := strings.Fields(line)[1]
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("a connection to a closed port read %d bytes, %v", n, err)
	}
	c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(fw2.stderr.String(), "nothing answers on port "+b.off) {
		if time.Now().After(deadline) {
			t.Fatalf("knot forward port did not say why: %s", fw2.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Every connection is in the audit log with its bytes.
	deadline = time.Now().Add(20 * time.Second)
	for {
		_, al := b.s.fetch("GET", "/api/audit-logs?max_items=1000", b.token, nil)
		var audit struct {
			Events []struct {
				Event      string            `json:"event"`
				Properties map[string]string `json:"properties"`
			} `json:"items"`
		}
		json.Unmarshal(al, &audit)
		n := 0
		for _, e := range audit.Events {
			if e.Event == "port forward closed" && e.Properties["port"] == b.httpd && e.Properties["bytes_from_space"] != "0" && e.Properties["bytes_to_space"] != "0" {
				n++
			}
		}
		if n >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d forwarded connections audited, want 4: %s", n, al)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
