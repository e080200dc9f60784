package metrics

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Write writes fams in the Prometheus text format.
func Write(b *strings.Builder, fams []Family) {
	for _, f := range fams {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", f.Name, f.Help, f.Name, f.Type)
		for _, sm := range f.Samples {
			b.WriteString(f.Name)
			sep := "{"
			for _, l := range sm.Labels {
				b.WriteString(sep + l.Name + "=" + label(l.Value))
				sep = ","
			}
			if sep == "," {
				b.WriteString("}")
			}
			b.WriteString(" " + value(sm.Value) + "\n")
		}
	}
}

// value formats a sample's value: a whole number as an integer, any other
// in the shortest form that reads back the same.
func value(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1<<63 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// label quotes a Prometheus label value.
func label(v string) string { return `"` + labelEscaper.Replace(v) + `"` }

// labelEscaper escapes a label value. It is built once: building a
// strings.Replacer costs far more than using one, and a scrape of an origin
// labels each of its leaves.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
