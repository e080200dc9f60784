package shared

import (
	"net/mail"
	"regexp"
	"slices"
	"strings"
)

var (
	nameRe    = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{1,63}$`)
	varNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]{0,63}$`)
)

// ValidName reports whether s is a valid user, space, template, group or role
// name: a letter, then 1 to 63 letters, digits or dashes, with no "--" (which
// separates the parts of a space's host name).
func ValidName(s string) bool {
	return nameRe.MatchString(s) && !strings.Contains(s, "--")
}

// ValidVarName reports whether s is a valid template variable name: letters,
// digits and underscores, not starting with a digit.
func ValidVarName(s string) bool { return varNameRe.MatchString(s) }

// ValidEmail reports whether s is a plain email address.
func ValidEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// Shells are the shells the terminal can start.
var Shells = []string{"bash", "zsh", "fish", "sh"}

// ValidShell reports whether s is a shell the terminal can start.
func ValidShell(s string) bool {
	return slices.Contains(Shells, s)
}

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 8

// CheckName returns an EINVALID error naming field when s is not a valid name.
func CheckName(field, s string) error {
	if !ValidName(s) {
		return Errorf(EINVALID, "%s %q is invalid: it must start with a letter, hold 2 to 64 letters, digits or dashes, and not contain \"--\"", field, s)
	}
	return nil
}
