package shared_test

import (
	"testing"

	"github.com/knot-dev/knot/shared"
)

// TestCheckName checks that an empty name is said to be missing, not
// invalid, and that a bad one is refused with its rule.
func TestCheckName(t *testing.T) {
	for _, tt := range []struct{ name, want string }{
		{"dev", ""},
		{"", "username is required"},
		{"9lives", `username "9lives" is invalid: it must start with a letter, hold 2 to 64 letters, digits or dashes, and not contain "--"`},
	} {
		err := shared.CheckName("username", tt.name)
		got := ""
		if err != nil {
			got = err.Error()
			if shared.ErrorCode(err) != shared.EINVALID {
				t.Errorf("CheckName(%q) code %q, want %q", tt.name, shared.ErrorCode(err), shared.EINVALID)
			}
		}
		if got != tt.want {
			t.Errorf("CheckName(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
