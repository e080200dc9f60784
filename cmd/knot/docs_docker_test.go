package main_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	knotmain "github.com/knot-dev/knot/cmd/knot"
	"github.com/knot-dev/knot/runtime/runtimetest"
	"github.com/knot-dev/knot/shared/testenv"
)

// TestDocsFirstContainerTemplateRuns follows the manual as a new user does:
// the first complete container template of docs/ (taken from the Markdown,
// not typed again here), imported with the command line the manual shows,
// a space of it created and started on a real server with a private
// dockerd. The space must reach running, and knot space exec must find in
// it what the example sets up: its environment and its home volume.
func TestDocsFirstContainerTemplateRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a container engine")
	}
	where, file := knotmain.DocsFirstContainerTemplate(t)
	name := regexp.MustCompile(`(?m)^name: (\S+)$`).FindStringSubmatch(file)
	if name == nil {
		t.Fatalf("%s: the template file has no name:\n%s", where, file)
	}

	e, err := runtimetest.StartDocker(context.Background())
	if err != nil {
		testenv.Missing(t, "docker", err)
	}
	t.Cleanup(func() { e.Close() })

	// Two lines of the example are replaced, for reasons of this machine
	// alone; everything else runs as written:
	//   - its image lives in a registry, and no registry can be reached
	//     here: the engine's busybox image, imported offline, stands in;
	//   - the private dockerd has no bridge, so a container reaches the
	//     server's agent listener on loopback only on the host network,
	//     with which a hostname cannot be set: network: host stands in for
	//     the hostname line.
	spec := substituteLine(t, where, file, `(?m)^  image: .*$`, "  image: "+e.Image)
	spec = substituteLine(t, where, spec, `(?m)^  hostname: .*$`, "  network: host")

	static := e.Knot(t) // the server's own binary is the agent: it must be static
	s := runKnotServerOf(t, static, t.TempDir(), nil, "--listen", "127.0.0.1:0", "--listen-agent", "127.0.0.1:"+loopbackPort(t),
		"--memorydb-enabled", "--location", "here", "--docker-host", e.Host)
	t.Cleanup(s.stop)
	s.fetch("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"})
	token := tryLogin(s)
	if token == "" {
		t.Fatalf("no login:\n%s", s.log)
	}
	env := clientEnv(t, "KNOT_SERVER", s.base, "KNOT_TOKEN", token)

	// The manual's lines: knot template import dev.yaml, then knot space
	// create NAME TEMPLATE and knot space start NAME.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name[1]+".yaml"), []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, knotIn(t, dir, env, "", "template", "import", name[1]+".yaml"))
	mustSucceed(t, knot(t, env, "", "space", "create", "dev", name[1]))
	mustSucceed(t, knot(t, env, "", "space", "start", "dev"))

	var id string
	for _, sp := range spacesAt(s, token, "") {
		id = sp.ID
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, body := s.fetch("GET", "/api/spaces/"+id, token, nil)
		var sp struct {
			State string
			Agent *struct{ Connected bool }
		}
		json.Unmarshal(body, &sp)
		if sp.State == "running" && sp.Agent != nil && sp.Agent.Connected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the space of the example is not running with its agent within 60s: %s\n%s", where, body, s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The example sets GIT_AUTHOR_NAME to the user's name and mounts the
	// space's volume home-<space id> at /home/<user name>.
	r := knot(t, env, "", "space", "exec", "dev", "--", "sh", "-c",
		`echo "author=$GIT_AUTHOR_NAME"; grep -q " /home/admin " /proc/mounts && echo home-mounted`)
	if r.code != 0 || !strings.Contains(r.stdout, "author=admin\n") || !strings.Contains(r.stdout, "home-mounted") {
		t.Fatalf("%s: exec in the space: exit %d, stdout %q, stderr %q; want author=admin and home-mounted", where, r.code, r.stdout, r.stderr)
	}
}

// substituteLine replaces the one line of text that re matches with line.
func substituteLine(t *testing.T, where, text, re, line string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	if n := len(rx.FindAllString(text, -1)); n != 1 {
		t.Fatalf("%s: want one line matching %s in the example, found %d:\n%s", where, re, n, text)
	}
	return rx.ReplaceAllLiteralString(text, line)
}
