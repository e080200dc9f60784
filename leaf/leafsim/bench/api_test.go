package bench

import (
	"strings"
	"testing"
)

// TestAnswerErrorReadsAsTheCLIs checks that an error answer of the REST API
// reads as the knot CLI shows it: the server's message, or the status and
// the start of a body that is not HTML.
func TestAnswerErrorReadsAsTheCLIs(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"Message", 403, `{"error":"permission denied: Manage Templates"}`, "permission denied: Manage Templates (HTTP 403)"},
		{"HTMLBody", 502, "<html><body>bad gateway</body></html>", "the server answered Bad Gateway (HTTP 502)"},
		{"TextBodyFolded", 500, "  out of\n\tmemory  ", "the server answered Internal Server Error: out of memory (HTTP 500)"},
		{"LongBodyCut", 400, strings.Repeat("a", 250), "the server answered Bad Request: " + strings.Repeat("a", 200) + "... (HTTP 400)"},
		{"UnknownStatus", 599, "", "the server answered an error (HTTP 599)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := answerError(tt.status, []byte(tt.body)).Error(); got != tt.want {
				t.Fatalf("answerError = %q; want %q", got, tt.want)
			}
		})
	}
}
