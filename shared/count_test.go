package shared_test

import (
	"testing"

	"github.com/knot-dev/knot/shared"
)

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 API tokens", 1: "1 API token", 2: "2 API tokens"} {
		if got := shared.Count(n, "API token"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
