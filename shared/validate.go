package shared

import (
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
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

// CheckName returns an EINVALID error naming field when s is empty or not
// a valid name, with s shortened in the message when long.
func CheckName(field, s string) error {
	if s == "" {
		return Errorf(EINVALID, "%s is required", field)
	}
	if !ValidName(s) {
		return Errorf(EINVALID, "%s %s is invalid: it must start with a letter, hold 2 to 64 letters, digits or dashes, and not contain \"--\"", field, Quote(s))
	}
	return nil
}

// Quote returns s quoted for a message, shortened to 80 bytes (on a rune
// boundary) and marked with "…" when longer.
func Quote(s string) string {
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

// NameTaken is the ECONFLICT error of a new or renamed kind whose name
// another one holds.
func NameTaken(kind, name string) error {
	return Errorf(ECONFLICT, "a %s named %s already exists", kind, Quote(name))
}

// MaxQuota is the largest value of a quota (max_spaces, compute_units,
// storage_units, max_tunnels).
const MaxQuota = 1_000_000

// CheckQuotas checks max_spaces, compute_units, storage_units and
// max_tunnels, given in that order: EINVALID naming the first out of range.
// max_tunnels, the predecessor's, must be 0: knot has no tunnels.
func CheckQuotas(vals ...int) error {
	names := []string{"max_spaces", "compute_units", "storage_units", "max_tunnels"}
	for i, v := range vals {
		if i == 3 && v != 0 {
			return Errorf(EINVALID, "max_tunnels must be 0, not %d: knot has no tunnels", v)
		}
		if v < 0 || v > MaxQuota {
			return Errorf(EINVALID, "%s must be from 0 to %d, not %d", names[i], MaxQuota, v)
		}
	}
	return nil
}

// SetIf sets *dst to *src unless src is nil: the step of an update that
// leaves what a request does not set as it is.
func SetIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// SameSet reports whether a and b hold the same strings, ignoring order and
// repeats.
func SameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// CheckText checks a free-text field: at most max bytes of valid UTF-8
// without control characters other than newlines and tabs.
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

// Deref returns *p, or the zero value when p is nil.
func Deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
