package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// StartRelay listens on loopback and relays each connection to target,
// both ways, until the test ends. It copies through user space, 128 KiB
// at a time (read and write, not splice, as a relay that must look at the
// bytes does), and passes on half-closes. Benchmarks of forwarded ports
// use a chain of them as the floor of a path with as many hops and no
// protocol of its own.
func StartRelay(tb testing.TB, target string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				var pipes sync.WaitGroup
				pipe := func(dst, src net.Conn) {
					buf := make([]byte, 128<<10)
					io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf)
					dst.(*net.TCPConn).CloseWrite()
				}
				pipes.Go(func() { pipe(u, c) })
				pipe(c, u)
				pipes.Wait()
			})
		}
	})
	return ln.Addr().String()
}

// Timing adds up the wall and CPU time of the runs of one path of a
// throughput benchmark.
type Timing struct{ wall, cpu time.Duration }

// Add runs run and adds its times.
func (t *Timing) Add(run func()) {
	c0, t0 := CPUTime(), time.Now()
	run()
	t.wall += time.Since(t0)
	t.cpu += CPUTime() - c0
}

// Report reports the rates of plain loopback (t) and of the forwarded
// path, each moving size bytes per run, the ratios of their wall and CPU
// times (ratio, cpu-ratio), those of plain loopback to the relayed floor
// (floor-ratio, floor-cpu-ratio), and how many cores plain loopback and
// the forwarded path kept busy on average (CPU time over wall time).
func (t Timing) Report(b *testing.B, size int, relayed, forwarded Timing) {
	mbs := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
	b.ReportMetric(mbs(t.wall), "loopback-MB/s")
	b.ReportMetric(mbs(forwarded.wall), "forwarded-MB/s")
	b.ReportMetric(t.wall.Seconds()/forwarded.wall.Seconds(), "ratio")
	b.ReportMetric(t.cpu.Seconds()/forwarded.cpu.Seconds(), "cpu-ratio")
	b.ReportMetric(t.wall.Seconds()/relayed.wall.Seconds(), "floor-ratio")
	b.ReportMetric(t.cpu.Seconds()/relayed.cpu.Seconds(), "floor-cpu-ratio")
	b.ReportMetric(t.cpu.Seconds()/t.wall.Seconds(), "loopback-cores")
	b.ReportMetric(forwarded.cpu.Seconds()/forwarded.wall.Seconds(), "forwarded-cores")
}
