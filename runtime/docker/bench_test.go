package docker_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/knot-dev/knot/runtime/runtimetest"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/testenv"
)

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// BenchmarkStartStop compares knot's start and stop of a space (record
// writes, rendering, volume check, container create and start; stop and
// remove) with the engine's own create+start and stop+remove of the same
// container, on the same engine, and reports the median of each.
func BenchmarkStartStop(b *testing.B) {
	for _, name := range engineNames {
		b.Run(name, func(b *testing.B) {
			e := engines[name]
			if e == nil {
				testenv.Missing(b, name, engineErr[name])
			}
			b.Run("knot", func(b *testing.B) { benchKnot(b, e) })
			b.Run("engine", func(b *testing.B) { benchEngine(b, e) })
		})
	}
}

const benchSpec = "image: %s\nnetwork: host\n"

func benchKnot(b *testing.B, e *runtimetest.Engine) {
	loc := "bench-" + e.Name
	d := newDriver(b, e, e.Host, loc, false)
	env := runtimetest.NewEnv(b, d, loc, e.Image, false)
	tmpl := env.Records.PutTemplate(&shared.Template{Name: "bench", Kind: shared.TemplateContainer, Spec: fmt.Sprintf(benchSpec, e.Image)})
	s := env.Records.AddSpace(env.User, tmpl, "bench")
	recs := env.Records
	ctx := context.Background()
	var starts, stops []time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := env.Manager.Start(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := env.Manager.Stop(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
		starts = append(starts, t1.Sub(t0))
		stops = append(stops, time.Since(t1))
	}
	b.StopTimer()
	if got := recs.Space(s.ID); got.State != shared.SpaceStopped {
		b.Fatalf("state %q after the runs", got.State)
	}
	b.ReportMetric(float64(median(starts).Microseconds())/1000, "start-median-ms")
	b.ReportMetric(float64(median(stops).Microseconds())/1000, "stop-median-ms")
}

func benchEngine(b *testing.B, e *runtimetest.Engine) {
	cli := client(b, e)
	ctx := context.Background()
	cfg := &container.Config{Image: e.Image, Labels: map[string]string{"bench": "engine"}}
	hc := &container.HostConfig{NetworkMode: "host", RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}}
	grace := 5
	var starts, stops []time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		c, err := cli.ContainerCreate(ctx, cfg, hc, nil, nil, "bench-engine")
		if err != nil {
			b.Fatal(err)
		}
		if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := cli.ContainerStop(ctx, c.ID, container.StopOptions{Timeout: &grace}); err != nil {
			b.Fatal(err)
		}
		if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil {
			b.Fatal(err)
		}
		starts = append(starts, t1.Sub(t0))
		stops = append(stops, time.Since(t1))
	}
	b.StopTimer()
	b.ReportMetric(float64(median(starts).Microseconds())/1000, "start-median-ms")
	b.ReportMetric(float64(median(stops).Microseconds())/1000, "stop-median-ms")
}
