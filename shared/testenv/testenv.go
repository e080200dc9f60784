// Package testenv decides what a test does when a real component it needs
// (Docker, Podman, MariaDB, Redis, a DNS server, Chromium) is not there: it
// skips with the reason, unless KNOT_REQUIRE_ENGINES=1 is set (as CI sets
// it), in which case the test fails instead. Only tests import it.
//
// It also runs the real servers that such tests talk to: StartProcess starts
// a server program on a free loopback port, waits until it answers, and
// ties it to the test process, so that it dies with the tests however they
// end; Proxy stands between a client and a server to take the server away
// and bring it back. What a particular server needs (its command line, how
// to ask whether it is ready) is left to the tests that use it.
package testenv

import (
	"os"
	"testing"
)

// RequireVar is the environment variable that turns skips into failures.
const RequireVar = "KNOT_REQUIRE_ENGINES"

// Required reports whether missing components must fail tests.
func Required() bool { return os.Getenv(RequireVar) == "1" }

// Missing stops the test because component is unavailable for reason: a skip
// normally, a failure when Required.
func Missing(tb testing.TB, component string, reason any) {
	tb.Helper()
	if Required() {
		tb.Fatalf("%s is required (%s=1) but unavailable: %v", component, RequireVar, reason)
	}
	tb.Skipf("%s unavailable, skipping: %v (set %s=1 to make this a failure)", component, reason, RequireVar)
}
