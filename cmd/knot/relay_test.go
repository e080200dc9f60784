package main_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// relayFleet is an origin and two leaves as processes on loopback, with a
// running manual space "dev" of the admin at the leaf "branch" whose agent
// runs as another process.
type relayFleet struct {
	origin, branch, annex *serverProc
	admin, mallory        string // API tokens, made at the origin
	spaceID               string
	tmplID                string // a manual template
	originDir             string
	originArgs            []string
}

// manualServer runs a standalone server with args, with its admin, an API
// token of theirs and a manual template "byo"; it returns the server, the
// token and the template's id.
func manualServer(t testing.TB, args ...string) (*serverProc, string, string) {
	t.Helper()
	s := runKnotServer(t, t.TempDir(), args...)
	s.call("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"}, 201, nil)
	var tok struct{ Token string }
	s.call("POST", "/api/tokens", s.login(), map[string]any{"name": "cli"}, 201, &tok)
	var tmpl struct {
		ID string `json:"template_id"`
	}
	s.call("POST", "/api/templates", tok.Token, map[string]any{"name": "byo", "kind": "manual"}, 201, &tmpl)
	return s, tok.Token, tmpl.ID
}

// startManualSpace creates and starts a manual space at s, runs its agent
// as another process, and returns the space's id.
func startManualSpace(t testing.TB, s *serverProc, token, tmplID, name string) string {
	t.Helper()
	id, _ := startManualSpaceAgent(t, s, token, tmplID, name, nil)
	return id
}

// startManualSpaceEnv is startManualSpace with more environment for the
// agent (HOME, say).
func startManualSpaceEnv(t testing.TB, s *serverProc, token, tmplID, name string, extra map[string]string) string {
	t.Helper()
	id, _ := startManualSpaceAgent(t, s, token, tmplID, name, extra)
	return id
}

// startManualSpaceAgent is startManualSpaceEnv that also returns the agent.
func startManualSpaceAgent(t testing.TB, s *serverProc, token, tmplID, name string, extra map[string]string) (string, *background) {
	t.Helper()
	var sp struct {
		ID string `json:"space_id"`
	}
	s.call("POST", "/api/spaces", token, map[string]any{"name": name, "template_id": tmplID}, 201, &sp)
	s.call("POST", "/api/spaces/"+sp.ID+"/start", token, nil, 200, nil)
	status, body := s.fetch("GET", "/api/spaces/"+sp.ID+"/agent-env", token, nil)
	if status != 200 {
		t.Fatalf("agent-env: %d %s", status, body)
	}
	env := map[string]string{"HOME": t.TempDir(), "TMPDIR": t.TempDir()}
	for _, line := range strings.Fields(string(body)) {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	return sp.ID, startKnot(t, env, "agent")
}

// waitRunningAt waits until s shows the space id running at location.
func waitRunningAt(t testing.TB, s *serverProc, token, id, location string) {
	t.Helper()
	waitUntil(t, 30*time.Second, func() string {
		var got struct{ State, Location string }
		code, body := s.fetch("GET", "/api/spaces/"+id, token, nil)
		if code != 200 || json.Unmarshal(body, &got) != nil || got.State != "running" || got.Location != location {
			return s.base + " does not show the space running at " + location + ": " + string(body)
		}
		return ""
	})
}

func startRelayFleet(t testing.TB) *relayFleet {
	t.Helper()
	originDir, originArgs := t.TempDir(), []string{"--listen", "127.0.0.1:" + loopbackPort(t), "--location", "hq", "--shared-token", fleetSharedToken}
	o := runKnotServer(t, originDir, originArgs...)
	leafArgs := func(loc string) []string {
		return []string{"--listen", "127.0.0.1:0", "--location", loc, "--shared-token", fleetSharedToken, "--origin-server", o.base}
	}
	f := &relayFleet{originDir: originDir, originArgs: originArgs, origin: o, branch: runKnotServer(t, t.TempDir(), leafArgs("branch")...), annex: runKnotServer(t, t.TempDir(), leafArgs("annex")...)}

	o.call("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"}, 201, nil)
	session := o.login()
	var tok struct{ Token string }
	o.call("POST", "/api/tokens", session, map[string]any{"name": "cli"}, 201, &tok)
	f.admin = tok.Token
	o.call("POST", "/api/users", session, map[string]any{"username": "mallory", "email": "mallory@example.com", "password": "a-long-password"}, 201, nil)
	var auth struct{ Token string }
	o.call("POST", "/api/auth", "", map[string]string{"email": "mallory@example.com", "password": "a-long-password"}, 200, &auth)
	o.call("POST", "/api/tokens", auth.Token, map[string]any{"name": "cli"}, 201, &tok)
	f.mallory = tok.Token
	var tmpl struct {
		ID string `json:"template_id"`
	}
	o.call("POST", "/api/templates", f.admin, map[string]any{"name": "byo", "kind": "manual"}, 201, &tmpl)

	// Both leaves know the template, and mallory's token.
	for _, l := range []*serverProc{f.branch, f.annex} {
		waitUntil(t, 30*time.Second, func() string {
			if code, body := l.fetch("GET", "/api/templates", f.admin, nil); code != 200 || !strings.Contains(string(body), tmpl.ID) {
				return "the leaf has no template yet: " + string(body)
			}
			if code, _ := l.fetch("GET", "/api/spaces", f.mallory, nil); code != 200 {
				return "the leaf does not know mallory yet"
			}
			return ""
		})
	}
	f.spaceID = startManualSpace(t, f.branch, f.admin, tmpl.ID, "dev")
	f.tmplID = tmpl.ID
	// The space runs at its leaf, and the origin and the other leaf know it.
	for _, s := range []*serverProc{f.branch, o, f.annex} {
		waitRunningAt(t, s, f.admin, f.spaceID, "branch")
	}
	return f
}

// useTerminal is useTerminal of the fleet's space.
func (f *relayFleet) useTerminal(t *testing.T, s *serverProc) {
	t.Helper()
	useTerminal(t, s, f.admin, f.spaceID)
}

// useTerminal opens the terminal of a space at s and checks prompt, echo,
// resize and the exit code.
func useTerminal(t *testing.T, s *serverProc, token, spaceID string) {
	t.Helper()
	w, resp, err := openTerminal(t, s.base, token, spaceID, "cols=80&rows=24")
	if err != nil {
		t.Fatalf("terminal at %s: %v %+v", s.base, err, resp)
	}
	var got strings.Builder
	w.send("echo hi-$((40+2))\n")
	w.until(&got, "hi-42")
	w.send("stty size\n")
	w.until(&got, "24 80")
	w.control(map[string]any{"type": "resize", "cols": 132, "rows": 43})
	w.send("stty size\n")
	w.until(&got, "43 132")
	w.send("exit 7\n")
	if c := w.waitEnd(); c != 7 {
		t.Fatalf("exit code %d, want 7", c)
	}
}

type auditItem struct {
	Actor      string
	Event      string
	Details    string
	Properties map[string]string
}

// audited waits until s's audit log holds an event that match accepts.
func audited(t *testing.T, s *serverProc, token, what string, match func(auditItem) bool) {
	t.Helper()
	waitUntil(t, 20*time.Second, func() string {
		var out struct{ Items []auditItem }
		code, body := s.fetch("GET", "/api/audit-logs?limit=1000", token, nil)
		if code != 200 || json.Unmarshal(body, &out) != nil {
			return "audit log: " + string(body)
		}
		for _, e := range out.Items {
			if match(e) {
				return ""
			}
		}
		return what + " is not in the audit log of " + s.base
	})
}

// A terminal of a space at one leaf, opened at the origin or at another
// leaf (which shows the space's agent connected, and stale once the
// space's leaf is gone), is relayed there: prompt, echo, resize and exit code; the space's
// leaf audits it with the way it came. A non-owner is refused at each
// server, and audited; `knot space shell` at the origin works; with the
// space's leaf down, both other servers answer 503 at once, naming it.
func TestTerminalOfALeafSpaceFromAnyServer(t *testing.T) {
	f := startRelayFleet(t)

	f.useTerminal(t, f.origin)
	audited(t, f.branch, f.admin, "the relayed terminal from the origin", func(e auditItem) bool {
		return e.Event == "terminal closed" && e.Actor == "admin" && e.Properties["via"] == "origin hq" &&
			strings.Contains(e.Properties["reason"], "exited with code 7") && e.Properties["ip"] != ""
	})
	waitUntil(t, 20*time.Second, func() string {
		var sp struct{ Agent *struct{ Connected bool } }
		if _, body := f.annex.fetch("GET", "/api/spaces/"+f.spaceID, f.admin, nil); json.Unmarshal(body, &sp) != nil || sp.Agent == nil || !sp.Agent.Connected {
			return "the other leaf does not show the agent of the space at branch connected: " + string(body)
		}
		return ""
	})
	f.useTerminal(t, f.annex)
	// The kept sessions are listed through the relay too.
	w, _, err := openTerminal(t, f.origin.base, f.admin, f.spaceID, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*serverProc{f.origin, f.annex} {
		var list struct{ Sessions []struct{ ID string } }
		s.call("GET", "/api/spaces/"+f.spaceID+"/terminal", f.admin, nil, 200, &list)
		if len(list.Sessions) != 1 || list.Sessions[0].ID != w.id {
			t.Fatalf("sessions listed at %s: %+v, want %s", s.base, list.Sessions, w.id)
		}
	}
	w.send("exit\n")
	w.waitEnd()
	audited(t, f.branch, f.admin, "the relayed terminal from the other leaf", func(e auditItem) bool {
		return e.Event == "terminal opened" && e.Properties["via"] == "leaf annex via origin hq"
	})

	// The CLI, pointed at the origin.
	env := clientEnv(t, "KNOT_SERVER", f.origin.base, "KNOT_TOKEN", f.admin)
	r := knot(t, env, "echo scripted-$((3*3))\nexit 4\n", "space", "shell", "dev")
	if r.code != 4 || !strings.Contains(r.stdout, "scripted-9") {
		t.Fatalf("knot space shell at the origin: exit %d, stdout %q, stderr %q; want 4 and scripted-9", r.code, r.stdout, r.stderr)
	}
	r = knot(t, env, "", "space", "exec", "dev", "--", "sh", "-c", "exit 3")
	if r.code != 3 {
		t.Fatalf("knot space exec at the origin: exit %d, stderr %q; want 3", r.code, r.stderr)
	}

	// Someone else's space: refused at the origin and at the other leaf.
	for _, s := range []*serverProc{f.origin, f.annex} {
		_, resp, err := openTerminal(t, s.base, f.mallory, f.spaceID, "")
		if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("mallory's terminal at %s: %v, %+v; want 404", s.base, err, resp)
		}
		audited(t, s, f.admin, "mallory's refusal", func(e auditItem) bool { return e.Event == "terminal refused" && e.Actor == "mallory" })
	}

	// The space's leaf goes down: the origin and the other leaf say so at
	// once.
	f.branch.kill()
	waitUntil(t, 30*time.Second, func() string {
		var out struct {
			Leaves []struct {
				Location  string
				Connected bool
			}
		}
		_, body := f.origin.fetch("GET", "/api/leaves", f.admin, nil)
		json.Unmarshal(body, &out)
		for _, l := range out.Leaves {
			if l.Location == "branch" && l.Connected {
				return "the origin still counts branch connected"
			}
		}
		return ""
	})
	// The other leaf no longer says the space's agent is connected: the
	// origin told it that what it holds of branch is stale.
	waitUntil(t, 20*time.Second, func() string {
		var sp struct {
			Agent *struct{ Connected, Stale bool }
		}
		if _, body := f.annex.fetch("GET", "/api/spaces/"+f.spaceID, f.admin, nil); json.Unmarshal(body, &sp) != nil || sp.Agent == nil || sp.Agent.Connected || !sp.Agent.Stale {
			return "the other leaf does not show the agent at branch stale: " + string(body)
		}
		return ""
	})
	if l := knot(t, clientEnv(t, "KNOT_SERVER", f.annex.base, "KNOT_TOKEN", f.admin), "", "space", "list"); l.code != 0 || !slices.Contains(strings.Fields(strings.Split(strings.TrimSpace(l.stdout), "\n")[1]), "?") {
		t.Fatalf("knot space list at the other leaf with branch gone: %q %s; want ? in the AGENT column", l.stdout, l.stderr)
	}
	for _, s := range []*serverProc{f.origin, f.annex} {
		began := time.Now()
		_, resp, err := openTerminal(t, s.base, f.admin, f.spaceID, "")
		took := time.Since(began)
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("terminal at %s with the leaf down: %v %+v; want 503", s.base, err, resp)
		}
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		if !strings.Contains(e.Error, "branch") || !strings.Contains(e.Error, "not connected") || took > 3*time.Second {
			t.Fatalf("terminal at %s with the leaf down: %q after %s; want the location and why, at once", s.base, e.Error, took)
		}
	}

	// The origin goes down too: the other leaf says it cannot reach it.
	f.origin.kill()
	waitUntil(t, 30*time.Second, func() string {
		began := time.Now()
		_, resp, err := openTerminal(t, f.annex.base, f.admin, f.spaceID, "")
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			return "not yet 503"
		}
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		if !strings.Contains(e.Error, "origin") || !strings.Contains(e.Error, "cannot reach") {
			return "the answer does not say the origin is unreachable yet: " + e.Error
		}
		if took := time.Since(began); took > 3*time.Second {
			t.Fatalf("503 after %s, want at once", took)
		}
		return ""
	})
}

// A space of the origin's own location is reached from a leaf, which
// shows its agent connected as the origin tells it: the origin serves the
// relayed stream itself, and audits it with the leaf it came from. After a restart of the origin the leaves' relay channels are back.
func TestTerminalOfTheOriginsSpaceFromALeaf(t *testing.T) {
	f := startRelayFleet(t)
	id := startManualSpace(t, f.origin, f.admin, f.tmplID, "home")
	waitRunningAt(t, f.annex, f.admin, id, "hq")
	waitUntil(t, 20*time.Second, func() string {
		var sp struct{ Agent *struct{ Connected bool } }
		if _, body := f.annex.fetch("GET", "/api/spaces/"+id, f.admin, nil); json.Unmarshal(body, &sp) != nil || sp.Agent == nil || !sp.Agent.Connected {
			return "the leaf does not show the agent of the origin's space connected: " + string(body)
		}
		return ""
	})
	useTerminal(t, f.annex, f.admin, id)
	audited(t, f.origin, f.admin, "the relayed terminal from the leaf", func(e auditItem) bool {
		return e.Event == "terminal closed" && e.Properties["via"] == "leaf annex via origin hq" && strings.Contains(e.Properties["reason"], "exited with code 7")
	})

	// The origin restarts: the leaves link again, with their relay
	// channels, and terminals between them go through as before. (The
	// origin's own agent endpoint moves to another port, so its space's
	// agent stays away.)
	f.origin.kill()
	f.origin = runKnotServer(t, f.originDir, f.originArgs...)
	waitUntil(t, 60*time.Second, func() string {
		code, body := f.origin.fetch("GET", "/api/spaces/"+f.spaceID+"/terminal", f.admin, nil)
		if code != 200 {
			return "the branch's space is not reachable from the restarted origin: " + string(body)
		}
		code, body = f.annex.fetch("GET", "/api/spaces/"+f.spaceID+"/terminal", f.admin, nil)
		if code != 200 {
			return "the branch's space is not reachable from the annex: " + string(body)
		}
		return ""
	})
	f.useTerminal(t, f.annex)
}
