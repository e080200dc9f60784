package leafsim

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Summary describes a set of measured durations.
type Summary struct {
	N                  int
	Min, P50, P99, Max time.Duration
	Mean               time.Duration
}

// Summarize returns the summary of ds, whose order it leaves alone. The
// percentiles are nearest-rank: the smallest value with at least p% of the
// values at or below it.
func Summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Summary{
		N: len(s), Min: s[0], Max: s[len(s)-1],
		P50: rank(s, 50), P99: rank(s, 99),
		Mean: sum / time.Duration(len(s)),
	}
}

// Percentile returns the nearest-rank p-th percentile of ds (0 < p <= 100),
// or 0 for no values.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return rank(s, p)
}

// rank is Percentile of sorted values.
func rank(sorted []time.Duration, p float64) time.Duration {
	r := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(r, 1), len(sorted))-1]
}

func (s Summary) String() string {
	return fmt.Sprintf("n=%d p50=%s p99=%s max=%s (min %s, mean %s)", s.N, ms(s.P50), ms(s.P99), ms(s.Max), ms(s.Min), ms(s.Mean))
}

// ms formats d in milliseconds with a precision that suits it.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

// ContainerSpec returns a valid container template spec of about size
// bytes: an image and environment lines filled up to size. The spec names
// mark (letters, digits, '-' and '.') as KNOT_BENCH_MARK, so that each mark
// gives another spec and a change can be recognized by it.
func ContainerSpec(size int, mark string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "image: registry.example.com/bench/dev:latest\nenvironment:\n  - KNOT_BENCH_MARK=%s\n", mark)
	for i := 0; b.Len() < size; i++ {
		prefix := fmt.Sprintf("  - KNOT_BENCH_%04d=", i)
		n := max(min(60, size-b.Len()-len(prefix)-1), 1)
		b.WriteString(prefix + strings.Repeat("x", n) + "\n")
	}
	return b.String()
}
