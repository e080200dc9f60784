package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// runKnot runs knot in this process with args and returns the exit status,
// stdout and stderr.
func runKnot(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, append([]string{"knot"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestBenchRunsTheEngineWithTheFlags checks the wiring of knot bench
// replication: the flags reach the engine, which reports on stdout, and its
// error goes to stderr with exit status 1. The engine's own tests are in
// leaf/leafsim/bench.
func TestBenchRunsTheEngineWithTheFlags(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://" + ln.Addr().String()
	ln.Close() // nothing answers there now
	code, out, errs := runKnot(t, "bench", "replication", "--origin", origin+"/", "--shared-token", "s", "--admin-token", "a",
		"--scenario", "join", "--leaves", "7", "--seed-templates", "3", "--timeout", "1m")
	if want := "knot bench replication: scenario join, 7 leaves, origin " + origin + "\n"; !strings.HasPrefix(out, want) {
		t.Errorf("stdout %q; want it to start with %q", out, want)
	}
	if want := "list templates: nothing answers at " + origin + " (connection refused)"; code != 1 || !strings.Contains(errs, want) {
		t.Fatalf("exit %d, stderr %q; want 1 and %q", code, errs, want)
	}
}

func TestBenchFlagErrors(t *testing.T) {
	base := []string{"bench", "replication", "--origin", "http://127.0.0.1:1", "--shared-token", "s", "--admin-token", "a"}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"NoSharedToken", []string{"bench", "replication", "--origin", "http://127.0.0.1:1", "--admin-token", "a"}, "--shared-token"},
		{"NoAdminToken", []string{"bench", "replication", "--origin", "http://127.0.0.1:1", "--shared-token", "s"}, "--admin-token"},
		{"OriginNotHTTP", []string{"bench", "replication", "--origin", "ftp://x", "--shared-token", "s", "--admin-token", "a"}, `--origin "ftp://x" must be an http://`},
		{"NoLeaves", append(base, "--leaves", "0"), "--leaves must be from 1 to 100000, not 0"},
		{"TooManyUpdates", append(base, "--updates", "10001"), "--updates must be from 1 to 10000"},
		{"SpecTooSmall", append(base, "--spec-size", "10"), "--spec-size must be from 64"},
		{"UnknownScenario", append(base, "--scenario", "storm"), `--scenario "storm" is not one of`},
		{"CatchUpWithOneLeaf", append(base, "--scenario", "catchup", "--leaves", "1"), "needs at least 2 leaves"},
		{"BadPrefix", append(base, "--prefix", "a b"), "--prefix"},
		{"NoTimeout", append(base, "--timeout", "0s"), "--timeout must be positive"},
		{"NegativeGCWait", append(base, "--gc-wait", "-1s"), "--gc-wait must not be negative, not -1s"},
		{"ExtraArgument", append(base, "now"), `unexpected argument "now"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runKnot(t, tt.args...)
			if code != exitUsage || !strings.Contains(errs, tt.want) || !strings.Contains(errs, "knot bench replication") {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errs, exitUsage, tt.want)
			}
		})
	}
}
