package shared

import "strconv"

// Count says n things, as a message to a person does: "1 space",
// "3 spaces", "0 API tokens". thing is the singular; its plural adds "s".
func Count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}
