package shared

// The checks of fields that the services of several records share.

// CheckLocation returns an EINVALID error naming field unless s is a valid
// location of either namespace (ValidLocation).
func CheckLocation(field, s string) error {
	if !ValidLocation(s) {
		return Errorf(EINVALID, "%s %s is invalid: it must start with a letter or digit and hold at most 64 letters, digits, dots, dashes or underscores, or be %s followed by a username (a restricted leaf's)", field, Quote(s), RestrictedLocationPrefix)
	}
	return nil
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
