package main_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	knotmain "github.com/knot-dev/knot/cmd/knot"
)

// TestDocsFirstContainerTemplateRuns follows the manual as a new user does:
// the first complete container template of docs/ (taken from the Markdown,
// not typed again here), imported with the command line the manual shows,
// a space of it created and started on a real server with a private
// dockerd. The space must reach running, and knot space exec must find in
// it what the example sets up: its environment and its home volume.
func TestDocsFirstContainerTemplateRuns(t *testing.T) {
	where, file := knotmain.DocsFirstContainerTemplate(t)
	name := regexp.MustCompile(`(?m)^name: (\S+)$`).FindStringSubmatch(file)
	if name == nil {
		t.Fatalf("%s: the template file has no name:\n%s", where, file)
	}

	e, s, token, env := dockerServer(t)

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

	// The manual's lines: knot template import dev.yaml, then knot space
	// create NAME TEMPLATE and knot space start NAME.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name[1]+".yaml"), []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, knotIn(t, dir, env, "", "template", "import", name[1]+".yaml"))
	mustSucceed(t, knot(t, env, "", "space", "create", "dev", name[1]))
	mustSucceed(t, knot(t, env, "", "space", "start", "dev"))

	if body, ok := waitOnlySpace(s, token, func(state string, agent bool) bool { return state == "running" && agent }); !ok {
		t.Fatalf("%s: the space of the example is not running with its agent within 60s: %s\n%s", where, body, s.log)
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
