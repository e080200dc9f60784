package metrics

import (
	"strings"
	"testing"
)

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

// A family is written as the text format asks: its
// HELP and TYPE lines, then a line per sample with its labels in order, a
// whole value as an integer (a Unix time is not 1.7e+09) and any other in
// its shortest form.
func TestWriteFamilies(t *testing.T) {
	var b strings.Builder
	Write(&b, []Family{
		Gauge("knot_up", "Up.", 1796624846),
		{Name: "knot_rtt_seconds", Help: "Round trip.", Type: "gauge", Samples: []Sample{
			{Labels: []Label{{Name: "location", Value: "a\"b"}, {Name: "node", Value: "n1"}}, Value: 0.25},
			{Labels: []Label{{Name: "location", Value: "c"}, {Name: "node", Value: "n2"}}, Value: 0},
		}},
		{Name: "knot_none", Help: "No samples.", Type: "gauge"},
	})
	want := "# HELP knot_up Up.\n# TYPE knot_up gauge\nknot_up 1796624846\n" +
		"# HELP knot_rtt_seconds Round trip.\n# TYPE knot_rtt_seconds gauge\n" +
		"knot_rtt_seconds{location=\"a\\\"b\",node=\"n1\"} 0.25\nknot_rtt_seconds{location=\"c\",node=\"n2\"} 0\n" +
		"# HELP knot_none No samples.\n# TYPE knot_none gauge\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}
