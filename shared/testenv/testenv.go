// Package testenv decides what a test does when a real component it needs
// (Docker, Podman, MariaDB, Redis, a DNS server, Chromium) is not there: it
// skips with the reason, unless KNOT_REQUIRE_ENGINES=1 is set (as CI sets
// it), in which case the test fails instead. Only tests import it.
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
