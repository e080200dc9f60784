package shared_test

import (
	"testing"

	"github.com/knot-dev/knot/shared"
)

// The two namespaces of locations never meet: no restricted location is a
// trusted one, whatever the username.
func TestLocationNamespaces(t *testing.T) {
	for _, tt := range []struct {
		loc            string
		trusted, valid bool
		owner          string
	}{
		{"eu-west.1", true, true, ""},
		{"ann", true, true, ""},
		{"user:ann", false, true, "ann"},
		{"USER:Ann", false, true, "Ann"},
		{"user:", false, false, ""},
		{"user:9lives", false, false, "9lives"},
		{"users:ann", false, false, ""},
		{"-eu", false, false, ""},
		{"", false, false, ""},
	} {
		owner, restricted := shared.LocationOwner(tt.loc)
		if got := shared.ValidTrustedLocation(tt.loc); got != tt.trusted {
			t.Errorf("ValidTrustedLocation(%q) = %v", tt.loc, got)
		}
		if got := shared.ValidLocation(tt.loc); got != tt.valid {
			t.Errorf("ValidLocation(%q) = %v", tt.loc, got)
		}
		if restricted && shared.ValidTrustedLocation(tt.loc) {
			t.Errorf("%q is in both namespaces", tt.loc)
		}
		if owner != tt.owner {
			t.Errorf("LocationOwner(%q) = %q", tt.loc, owner)
		}
	}
	if got := shared.RestrictedLocation("ann"); got != "user:ann" {
		t.Errorf("RestrictedLocation(ann) = %q", got)
	}
}
