package shared

import (
	"regexp"
	"strings"
)

// Locations come in two namespaces that never meet.
//
// A trusted location (an origin's own, or a leaf's on the shared token or a
// per-leaf token) is a name: a letter or digit, then letters, digits, dots,
// dashes or underscores, 64 at most.
//
// A restricted location, the one a leaf on a user's API token serves, is
// RestrictedLocationPrefix followed by the owner's username ("user:ann").
// The colon is in no trusted location, so a username can never name a
// trusted location, nor a trusted location a user's restricted one.
const RestrictedLocationPrefix = "user:"

var trustedLocationRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`)

// RestrictedLocation returns the location of a restricted leaf of the user
// named username.
func RestrictedLocation(username string) string { return RestrictedLocationPrefix + username }

// LocationOwner returns the username a restricted location belongs to, and
// false for a location that is not restricted. The prefix is matched
// without regard to case, as locations are.
func LocationOwner(location string) (string, bool) {
	n := len(RestrictedLocationPrefix)
	if len(location) < n || !strings.EqualFold(location[:n], RestrictedLocationPrefix) {
		return "", false
	}
	return location[n:], true
}

// ValidTrustedLocation reports whether s is a valid trusted location.
func ValidTrustedLocation(s string) bool { return trustedLocationRe.MatchString(s) }

// ValidLocation reports whether s is a valid location of either namespace:
// a trusted location, or a restricted one whose username is a valid name.
func ValidLocation(s string) bool {
	if owner, ok := LocationOwner(s); ok {
		return ValidName(owner)
	}
	return ValidTrustedLocation(s)
}
