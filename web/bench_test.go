package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// serve runs e's server on a loopback listener until the benchmark ends and
// returns its base URL.
func serve(b *testing.B, e *env) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Run(ctx, ln) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Run: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func benchClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     time.Minute,
		// Responses are ~400 KiB: read them in large chunks, not 4 KiB ones.
		ReadBufferSize: 256 << 10,
	}}
}

// getSpaces sends GET /api/spaces and reads the whole body.
func getSpaces(c *http.Client, url, token string) (int, error) {
	rq, _ := http.NewRequest("GET", url+"/api/spaces", nil)
	rq.Header.Set("Authorization", "Bearer "+token)
	res, err := c.Do(rq)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil {
		return 0, err
	}
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /api/spaces = %d", res.StatusCode)
	}
	return int(n), nil
}

// spacesEnv returns a server whose admin owns n spaces, and the admin's token.
func spacesEnv(b *testing.B, n int) (*env, string) {
	b.Helper()
	e := newEnv(b)
	admin, token := e.admin()
	tpl := e.template("manual")
	for i := range n {
		e.space(admin, tpl, fmt.Sprintf("space-%04d", i))
	}
	return e, token
}

// BenchmarkLogin measures POST /api/auth over loopback HTTP (mostly bcrypt).
func BenchmarkLogin(b *testing.B) {
	e := newEnv(b)
	e.user("ann")
	url := serve(b, e)
	c := benchClient(1)
	body := []byte(`{"email":"ann@example.com","password":"` + testPassword + `"}`)
	for b.Loop() {
		res, err := c.Post(url+"/api/auth", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("login = %d", res.StatusCode)
		}
	}
}

// BenchmarkSpaceList1000 measures an authenticated GET /api/spaces that
// returns 1,000 spaces, over loopback HTTP.
func BenchmarkSpaceList1000(b *testing.B) {
	e, token := spacesEnv(b, 1000)
	url := serve(b, e)
	c := benchClient(1)
	n, err := getSpaces(c, url, token)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(n))
	for b.Loop() {
		if _, err := getSpaces(c, url, token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSpaceListRate drives GET /api/spaces (1,000 spaces) at a fixed
// 1,000 requests per second for 5 seconds over loopback HTTP and reports the
// latency percentiles. Latency runs from when a request was due to when its
// whole body was read, so a server that falls behind shows it. The client
// runs in the same process, so cpu-µs/req counts both sides.
func BenchmarkSpaceListRate(b *testing.B) {
	const (
		rate     = 1000
		duration = 5 * time.Second
		total    = int(rate * duration / time.Second)
		maxConns = 64
	)
	e, token := spacesEnv(b, 1000)
	url := serve(b, e)
	c := benchClient(maxConns)
	// Warm the connections and the list cache.
	var warm sync.WaitGroup
	for range 16 {
		warm.Add(1)
		go func() {
			defer warm.Done()
			getSpaces(c, url, token)
		}()
	}
	warm.Wait()

	lat := make([]time.Duration, total)
	errs := make([]error, total)
	var wg sync.WaitGroup
	interval := time.Second / rate
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d) // pacing the load, not waiting for a result
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = getSpaces(c, url, token)
			lat[i] = time.Since(due)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[total/2]), "p50-ms")
	b.ReportMetric(ms(lat[total*99/100]), "p99-ms")
	b.ReportMetric(ms(lat[total-1]), "max-ms")
	b.ReportMetric(float64(total)/elapsed.Seconds(), "req/s")
	// CPU time of client and server together per request: what the load
	// costs, whatever else runs on the machine.
	b.ReportMetric(float64(cpu)/float64(total)/float64(time.Microsecond), "cpu-µs/req")
}
