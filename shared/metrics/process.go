package metrics

import (
	goruntime "runtime"
	rtmetrics "runtime/metrics"
	"strings"
	"time"
)

var runtimeSamples = []struct{ name, metric, help, typ string }{
	{"/sched/goroutines:goroutines", "go_goroutines", "Number of goroutines that currently exist.", "gauge"},
	{"/memory/classes/heap/objects:bytes", "go_memstats_heap_alloc_bytes", "Bytes of allocated heap objects.", "gauge"},
	{"/memory/classes/heap/objects:bytes+/memory/classes/heap/unused:bytes", "go_memstats_heap_inuse_bytes", "Bytes in in-use heap spans.", "gauge"},
	{"/memory/classes/heap/stacks:bytes", "go_memstats_stack_inuse_bytes", "Bytes in stack spans in use, the goroutine stacks.", "gauge"},
	{"/memory/classes/total:bytes", "go_memstats_sys_bytes", "Bytes of memory obtained from the OS.", "gauge"},
	{"/gc/cycles/total:gc-cycles", "go_gc_cycles_total", "Completed GC cycles.", "counter"},
	{"/gc/heap/live:bytes", "go_gc_heap_live_bytes", "Bytes of heap objects found live by the last GC cycle.", "gauge"},
}

// Process returns the figures of the Go runtime and of the process, which
// started at start. A sample name of several runtime/metrics names joined
// by "+" is their sum.
func Process(start time.Time) []Family {
	var samples []rtmetrics.Sample
	for _, rs := range runtimeSamples {
		for _, n := range strings.Split(rs.name, "+") {
			samples = append(samples, rtmetrics.Sample{Name: n})
		}
	}
	rtmetrics.Read(samples)
	var out []Family
	i := 0
	for _, rs := range runtimeSamples {
		var v uint64
		ok := true
		for range strings.Split(rs.name, "+") {
			switch samples[i].Value.Kind() {
			case rtmetrics.KindUint64:
				v += samples[i].Value.Uint64()
			case rtmetrics.KindFloat64:
				v += uint64(samples[i].Value.Float64())
			default:
				ok = false
			}
			i++
		}
		if ok {
			out = append(out, Family{Name: rs.metric, Help: rs.help, Type: rs.typ, Samples: []Sample{{Value: float64(v)}}})
		}
	}
	if rss, ok := residentBytes(); ok {
		out = append(out, Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", float64(rss)))
	}
	out = append(out,
		Family{Name: "go_info", Help: "Information about the Go environment.", Type: "gauge",
			Samples: []Sample{{Labels: []Label{{Name: "version", Value: goruntime.Version()}}, Value: 1}}},
		Gauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.", float64(start.Unix())))
	return out
}
