package main_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// knot --log-level sets the log level of any command: a client command
// logs its requests at debug, and a bad level is a usage error that names
// the key, for client commands and the server alike.
func TestGlobalLogLevel(t *testing.T) {
	ts := startServer(t)
	env := ts.as(t, ts.adminToken)
	debugLine := regexp.MustCompile(`level=DEBUG msg=request method=GET url=` + regexp.QuoteMeta(ts.URL) + `/api/spaces status=200 took=`)

	for _, args := range [][]string{
		{"--log-level", "debug", "space", "list"},
		{"--log-level=debug", "space", "list"},
		{"space", "list", "--log-level", "debug"},
	} {
		r := knot(t, env, "", args...)
		mustSucceed(t, r)
		if !debugLine.MatchString(r.stderr) || !strings.Contains(r.stdout, "You have no spaces") {
			t.Errorf("%v: stdout %q, stderr %q", args, r.stdout, r.stderr)
		}
	}
	// The default, info, logs no requests; nor does a command's own level
	// given after the global one.
	for _, args := range [][]string{{"space", "list"}, {"--log-level", "debug", "space", "list", "--log-level", "info"}} {
		r := knot(t, env, "", args...)
		mustSucceed(t, r)
		if r.stderr != "" {
			t.Errorf("%v: stderr %q", args, r.stderr)
		}
	}
	// Flags after the arguments still work behind the global flag.
	mustSucceed(t, knot(t, env, "name: byo\nkind: manual\n", "template", "import", "-"))
	r := knot(t, env, "", "--log-level", "warn", "space", "create", "dev", "byo", "-d", "box")
	mustSucceed(t, r)
	if sps := ts.spaces(t, ts.adminToken); len(sps) != 1 || sps[0].Description != "box" {
		t.Errorf("spaces %+v", sps)
	}

	for _, args := range [][]string{
		{"--log-level", "loud", "space", "list"},
		{"--log-level", "loud", "server", "--badgerdb-path", filepath.Join(t.TempDir(), "badger")},
	} {
		r := knot(t, env, "", args...)
		if r.code != 2 || !strings.Contains(r.stderr, `log.level: "loud" must be one of debug, info, warn, error`) {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}
