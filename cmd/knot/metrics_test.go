package main_test

import (
	"strings"
	"testing"
)

func TestServerMetricsTokenGuardsMetrics(t *testing.T) {
	s := runKnotServer(t, t.TempDir(), "--listen", "127.0.0.1:0", "--memorydb-enabled", "--metrics-token", "scrape-me", "--leaf-forget-after", "2h")
	if code, body := s.fetch("GET", "/metrics", "", nil); code != 401 || !strings.Contains(string(body), "server.metrics_token") {
		t.Fatalf("GET /metrics without the token: %d %s", code, body)
	}
	if code, body := s.fetch("GET", "/metrics", "scrape-me", nil); code != 200 || !strings.Contains(string(body), "go_goroutines") {
		t.Fatalf("GET /metrics with the token: %d %.200s", code, body)
	}
	s.stop()
}
