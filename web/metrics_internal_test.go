package web

import "testing"

// A label value is quoted, with backslashes, quotes and newlines escaped as
// the Prometheus text format asks.
func TestLabelEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"leaf-1":     `"leaf-1"`,
		"":           `""`,
		`a"b`:        `"a\"b"`,
		`c:\knot`:    `"c:\\knot"`,
		"two\nlines": `"two\nlines"`,
		"\\\"\n":     `"\\\"\n"`,
	} {
		if got := label(in); got != want {
			t.Errorf("label(%q) = %s, want %s", in, got, want)
		}
	}
}
