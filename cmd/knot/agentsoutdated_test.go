package main_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared/client"
)

type outdatedAgents struct {
	Count  int `json:"count"`
	Agents []struct {
		SpaceID       string `json:"space_id"`
		Name          string `json:"name"`
		Username      string `json:"username"`
		Location      string `json:"location"`
		AgentVersion  string `json:"agent_version"`
		ServerVersion string `json:"server_version"`
	} `json:"agents"`
}

type spaceAgent struct {
	Agent *struct {
		Connected bool   `json:"connected"`
		Version   string `json:"version"`
		Outdated  bool   `json:"outdated"`
	} `json:"agent"`
}

// The terminal bed's server says it is version "dev"; its agent is knot
// built as testVersion.
func TestOutdatedAgentsListsAgentsOfAnotherVersion(t *testing.T) {
	b := startTerminalBed(t)
	var sp spaceAgent
	b.mustCall(t, "GET", "/api/spaces/"+b.spaceID, b.adminToken, nil, &sp)
	if sp.Agent == nil || !sp.Agent.Connected || sp.Agent.Version != testVersion || !sp.Agent.Outdated {
		t.Fatalf("GET space: agent %+v, want connected, %s, outdated", sp.Agent, testVersion)
	}
	var l outdatedAgents
	b.mustCall(t, "GET", "/api/agents/outdated", b.adminToken, nil, &l)
	if l.Count != 1 || len(l.Agents) != 1 {
		t.Fatalf("outdated agents: %+v, want the space dev", l)
	}
	if a := l.Agents[0]; a.SpaceID != b.spaceID || a.Name != "dev" || a.Username == "" || a.Location != "test" || a.AgentVersion != testVersion || a.ServerVersion != "dev" {
		t.Fatalf("outdated agent %+v", a)
	}
	// The Go client reads the same list.
	cl, err := client.New(client.Config{Address: b.URL, Token: b.adminToken})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cl.OutdatedAgents(context.Background())
	if err != nil || got.Count != 1 || got.Agents[0].SpaceID != b.spaceID || got.Agents[0].AgentVersion != testVersion {
		t.Fatalf("client: %+v, %v", got, err)
	}
	// A user without Manage Spaces sees only their own spaces.
	bob := b.addUser(t, "bob")
	var mine outdatedAgents
	b.mustCall(t, "GET", "/api/agents/outdated", bob, nil, &mine)
	if mine.Count != 0 || mine.Agents == nil || len(mine.Agents) != 0 {
		t.Fatalf("bob's outdated agents: %+v, want none", mine)
	}
}

// An agent of the server's own version is not outdated.
func TestAgentOfTheServersVersionIsNotOutdated(t *testing.T) {
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
	var tok struct {
		Env map[string]string `json:"env"`
	}
	s.call("POST", "/api/spaces/"+space.SpaceID+"/agent-token", token, nil, 200, &tok)
	env := map[string]string{"HOME": t.TempDir(), "TMPDIR": t.TempDir()}
	for k, v := range tok.Env {
		env[k] = v
	}
	agent := startKnot(t, env, "agent")
	var sp spaceAgent
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.call("GET", "/api/spaces/"+space.SpaceID, token, nil, 200, &sp)
		if sp.Agent != nil && sp.Agent.Connected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent (env %v) did not link within 20s:\n%s\nagent: %s", tok.Env, s.log, agent.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if sp.Agent.Version != testVersion || sp.Agent.Outdated {
		t.Fatalf("agent %+v, want %s and not outdated", sp.Agent, testVersion)
	}
	var l outdatedAgents
	s.call("GET", "/api/agents/outdated", token, nil, 200, &l)
	if l.Count != 0 || len(l.Agents) != 0 {
		t.Fatalf("outdated agents: %+v, want none", l)
	}
	s.stop()
}

// The space list carries each space's agent, and knot space list shows it.
func TestSpaceListShowsTheAgent(t *testing.T) {
	b := startTerminalBed(t)
	admin := b.as(t, b.adminToken)
	mustSucceed(t, knot(t, admin, "", "space", "create", "idle", "byo"))

	var l struct {
		Spaces []struct {
			Name string `json:"name"`
			spaceAgent
		} `json:"spaces"`
	}
	b.mustCall(t, "GET", "/api/spaces", b.adminToken, nil, &l)
	agents := map[string]string{}
	for _, sp := range l.Spaces {
		if sp.Agent == nil {
			t.Fatalf("space %s is listed without its agent", sp.Name)
		}
		agents[sp.Name] = fmt.Sprintf("%v %s %v", sp.Agent.Connected, sp.Agent.Version, sp.Agent.Outdated)
	}
	if agents["dev"] != "true "+testVersion+" true" || agents["idle"] != "false  false" {
		t.Fatalf("listed agents %v", agents)
	}

	r := knot(t, admin, "", "space", "list")
	mustSucceed(t, r)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if !regexp.MustCompile(`^NAME\s+STATE\s+LOCATION\s+TEMPLATE\s+UPDATE AVAILABLE\s+AGENT$`).MatchString(lines[0]) {
		t.Fatalf("header %q", lines[0])
	}
	rows := map[string]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		rows[f[0]] = strings.Join(f, " ")
	}
	if rows["dev"] != "dev running test byo no "+testVersion+" (outdated)" || rows["idle"] != "idle stopped test byo no no" {
		t.Fatalf("knot space list:\n%s", r.stdout)
	}
}
