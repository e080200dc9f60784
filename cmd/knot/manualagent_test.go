package main_test

import (
	"strings"
	"testing"
	"time"
)

// A started manual space is starting until its agent links, then running.
func TestManualSpaceRunsOnceItsAgentLinks(t *testing.T) {
	s := runKnotServer(t, t.TempDir(), "--listen", "127.0.0.1:0")
	s.call("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"}, 201, nil)
	token := s.login()
	var tmpl struct {
		TemplateID string `json:"template_id"`
	}
	s.call("POST", "/api/templates", token, map[string]any{"name": "byo", "kind": "manual"}, 201, &tmpl)
	var space struct {
		SpaceID string `json:"space_id"`
	}
	s.call("POST", "/api/spaces", token, map[string]any{"name": "dev", "template_id": tmpl.TemplateID}, 201, &space)
	s.call("POST", "/api/spaces/"+space.SpaceID+"/start", token, nil, 200, nil)

	type spaceState struct {
		State  string `json:"state"`
		Reason string `json:"reason"`
		Agent  struct {
			Connected bool `json:"connected"`
		} `json:"agent"`
	}
	var got spaceState
	s.call("GET", "/api/spaces/"+space.SpaceID, token, nil, 200, &got)
	if got.State != "starting" || got.Reason != "waiting for its agent" {
		t.Fatalf("started without its agent: %+v; want starting, waiting for its agent", got)
	}

	status, body := s.fetch("GET", "/api/spaces/"+space.SpaceID+"/agent-env", token, nil)
	if status != 200 {
		t.Fatalf("agent-env: %d %s", status, body)
	}
	env := map[string]string{"HOME": t.TempDir(), "TMPDIR": t.TempDir()}
	for _, line := range strings.Fields(string(body)) {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	startKnot(t, env, "agent")
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.call("GET", "/api/spaces/"+space.SpaceID, token, nil, 200, &got)
		if got.State == "running" && got.Agent.Connected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("20 s after its agent started the space is %+v; want running", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got.Reason != "" {
		t.Fatalf("running with reason %q", got.Reason)
	}
}
