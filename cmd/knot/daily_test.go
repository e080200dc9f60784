package main_test

import (
	"regexp"
	"strings"
	"testing"
)

func TestPing(t *testing.T) {
	ts := startServer(t)
	// With a token: the server's version and the round trip.
	r := knot(t, ts.as(t, ts.adminToken), "", "ping")
	mustSucceed(t, r)
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(ts.URL) + ` answers: knot test, round trip \d+\.\d ms\.\n$`).MatchString(r.stdout) {
		t.Errorf("stdout: %q", r.stdout)
	}
	// Without one, -s alone: reachability and round trip.
	r = knot(t, clientEnv(t), "", "ping", "-s", ts.URL)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, ts.URL+" answers: round trip ") || !strings.Contains(r.stdout, "version not shown without a token") {
		t.Errorf("stdout: %q", r.stdout)
	}
	// -t gives the token.
	r = knot(t, clientEnv(t), "", "ping", "-s", ts.URL, "-t", ts.adminToken)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "knot test") {
		t.Errorf("stdout: %q", r.stdout)
	}
	// A bad token is named as such.
	r = knot(t, clientEnv(t), "", "ping", "-s", ts.URL, "-t", "not-a-token")
	if r.code != 1 || !strings.Contains(r.stderr, "refused the token") || !strings.Contains(r.stderr, "knot connect "+ts.URL) {
		t.Errorf("bad token: exit %d, stderr %q", r.code, r.stderr)
	}
	// Nobody there.
	r = knot(t, clientEnv(t), "", "ping", "--server", "http://127.0.0.1:"+loopbackPort(t))
	if r.code != 1 || !strings.Contains(r.stderr, "does not answer") {
		t.Errorf("no server: exit %d, stderr %q", r.code, r.stderr)
	}
	r = knot(t, clientEnv(t), "", "ping")
	if r.code != 1 || !strings.Contains(r.stderr, "no knot server is configured") {
		t.Errorf("no server configured: exit %d, stderr %q", r.code, r.stderr)
	}
	r = knot(t, ts.as(t, ts.adminToken), "", "ping", "extra")
	if r.code != 2 || !strings.Contains(r.stderr, `unexpected argument "extra"`) {
		t.Errorf("extra argument: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestTemplateDelete(t *testing.T) {
	ts := startServer(t)
	admin := ts.as(t, ts.adminToken)
	mustSucceed(t, knot(t, admin, "name: byo\nkind: manual\n", "template", "import", "-"))
	mustSucceed(t, knot(t, admin, "name: spare\nkind: manual\n", "template", "import", "-"))
	mustSucceed(t, knot(t, admin, "", "space", "create", "dev", "byo"))

	r := knot(t, admin, "", "template", "delete", "SPARE")
	mustSucceed(t, r)
	if r.stdout != "Template spare deleted.\n" {
		t.Errorf("stdout: %q", r.stdout)
	}
	for _, tp := range ts.templates(t) {
		if tp.Name == "spare" {
			t.Fatal("template spare is still there")
		}
	}
	// A template in use stays, and the server's reason is shown.
	r = knot(t, admin, "", "template", "delete", "byo")
	if r.code != 1 || !strings.Contains(r.stderr, "delete template byo: ") {
		t.Errorf("in use: exit %d, stderr %q", r.code, r.stderr)
	}
	if len(ts.templates(t)) != 1 {
		t.Error("template byo was deleted while a space uses it")
	}
	r = knot(t, admin, "", "template", "delete", "nope")
	if r.code != 1 || !strings.Contains(r.stderr, `there is no template named "nope"`) {
		t.Errorf("unknown: exit %d, stderr %q", r.code, r.stderr)
	}
	// A user without Manage Templates is refused by the server.
	bob := ts.as(t, ts.addUser(t, "bob"))
	mustSucceed(t, knot(t, admin, "", "space", "delete", "dev"))
	r = knot(t, bob, "", "template", "delete", "byo")
	if r.code != 1 || len(ts.templates(t)) != 1 {
		t.Errorf("bob: exit %d, stderr %q", r.code, r.stderr)
	}
	r = knot(t, admin, "", "template", "delete")
	if r.code != 2 || !strings.Contains(r.stderr, "missing NAME") {
		t.Errorf("no name: exit %d, stderr %q", r.code, r.stderr)
	}
}

// fieldsOf reads the "Key: value" lines knot space get prints.
func fieldsOf(out string) map[string]string {
	fields := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(l, ":")
		fields[k] = strings.TrimSpace(v)
	}
	return fields
}

func TestSpaceGet(t *testing.T) {
	ts := startServer(t)
	admin := ts.as(t, ts.adminToken)
	mustSucceed(t, knot(t, admin, "name: byo\nkind: manual\n", "template", "import", "-"))
	mustSucceed(t, knot(t, admin, "", "space", "create", "dev", "byo", "-d", "my box", "--shell", "zsh"))

	r := knot(t, admin, "", "space", "get", "dev")
	mustSucceed(t, r)
	fields := fieldsOf(r.stdout)
	want := map[string]string{"Name": "dev", "Description": "my box", "Owner": "admin", "Template": "byo",
		"Location": "test", "State": "stopped", "Shell": "zsh", "Deployed": "no", "Started": "-"}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("%s: %q, want %q\n%s", k, fields[k], v, r.stdout)
		}
	}
	if sps := ts.spaces(t, ts.adminToken); len(sps) != 1 || fields["ID"] != sps[0].ID {
		t.Errorf("ID %q, spaces %+v", fields["ID"], sps)
	}
	r = knot(t, admin, "", "space", "get", "nope")
	if r.code != 1 || !strings.Contains(r.stderr, `you have no space named "nope"`) {
		t.Errorf("unknown: exit %d, stderr %q", r.code, r.stderr)
	}
	r = knot(t, admin, "", "space", "get", "a", "b")
	if r.code != 2 || !strings.Contains(r.stderr, `unexpected argument "b"`) {
		t.Errorf("two names: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestSpaceCreateLocation(t *testing.T) {
	ts := startServer(t)
	admin := ts.as(t, ts.adminToken)
	mustSucceed(t, knot(t, admin, "name: byo\nkind: manual\n", "template", "import", "-"))

	// auto at a standalone server is its own location, and says so.
	r := knot(t, admin, "", "space", "create", "dev", "--template", "byo", "--location", "auto")
	mustSucceed(t, r)
	if !strings.HasPrefix(r.stdout, "Space dev created from template byo at location test.\n") {
		t.Errorf("stdout: %q", r.stdout)
	}
	mustSucceed(t, knot(t, admin, "", "space", "create", "api", "byo", "-l", "test"))
	if sps := ts.spaces(t, ts.adminToken); len(sps) != 2 {
		t.Fatalf("spaces: %+v", sps)
	}
	// A location this server does not run is refused with the reason.
	r = knot(t, admin, "", "space", "create", "far", "byo", "--location", "mars")
	if r.code != 1 || !strings.Contains(r.stderr, "runs only location") {
		t.Errorf("mars: exit %d, stderr %q", r.code, r.stderr)
	}
	r = knot(t, admin, "", "space", "create", "x", "byo", "--template", "byo")
	if r.code != 2 || !strings.Contains(r.stderr, "give the template once") {
		t.Errorf("template twice: exit %d, stderr %q", r.code, r.stderr)
	}
	r = knot(t, admin, "", "space", "create", "x", "byo", "--location", " ")
	if r.code != 2 || !strings.Contains(r.stderr, "--location is empty") {
		t.Errorf("empty location: exit %d, stderr %q", r.code, r.stderr)
	}
	// -s and -t name the server and the token.
	mustSucceed(t, knot(t, clientEnv(t), "", "space", "create", "web", "byo", "-s", ts.URL, "-t", ts.adminToken))
	if sps := ts.spaces(t, ts.adminToken); len(sps) != 3 {
		t.Fatalf("spaces: %+v", sps)
	}
}

// TestSpaceGetShowsAgentAndWebPorts: knot space get shows a space in full,
// so what knot space list shows of it (its agent, its web ports) is there
// too.
func TestSpaceGetShowsAgentAndWebPorts(t *testing.T) {
	b := startTerminalBed(t)
	env := b.as(t, b.adminToken)
	mustSucceed(t, knot(t, env, "name: byo\nkind: manual\nhttp_ports:\n  - {port: 8080, name: Site}\n", "template", "import", "-"))

	r := knot(t, env, "", "space", "get", "dev")
	mustSucceed(t, r)
	fields := fieldsOf(r.stdout)
	if got := fields["Web ports"]; got != "8080 (Site)" {
		t.Errorf("Web ports: %q, want %q\n%s", got, "8080 (Site)", r.stdout)
	}
	// The agent linked: the row names its version, as the AGENT column does.
	if got := fields["Agent"]; got == "" || got == "-" || got == "?" || strings.HasPrefix(got, "no") {
		t.Errorf("Agent: %q, want the linked agent's version\n%s", got, r.stdout)
	}
}
