package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// memorySeries are the series of /metrics that tell the origin's memory,
// best first: the resident set, the heap in use (with the goroutine stacks
// when shown), the bytes of live and unswept heap objects, the heap the last
// GC cycle found live (with the stacks), what the Go runtime obtained from
// the system.
var memorySeries = [][]string{
	{"process_resident_memory_bytes"},
	{"go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes"},
	{"go_memstats_heap_alloc_bytes", "go_memstats_stack_inuse_bytes"},
	{"go_gc_heap_live_bytes", "go_memstats_stack_inuse_bytes"},
	{"go_memstats_sys_bytes"},
}

// memorySample is the origin's memory by each choice of memorySeries that
// its /metrics show, best first.
type memorySample []memoryValue

// memoryValue is one choice of memorySeries.
type memoryValue struct {
	series []string // the series found and summed
	bytes  float64
}

// memory reads the origin's memory from /metrics: for each series, the
// smallest of a few readings, since the heap goes up and down with garbage
// collection.
func (b *bench) memory(ctx context.Context) (memorySample, error) {
	var best memorySample
	for i := range 5 {
		if i > 0 {
			select {
			case <-ctx.Done():
				return best, ctx.Err()
			case <-time.After(200 * time.Millisecond): // between readings
			}
		}
		values, err := b.metrics(ctx)
		if err != nil {
			return best, err
		}
		s := pickMemory(values)
		if len(s) == 0 {
			return best, errors.New("its /metrics show none of process_resident_memory_bytes, go_memstats_heap_inuse_bytes, go_memstats_heap_alloc_bytes, go_memstats_sys_bytes")
		}
		if i == 0 || len(s) != len(best) {
			best = s
			continue
		}
		for j := range s {
			best[j].bytes = min(best[j].bytes, s[j].bytes)
		}
	}
	return best, nil
}

// idleMemory waits until the origin shows the leaves connected (when it
// shows knot_leaves_connected) and reads its memory.
func (b *bench) idleMemory(ctx context.Context) (memorySample, error) {
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		values, err := b.metrics(wait)
		if err != nil {
			break
		}
		if n, ok := values["knot_leaves_connected"]; !ok || int(n) >= b.opts.Leaves {
			break
		}
		select {
		case <-wait.Done():
		case <-time.After(100 * time.Millisecond): // polling interval
		}
		if wait.Err() != nil {
			break
		}
	}
	// The heap the last GC cycle found live leaves out the garbage of the
	// leaves' start, but only a cycle that ran after they connected counts
	// them all: wait for one, or leave that series out.
	live := false
	if values, err := b.metrics(ctx); err == nil && b.opts.GCWait > 0 {
		if first, ok := values["go_gc_cycles_total"]; ok {
			fmt.Fprintf(b.out, "waiting up to %s for a GC cycle of the origin with the leaves idle\n", b.opts.GCWait)
			wait, cancel := context.WithTimeout(ctx, b.opts.GCWait)
			defer cancel()
			for !live && wait.Err() == nil {
				select {
				case <-wait.Done():
				case <-time.After(500 * time.Millisecond): // polling interval
				}
				values, err := b.metrics(ctx)
				live = err == nil && values["go_gc_cycles_total"] > first
			}
		}
	}
	m, err := b.memory(ctx)
	if !live {
		m = slices.DeleteFunc(m, func(v memoryValue) bool { return v.series[0] == "go_gc_heap_live_bytes" })
	}
	return m, err
}

// pickMemory returns the choices of memorySeries that values hold.
func pickMemory(values map[string]float64) memorySample {
	var out memorySample
	for _, names := range memorySeries {
		v, ok := values[names[0]]
		if !ok {
			continue
		}
		s := memoryValue{series: names[:1], bytes: v}
		for _, extra := range names[1:] {
			if w, ok := values[extra]; ok {
				s.series = append(s.series, extra)
				s.bytes += w
			}
		}
		out = append(out, s)
	}
	return out
}

// reportMemory prints, for each series the origin shows, its memory before
// the leaves and with them idle, and the difference per leaf.
func (b *bench) reportMemory(before memorySample, err1 error, idle memorySample, err2 error) {
	if err1 != nil || err2 != nil {
		fmt.Fprintf(b.out, "origin memory: not available: %v\n", errors.Join(err1, err2))
		return
	}
	for _, after := range idle {
		name := strings.Join(after.series, " + ")
		found := false
		for _, first := range before {
			if strings.Join(first.series, " + ") != name {
				continue
			}
			found = true
			per := (after.bytes - first.bytes) / float64(b.opts.Leaves)
			fmt.Fprintf(b.out, "origin memory by %s: %s before the leaves, %s with %d idle leaves: %s per leaf\n",
				name, size(int64(first.bytes)), size(int64(after.bytes)), b.opts.Leaves, size(int64(per)))
		}
		if !found {
			fmt.Fprintf(b.out, "origin memory by %s: %s with %d idle leaves (not shown before them)\n", name, size(int64(after.bytes)), b.opts.Leaves)
		}
	}
}

// metrics reads the origin's /metrics.
func (b *bench) metrics(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", b.opts.Origin+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.opts.AdminToken)
	resp, err := b.api.HTTPClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("read the origin's /metrics: %w", rootCause(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the origin's /metrics answered %s", resp.Status)
	}
	return parseMetrics(io.LimitReader(resp.Body, 16<<20))
}

// parseMetrics reads the samples without labels of a Prometheus text
// exposition: "name value" lines. Comments, labelled samples and lines it
// does not understand are skipped.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(fields[1], 64)
		if err != nil {
			continue
		}
		out[fields[0]] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the origin's /metrics: %w", err)
	}
	return out, nil
}
