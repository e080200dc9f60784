package main_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A space at a leaf, seen from the origin: knot space list there shows its
// agent as the leaf reports it, and when it went away, and so does the
// list at the other leaf, which the origin tells; its web app opens on
// the origin's wildcard domain, relayed to the leaf (curl with --resolve to
// 127.0.0.1); the web app of a space at a leaf with server.disable_proxy
// is refused by that leaf, at the origin's wildcard host and path proxy.
func TestLeafSpacesAtTheOrigin(t *testing.T) {
	app, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(app, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from the space at %s", r.URL.Path)
	}))
	t.Cleanup(func() { app.Close() })
	appPort := app.Addr().(*net.TCPAddr).Port

	port := loopbackPort(t)
	o := runKnotServer(t, t.TempDir(), "--listen", "127.0.0.1:"+port, "--url", "http://127.0.0.1:"+port, "--wildcard-domain", "*.example.test",
		"--location", "hq", "--shared-token", fleetSharedToken)
	leafArgs := func(loc string, more ...string) []string {
		return append([]string{"--listen", "127.0.0.1:0", "--location", loc, "--shared-token", fleetSharedToken, "--origin-server", o.base}, more...)
	}
	branch := runKnotServer(t, t.TempDir(), leafArgs("branch")...)
	closed := runKnotServer(t, t.TempDir(), leafArgs("closed", "--disable-proxy")...)

	o.call("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"}, 201, nil)
	var tok struct{ Token string }
	o.call("POST", "/api/tokens", o.login(), map[string]any{"name": "cli"}, 201, &tok)
	admin := tok.Token
	var tmpl struct {
		ID string `json:"template_id"`
	}
	o.call("POST", "/api/templates", admin, map[string]any{"name": "byo", "kind": "manual", "http_ports": []map[string]any{{"port": appPort, "name": "Site"}}}, 201, &tmpl)
	for _, l := range []*serverProc{branch, closed} {
		waitUntil(t, 30*time.Second, func() string {
			if code, body := l.fetch("GET", "/api/templates", admin, nil); code != 200 || !strings.Contains(string(body), tmpl.ID) {
				return "the leaf has no template yet: " + string(body)
			}
			return ""
		})
	}

	// dev at branch, with its agent as a process of its own.
	devID, agent := startManualSpaceAgent(t, branch, admin, tmpl.ID, "dev", nil)
	shut := startManualSpace(t, closed, admin, tmpl.ID, "shut")
	waitRunningAt(t, o, admin, devID, "branch")
	waitRunningAt(t, o, admin, shut, "closed")

	// knot space list at the origin shows the agents of both leaves, and
	// each leaf the other's.
	listedAt := func(s *serverProc) map[string]string {
		r := knot(t, clientEnv(t, "KNOT_SERVER", s.base, "KNOT_TOKEN", admin), "", "space", "list")
		mustSucceed(t, r)
		rows := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
			f := strings.Fields(l)
			rows[f[0]] = strings.Join(f, " ")
		}
		return rows
	}
	listed := func() map[string]string { return listedAt(o) }
	waitUntil(t, 20*time.Second, func() string {
		rows := listed()
		for name, loc := range map[string]string{"dev": "branch", "shut": "closed"} {
			if !strings.HasPrefix(rows[name], name+" running "+loc+" byo no "+testVersion) {
				return fmt.Sprintf("knot space list at the origin: %q", rows)
			}
		}
		return ""
	})
	waitUntil(t, 20*time.Second, func() string {
		for name, at := range map[string]*serverProc{"dev": closed, "shut": branch} {
			if row := listedAt(at)[name]; !strings.Contains(row, " byo no "+testVersion) {
				return fmt.Sprintf("knot space list at the other leaf: %q", row)
			}
		}
		return ""
	})

	// The web app of dev on the origin's wildcard domain, relayed.
	host := func(name string) string { return fmt.Sprintf("admin--%s--%d.example.test", name, appPort) }
	out, err := curl(t, "--resolve", host("dev")+":"+port+":127.0.0.1", "-H", "Authorization: Bearer "+admin, "http://"+host("dev")+":"+port+"/hi")
	if err != nil || out != "hello from the space at /hi" {
		t.Fatalf("the web app of a leaf's space at the origin's wildcard host: %v %q", err, out)
	}
	// shut's leaf does not forward ports: refused there, whichever way.
	for what, args := range map[string][]string{
		"wildcard host": {"--resolve", host("shut") + ":" + port + ":127.0.0.1", "http://" + host("shut") + ":" + port + "/hi"},
		"path proxy":    {o.base + "/proxy/spaces/" + shut + fmt.Sprintf("/ports/%d/hi", appPort)},
	} {
		out, _ := curl(t, append([]string{"-H", "Authorization: Bearer " + admin, "-w", "\n%{http_code}"}, args...)...)
		if !strings.HasSuffix(out, "403") || !strings.Contains(out, "location closed does not forward") {
			t.Errorf("the web app of a space at a leaf with disable_proxy, by the origin's %s: %q; want 403 from that leaf", what, out)
		}
	}

	// dev's agent goes away: the origin's list says when it was last seen.
	agent.cmd.Process.Kill()
	<-agent.exited
	waitUntil(t, 30*time.Second, func() string {
		if row := listed()["dev"]; !strings.Contains(row, " no (last seen ") {
			return fmt.Sprintf("knot space list at the origin after the agent left: %q", row)
		}
		if row := listedAt(closed)["dev"]; !strings.Contains(row, " no (last seen ") {
			return fmt.Sprintf("knot space list at the other leaf after the agent left: %q", row)
		}
		return ""
	})
}
