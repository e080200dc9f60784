package main_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared/testenv"
)

// readmeSection returns the ```sh blocks of the README's section that
// starts with the heading "## title".
func readmeSection(t *testing.T, title string) []string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(data), "\n## "+title+"\n")
	if !ok {
		t.Fatalf("README.md has no section %q", title)
	}
	if end := strings.Index(sec, "\n## "); end >= 0 {
		sec = sec[:end]
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?ms)^```sh\n(.*?)^```").FindAllStringSubmatch(sec, -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// bash runs script with bash -e in dir, with env added to a KNOT_-free
// environment, and fails the test when it fails.
func bash(t *testing.T, dir, script, stdin string, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", script)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KNOT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\nscript:\n%s\nstdout:\n%s\nstderr:\n%s", err, script, out.String(), errb.String())
	}
	return out.String()
}

// The README's "First steps" run as written against a knot server process
// on a loopback port: the curl lines create the admin, log in and create a
// template, then the CLI lines connect, list templates, and create, start
// and list a space. Only the server's address and the path of the binary
// are put in.
func TestReadmeFirstSteps(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		testenv.Missing(t, "curl", err)
	}
	blocks := readmeSection(t, "First steps")
	if len(blocks) != 2 {
		t.Fatalf("the README's first steps have %d sh blocks, want the curl lines and the CLI lines", len(blocks))
	}
	dir := t.TempDir()
	s := runKnotServer(t, dir, "--listen", "127.0.0.1:0")
	defer s.stop()
	hostPort := strings.TrimPrefix(s.base, "http://")

	curl := blocks[0]
	if !strings.Contains(curl, "curl") || !strings.Contains(curl, "localhost:3000") {
		t.Fatalf("the first block is not the curl lines:\n%s", curl)
	}
	curl = strings.ReplaceAll(curl, "localhost:3000", hostPort)
	out := bash(t, dir, curl+"\necho\necho \"TOKEN=$TOKEN\"\n", "")
	m := regexp.MustCompile(`(?m)^TOKEN=(\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the curl lines set no TOKEN:\n%s", out)
	}
	var tl struct {
		Templates []struct{ Name, Kind string }
	}
	s.call("GET", "/api/templates", m[1], nil, 200, &tl)
	if len(tl.Templates) != 1 || tl.Templates[0].Name != "byo" || tl.Templates[0].Kind != "manual" {
		t.Fatalf("after the curl lines the templates are %+v", tl.Templates)
	}

	cli := blocks[1]
	if !strings.Contains(cli, "bin/knot connect http://127.0.0.1:3000") {
		t.Fatalf("the second block is not the CLI lines:\n%s", cli)
	}
	cli = strings.ReplaceAll(cli, "http://127.0.0.1:3000", s.base)
	cli = regexp.MustCompile(`(^|[\s&;|(])bin/knot\b`).ReplaceAllString(cli, "${1}"+knotBin)
	out = bash(t, dir, cli, "admin@example.com\na-long-password\n", "XDG_CONFIG_HOME="+t.TempDir(), "HOME="+t.TempDir())
	for _, want := range []string{
		"Connected to " + s.base + " as admin",
		"Space dev created from template byo.",
		"Space dev: starting (waiting for its agent).",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the CLI lines did not print %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^byo\s+manual\s`).MatchString(out) {
		t.Errorf("knot template list did not list byo:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^dev\s+starting: waiting for its agent\s`).MatchString(out) {
		t.Errorf("knot space list did not list dev waiting for its agent:\n%s", out)
	}
}

// TestREADMEListsTheCIPackages: the Debian packages the README names for
// the tests that need real components are those .ci/run installs.
func TestREADMEListsTheCIPackages(t *testing.T) {
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	arr := regexp.MustCompile(`(?s)packages=\((.*?)\n\)`).FindSubmatch(ci)
	if arr == nil {
		t.Fatal(".ci/run has no packages=( ... ) list")
	}
	var want []string
	for _, line := range strings.Split(string(arr[1]), "\n") {
		line, _, _ = strings.Cut(line, "#")
		want = append(want, strings.Fields(line)...)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("when the Debian packages are installed\\s+\\(`([^`]*)`\\)").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md does not name the Debian packages the tests use")
	}
	got := strings.Fields(string(m[1]))
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("README.md names the packages %v; .ci/run installs %v", got, want)
	}
}
