package main

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// knot connect --use-web-auth gives up when no approval comes within
// webAuthWait: it fails with a reason, saves nothing, and no longer
// listens for the browser.
func TestConnectUseWebAuthGivesUpAfterTheWait(t *testing.T) {
	wait := webAuthWait
	webAuthWait = 300 * time.Millisecond
	t.Cleanup(func() { webAuthWait = wait })
	t.Setenv("BROWSER", "true") // a browser that opens nothing
	file := filepath.Join(t.TempDir(), "knot.yaml")

	var stdout, stderr bytes.Buffer
	start := time.Now()
	// Nothing listens at the server's address: knot asks it nothing
	// before the browser comes back.
	code := run(context.Background(), []string{"knot", "connect", "--use-web-auth", "--config", file, "http://127.0.0.1:1"},
		strings.NewReader(""), &stdout, &stderr)
	took := time.Since(start)
	if code != exitError || !strings.Contains(stderr.String(), "knot: no approval came from the browser within 300ms; nothing was saved: run knot connect --use-web-auth again") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "Waiting up to 300ms for the approval") {
		t.Errorf("stderr does not say how long knot waits:\n%s", stderr.String())
	}
	if took > 20*time.Second {
		t.Errorf("knot waited %v", took)
	}
	m := regexp.MustCompile(`(?m)^  (http://127\.0\.0\.1:1/connect\?\S+)$`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no address of the page in stderr:\n%s", stderr.String())
	}
	page, err := url.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+page.Query().Get("port"), 5*time.Second); err == nil {
		c.Close()
		t.Errorf("knot still listens on port %s for the browser", page.Query().Get("port"))
	}
	if _, err := os.Stat(file); err == nil {
		t.Error("a configuration was saved")
	}
}
