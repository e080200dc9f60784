package web_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared/tlsconf"
	"github.com/knot-dev/knot/web"
)

// runOn runs e's server on a loopback port until the test ends and
// returns its address.
func runOn(t *testing.T, e *env) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestRunServesTLSWithHSTS(t *testing.T) {
	sc, err := tlsconf.LoadServer(tlsconf.ServerOptions{SelfSignedDir: t.TempDir(), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *web.TestOptions) { o.TLS = sc.Config })
	addr := runOn(t, e)
	tc, err := tlsconf.Client(tlsconf.ClientOptions{CAFile: sc.File})
	if err != nil {
		t.Fatal(err)
	}
	for _, h2 := range []bool{false, true} {
		tr := &http.Transport{TLSClientConfig: tc.Clone(), ForceAttemptHTTP2: h2}
		cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		res, err := cl.Get("https://" + addr + "/health")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		tr.CloseIdleConnections()
		if res.StatusCode != 200 || res.TLS == nil {
			t.Fatalf("GET /health over TLS: %d, TLS %v", res.StatusCode, res.TLS != nil)
		}
		if got := res.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
			t.Errorf("%s: Strict-Transport-Security %q", res.Proto, got)
		}
		if h2 && res.ProtoMajor != 2 {
			t.Errorf("a client that asks for HTTP/2 got %s", res.Proto)
		}
	}

	// Plain HTTP on a TLS listener is refused, not served.
	res, err := http.Get("http://" + addr + "/health")
	if err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Errorf("plain HTTP on the TLS listener was served")
		}
	}
}

func TestPlainHTTPHasNoHSTS(t *testing.T) {
	addr := runOn(t, newEnv(t))
	res, err := http.Get("http://" + addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /health: %d", res.StatusCode)
	}
	if got, ok := res.Header["Strict-Transport-Security"]; ok {
		t.Errorf("plain HTTP answered with Strict-Transport-Security %q", got)
	}
}
