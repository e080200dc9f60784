package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/client"
	"github.com/knot-dev/knot/shared/tlsconf"
)

// A request that gets no answer says why in words a user can act on, names
// the client's flags where they help, and keeps the cause Go gave for a
// program.
func TestTransportErrorSaysWhyInWords(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) })

	closed := httptest.NewServer(ok)
	downURL := closed.URL
	closed.Close()

	untrusted := tlsServer(t, "127.0.0.1:0", ok)
	// 127.0.0.2 is loopback, but not an address the test certificate is
	// for.
	wrongHost := tlsServer(t, "127.0.0.2:0", ok)
	roots := x509.NewCertPool()
	roots.AddCert(wrongHost.Certificate())

	wrongPin := strings.Repeat("AB:", 31) + "AB"
	pinned, err := tlsconf.Client(tlsconf.ClientOptions{Fingerprint: wrongPin})
	if err != nil {
		t.Fatal(err)
	}

	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(silent.Close)

	for _, tt := range []struct {
		name  string
		cfg   client.Config
		says  []string
		cause func(error) bool // the cause errors.As or errors.Is finds
	}{
		{"NothingListens", client.Config{Address: downURL},
			[]string{"nothing answers at " + downURL + " (connection refused): the server is not running there, or not at that address"},
			func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }},
		{"UnknownAuthority", client.Config{Address: untrusted.URL},
			[]string{"the server's TLS certificate is not trusted by this client: no authority it trusts signed it", "--tls-ca-file FILE", "--tls-fingerprint SHA256", "knot server --print-fingerprint"},
			func(err error) bool { var e x509.UnknownAuthorityError; return errors.As(err, &e) }},
		{"WrongHost", client.Config{Address: wrongHost.URL, TLSConfig: &tls.Config{RootCAs: roots}},
			[]string{"the server's TLS certificate is not for the address " + wrongHost.URL, "--tls-fingerprint SHA256"},
			func(err error) bool { var e x509.HostnameError; return errors.As(err, &e) }},
		{"NotThePinnedCertificate", client.Config{Address: untrusted.URL, TLSConfig: pinned},
			[]string{"the server's TLS certificate is not the pinned one: its SHA-256 fingerprint is " + tlsconf.Fingerprint(untrusted.Certificate().Raw) + ", not " + wrongPin, "--tls-fingerprint", "knot server --print-fingerprint"},
			func(err error) bool { var e *tlsconf.FingerprintError; return errors.As(err, &e) }},
		{"NoAnswerInTime", client.Config{Address: silent.URL, HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}},
			[]string{"the server at " + silent.URL + " did not answer in time"},
			func(err error) bool { var e net.Error; return errors.As(err, &e) && e.Timeout() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := client.New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Auth().Ping(context.Background())
			var te *client.TransportError
			if !errors.As(err, &te) || shared.ErrorCode(err) != shared.EUNAVAILABLE {
				t.Fatalf("err = %v (%T), want an EUNAVAILABLE *TransportError", err, err)
			}
			msg := err.Error()
			for _, w := range tt.says {
				if !strings.Contains(msg, w) {
					t.Errorf("the error does not say %q:\n%s", w, msg)
				}
			}
			for _, raw := range []string{"x509:", "tls:", "dial tcp", "Get \""} {
				if strings.Contains(msg, raw) {
					t.Errorf("the error holds the program's words %q:\n%s", raw, msg)
				}
			}
			if !tt.cause(err) {
				t.Errorf("the cause is not reachable with errors.As or errors.Is: %v", te.Err)
			}
			t.Log(msg)
		})
	}

	t.Run("WebsocketSaysWhatFailed", func(t *testing.T) {
		c, err := client.New(client.Config{Address: downURL})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Spaces().LogStream(context.Background(), "s1")
		want := "cannot open the log stream: nothing answers at " + downURL + " (connection refused)"
		if err == nil || !strings.HasPrefix(err.Error(), want) || shared.ErrorCode(err) != shared.EUNAVAILABLE {
			t.Fatalf("err = %v, want an EUNAVAILABLE error starting %q", err, want)
		}
	})
}

// tlsServer starts an httptest TLS server listening at addr, which does
// not log the handshakes its clients refuse.
func tlsServer(t *testing.T, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener.Close()
	srv.Listener = l
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// Unreachable speaks of the ends it is given, names a websocket's address
// as the web address it is, and says when it does not know the cause.
func TestUnreachableWording(t *testing.T) {
	leaf := client.Wording{Server: "the origin", Client: "this leaf"}
	const link = "wss://origin.example:3000/api/leaf/link"
	for _, tt := range []struct {
		name  string
		err   error
		words string
		known bool
	}{
		{"HostNameNotResolved", &url.Error{Op: "Get", URL: "https://origin.example:3000/", Err: &net.DNSError{Name: "origin.example", Err: "no such host", IsNotFound: true}},
			"the origin's host name origin.example cannot be resolved", true},
		{"NoRoute", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)},
			"no network route leads to https://origin.example:3000", true},
		{"ClosedEarly", fmt.Errorf("read: %w", io.ErrUnexpectedEOF),
			"the connection to https://origin.example:3000 closed before the origin answered", true},
		{"Deadline", context.DeadlineExceeded,
			"the origin at https://origin.example:3000 did not answer in time", true},
		{"Unknown", errors.New("tls: first record does not look like a TLS handshake"),
			"the origin at https://origin.example:3000 cannot be reached", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			words, known := client.Unreachable(leaf, link, tt.err)
			if words != tt.words || known != tt.known {
				t.Fatalf("Unreachable = %q, %v; want %q, %v", words, known, tt.words, tt.known)
			}
		})
	}
}
