package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/knot-dev/knot/shared/testenv"
)

// A knot server serves its own binary, without authentication, to whoever
// sets up a manual space's agent.
func TestServerServesItsOwnBinaryToCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		testenv.Missing(t, "curl", err)
	}
	dir := t.TempDir()
	s := runKnotServer(t, dir, "--listen", "127.0.0.1:0")
	want, err := os.ReadFile(knotBin)
	if err != nil {
		t.Fatal(err)
	}
	name := "knot-" + goruntime.GOOS + "-" + goruntime.GOARCH
	out, headers := filepath.Join(dir, "knot-download"), filepath.Join(dir, "headers")
	if b, err := exec.Command("curl", "-fsS", "-D", headers, "-o", out, s.base+"/agent/"+name).CombinedOutput(); err != nil {
		t.Fatalf("curl /agent/%s: %v %s", name, err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("downloaded %d bytes, not the server's binary (%d bytes)", len(got), len(want))
	}
	h, _ := os.ReadFile(headers)
	hs := strings.ToLower(string(h))
	if !strings.Contains(hs, "content-type: application/octet-stream") || !strings.Contains(hs, "content-length: "+strconv.Itoa(len(want))) {
		t.Fatalf("headers:\n%s", h)
	}

	other := "knot-linux-arm64"
	if goruntime.GOARCH == "arm64" {
		other = "knot-linux-amd64"
	}
	b, _ := exec.Command("curl", "-sS", "-w", "\n%{http_code}", s.base+"/agent/"+other).Output()
	if !strings.HasSuffix(string(b), "\n404") || !strings.Contains(string(b), "serves /agent/"+name) {
		t.Fatalf("GET /agent/%s: %s, want 404 naming /agent/%s", other, b, name)
	}
	s.stop()
}
