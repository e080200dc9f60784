package shared

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// The checks of fields that the services of several records share.

// CheckText returns an EINVALID error naming field unless s is free text:
// at most max bytes of valid UTF-8 without control characters other than
// newlines, carriage returns and tabs.
func CheckText(field, s string, max int) error {
	if len(s) > max {
		return Errorf(EINVALID, "%s is longer than %d bytes", field, max)
	}
	if !utf8.ValidString(s) {
		return Errorf(EINVALID, "%s is not valid UTF-8", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return Errorf(EINVALID, "%s holds a control character", field)
		}
	}
	return nil
}

// CheckLocation returns an EINVALID error naming field unless s is a valid
// location of either namespace (ValidLocation).
func CheckLocation(field, s string) error {
	if !ValidLocation(s) {
		return Errorf(EINVALID, "%s %s is invalid: it must start with a letter or digit and hold at most 64 letters, digits, dots, dashes or underscores, or be %s followed by a username (a restricted leaf's)", field, quoteValue(s), RestrictedLocationPrefix)
	}
	return nil
}

// quoteValue returns s quoted for a message, shortened when long.
func quoteValue(s string) string {
	const max = 80
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// Distinct returns ids without repeats, in their first order; never nil.
func Distinct(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
