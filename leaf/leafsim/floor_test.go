package leafsim_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/leaf/leafsim"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
)

// The floor of the fan-out: BenchmarkFanout's work with no knot code on
// either side. This process writes one message, as long as the change frame
// of a 2 KiB spec, to each of n connections, one goroutine per connection
// as the origin has one per link, and a child process (this test binary
// again, told so by $LEAFSIM_FLOOR) reads it on each, one goroutine per
// connection as a leaf has. The time is from the first write until the
// child read the message on every connection. Over plain TCP it is what the
// machine allows; over github.com/coder/websocket, what knot's websocket
// library allows. Read BenchmarkFanout's figures against these, measured in
// the same run:
//
//	go test -run '^$' -bench 'Fanout1000$|Floor1000$' -benchtime=100x ./leaf/leafsim
//
// The child answers requests on its stdin, one line each:
//
//	→ received      ← "at <unix ns>" when every connection read one more
//	                  message
//	→ cpu           ← "at <ns>": the CPU time the child used so far

// BenchmarkFloor1000 is the floor of BenchmarkFanout1000.
func BenchmarkFloor1000(b *testing.B) { benchFloor(b, 1000) }

// BenchmarkFloor10000 is the floor of BenchmarkFanout10000.
func BenchmarkFloor10000(b *testing.B) { benchFloor(b, 10000) }

func benchFloor(b *testing.B, n int) {
	size := changeFrameSize(b)
	for _, transport := range []string{"tcp", "websocket"} {
		b.Run(transport, func(b *testing.B) {
			writers := listenFloor(b, transport, n, size)
			msg := []byte(strings.Repeat("x", size))
			// One round before the measured ones, as the links of
			// BenchmarkFanout sent a snapshot before theirs.
			writers.round(msg)
			b.ResetTimer()
			cpu0, childCPU0 := cpuTime(), writers.child.at("cpu").UnixNano()
			var lat []time.Duration
			for range b.N {
				lat = append(lat, writers.round(msg))
			}
			cpu, childCPU := time.Duration(cpuTime()-cpu0)/time.Duration(b.N), time.Duration(writers.child.at("cpu").UnixNano()-childCPU0)/time.Duration(b.N)
			b.StopTimer()
			if err := writers.err.Load(); err != nil {
				b.Fatal(*err)
			}
			s := leafsim.Summarize(lat)
			b.ReportMetric(float64(s.P50)/1e6, "p50-ms")
			b.ReportMetric(float64(s.P99)/1e6, "p99-ms")
			b.ReportMetric(float64(s.Max)/1e6, "max-ms")
			b.ReportMetric(0, "ns/op")
			b.Logf("%d %s connections, messages of %d bytes: fan-out %s; CPU per message round: writer %s, reader %s",
				n, transport, size, s, cpu.Round(10*time.Microsecond), childCPU.Round(10*time.Microsecond))
		})
	}
}

// changeFrameSize returns the length of the change frame that carries the
// template of BenchmarkFanout.
func changeFrameSize(tb testing.TB) int {
	tb.Helper()
	tp := template(0, 2048)
	tp.Revision = 1000
	data, err := json.Marshal(tp)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := wire.Encode(&wire.Changes{Prev: 999, Revision: 1000, Changes: []wire.Change{{Kind: shared.KindTemplate, ID: tp.ID, Revision: 1000, Data: data}}})
	if err != nil {
		tb.Fatal(err)
	}
	return len(b)
}

// floorWriters are the writing side of a floor benchmark: a goroutine per
// connection that writes each message sent to its channel.
type floorWriters struct {
	child *child
	kicks []chan []byte
	err   atomic.Pointer[error] // the first write error
}

// round writes msg on every connection and returns the time until the
// child read it on every one.
func (w *floorWriters) round(msg []byte) time.Duration {
	t0 := time.Now()
	for _, kick := range w.kicks {
		kick <- msg
	}
	return w.child.at("received").Sub(t0)
}

// listenFloor accepts n connections of transport from a child process and
// starts their writers. The writers and connections end with the benchmark.
func listenFloor(b *testing.B, transport string, n, size int) *floorWriters {
	b.Helper()
	w := &floorWriters{}
	conns := make(chan func([]byte) error, n)
	var url string
	switch transport {
	case "tcp":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				b.Cleanup(func() { c.Close() })
				conns <- func(p []byte) error { _, err := c.Write(p); return err }
			}
		}()
		url = ln.Addr().String()
	case "websocket":
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(rw, r, nil)
			if err != nil {
				return
			}
			b.Cleanup(func() { c.CloseNow() })
			conns <- func(p []byte) error { return c.Write(context.Background(), websocket.MessageText, p) }
		}))
		b.Cleanup(srv.Close)
		url = "ws" + strings.TrimPrefix(srv.URL, "http")
	}
	w.child = startFloorChild(b, transport, url, n, size)
	deadline := time.After(2 * time.Minute)
	for i := range n {
		var write func([]byte) error
		select {
		case write = <-conns:
		case <-deadline:
			b.Fatalf("%d of %d connections within 2 minutes", i, n)
		}
		kick := make(chan []byte, 1)
		w.kicks = append(w.kicks, kick)
		go func() {
			for p := range kick {
				if err := write(p); err != nil {
					w.err.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
	b.Cleanup(func() {
		for _, kick := range w.kicks {
			close(kick)
		}
	})
	return w
}

// startFloorChild starts the reading side in a child process.
func startFloorChild(b *testing.B, transport, url string, n, size int) *child {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "LEAFSIM_FLOOR="+transport, "LEAFSIM_URL="+url,
		fmt.Sprintf("LEAFSIM_LEAVES=%d", n), fmt.Sprintf("LEAFSIM_FLOOR_SIZE=%d", size))
	return runChild(b, cmd)
}

// floorChild dials the connections of a floor benchmark, reads their
// messages and serves the parent's requests.
func floorChild(in io.Reader, out io.Writer) int {
	transport, url := os.Getenv("LEAFSIM_FLOOR"), os.Getenv("LEAFSIM_URL")
	n, err := strconv.Atoi(os.Getenv("LEAFSIM_LEAVES"))
	if err != nil {
		fmt.Fprintf(out, "error LEAFSIM_LEAVES: %v\n", err)
		return 1
	}
	size, err := strconv.Atoi(os.Getenv("LEAFSIM_FLOOR_SIZE"))
	if err != nil {
		fmt.Fprintf(out, "error LEAFSIM_FLOOR_SIZE: %v\n", err)
		return 1
	}
	var count atomic.Int64
	rounds := make(chan int64, 1<<16) // when each round was read on every connection
	failed := make(chan error, 1)
	got := func() {
		if count.Add(1)%int64(n) == 0 {
			rounds <- time.Now().UnixNano()
		}
	}
	fail := func(err error) {
		select {
		case failed <- err:
		default:
		}
	}
	for range n {
		switch transport {
		case "tcp":
			c, err := net.Dial("tcp", url)
			if err != nil {
				fmt.Fprintf(out, "error %v\n", err)
				return 1
			}
			defer c.Close()
			go func() {
				r := bufio.NewReader(c)
				buf := make([]byte, size)
				for {
					if _, err := io.ReadFull(r, buf); err != nil {
						fail(err)
						return
					}
					got()
				}
			}()
		case "websocket":
			c, _, err := websocket.Dial(context.Background(), url, nil)
			if err != nil {
				fmt.Fprintf(out, "error %v\n", err)
				return 1
			}
			defer c.CloseNow()
			c.SetReadLimit(wire.MaxFrameSize)
			go func() {
				buf := make([]byte, 4096)
				for {
					_, r, err := c.Reader(context.Background())
					if err != nil {
						fail(err)
						return
					}
					for err == nil {
						_, err = r.Read(buf)
					}
					if err != io.EOF {
						fail(err)
						return
					}
					got()
				}
			}()
		default:
			fmt.Fprintf(out, "error unknown transport %q\n", transport)
			return 1
		}
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		answer := ""
		switch sc.Text() {
		case "received":
			select {
			case at := <-rounds:
				answer = fmt.Sprintf("at %d", at)
			case err := <-failed:
				answer = "error " + err.Error()
			case <-time.After(2 * time.Minute):
				answer = "error no message on every connection within 2 minutes"
			}
		case "cpu":
			answer = fmt.Sprintf("at %d", cpuTime())
		default:
			answer = "error unknown request " + sc.Text()
		}
		fmt.Fprintln(out, answer)
	}
	return 0
}
