package srv

import (
	"cmp"
	"slices"
)

// orderRecords returns a copy of recs in the order RFC 2782 gives clients:
// lowest priority first, and within one priority a weighted random order.
// intN(n) returns a uniform random number in [0, n).
//
// Within a priority the RFC's selection is repeated until every record is
// placed: records of weight 0 are put first, the weights are summed, a
// number is drawn uniformly from 0 to the sum inclusive, and the first
// record whose running sum reaches it is taken. A record of weight 0 is thus
// taken only when 0 is drawn, and when all weights are 0 the records keep
// the order of the answer.
func orderRecords(recs []record, intN func(n int) int) []record {
	out := slices.Clone(recs)
	slices.SortStableFunc(out, func(a, b record) int { return cmp.Compare(a.priority, b.priority) })
	for i := 0; i < len(out); {
		j := i + 1
		for j < len(out) && out[j].priority == out[i].priority {
			j++
		}
		weighted(out[i:j], intN)
		i = j
	}
	return out
}

// weighted orders records of one priority in place.
func weighted(g []record, intN func(n int) int) {
	slices.SortStableFunc(g, func(a, b record) int { return cmp.Compare(min(a.weight, 1), min(b.weight, 1)) })
	for k := 0; k < len(g)-1; k++ {
		sum := 0
		for _, rec := range g[k:] {
			sum += int(rec.weight)
		}
		draw, run := intN(sum+1), 0
		for m := k; m < len(g); m++ {
			run += int(g[m].weight)
			if run >= draw {
				// Take g[m] and keep the others in their order, so the
				// zero weights stay in front.
				chosen := g[m]
				copy(g[k+1:m+1], g[k:m])
				g[k] = chosen
				break
			}
		}
	}
}
