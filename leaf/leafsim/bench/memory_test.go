package bench

import (
	"strconv"
	"strings"
	"testing"
)

func TestPickMemoryFindsEverySeriesShown(t *testing.T) {
	const text = `# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2e+08
go_memstats_heap_inuse_bytes 5000
go_memstats_stack_inuse_bytes 700
go_memstats_heap_alloc_bytes 4000
go_memstats_sys_bytes 9000
knot_http_requests_total{route="/x",method="GET",status="200"} 3
not a sample
`
	all, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	without := func(names ...string) map[string]float64 {
		m := map[string]float64{}
		for k, v := range all {
			m[k] = v
		}
		for _, n := range names {
			delete(m, n)
		}
		return m
	}
	for _, tt := range []struct {
		name   string
		values map[string]float64
		want   []string // series and bytes
	}{
		{"EveryChoiceResidentSetFirst", all, []string{"process_resident_memory_bytes=1.2e+08", "go_memstats_heap_inuse_bytes+go_memstats_stack_inuse_bytes=5700", "go_memstats_heap_alloc_bytes+go_memstats_stack_inuse_bytes=4700", "go_memstats_sys_bytes=9000"}},
		{"HeapWithoutStacks", without("process_resident_memory_bytes", "go_memstats_stack_inuse_bytes", "go_memstats_sys_bytes"), []string{"go_memstats_heap_inuse_bytes=5000", "go_memstats_heap_alloc_bytes=4000"}},
		{"SysAlone", map[string]float64{"go_memstats_sys_bytes": 9000}, []string{"go_memstats_sys_bytes=9000"}},
		{"NoneIsNothing", map[string]float64{"knot_store_errors_total": 0}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, v := range pickMemory(tt.values) {
				got = append(got, strings.Join(v.series, "+")+"="+strconv.FormatFloat(v.bytes, 'g', -1, 64))
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("pickMemory = %v, want %v", got, tt.want)
			}
		})
	}
	if _, ok := all["knot_http_requests_total"]; ok {
		t.Error("a labelled sample was read as a plain one")
	}
}
