package main_test

import (
	"strings"
	"testing"
)

// knot space shell --list prints the sessions the agent keeps, with the id
// --attach takes and how many watch each.
func TestSpaceShellListsKeptSessions(t *testing.T) {
	b := startTerminalBed(t)
	r := knot(t, b.as(t, b.adminToken), "", "space", "shell", "dev", "--list")
	mustSucceed(t, r)
	if r.stdout != "No terminal sessions are kept in dev; knot space shell dev starts one.\n" {
		t.Fatalf("with no session, knot space shell --list printed %q", r.stdout)
	}
	w, _, err := b.open(t, b.adminToken, "cols=80&rows=24")
	if err != nil {
		t.Fatal(err)
	}
	r = knot(t, b.as(t, b.adminToken), "", "space", "shell", "dev", "--list")
	mustSucceed(t, r)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], w.id+"  ") || !strings.HasSuffix(lines[0], "  1 viewer") {
		t.Fatalf("knot space shell --list printed %q; want one line for session %s with 1 viewer", r.stdout, w.id)
	}
}
