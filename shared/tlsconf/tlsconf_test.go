package tlsconf_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared/tlsconf"
)

func TestParseFingerprint(t *testing.T) {
	canon := strings.Repeat("AB:", 31) + "CD"
	tests := []struct {
		name, in, want string
	}{
		{name: "Canonical", in: canon, want: canon},
		{name: "LowerCase", in: strings.ToLower(canon), want: canon},
		{name: "PlainHex", in: strings.Repeat("ab", 31) + "cd", want: canon},
		{name: "Spaces", in: " " + canon + "\n", want: canon},
		{name: "Short", in: "AB:CD"},
		{name: "Long", in: canon + ":EF"},
		{name: "NotHex", in: strings.Repeat("zz", 32)},
		{name: "OddPairs", in: "ABC:" + canon[4:]},
		{name: "Empty", in: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tlsconf.ParseFingerprint(tt.in)
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "SHA-256 fingerprint") {
					t.Fatalf("ParseFingerprint(%q) = %q, %v; want an error", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseFingerprint(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func mustSelfSigned(t *testing.T, dir string, hosts ...string) *tlsconf.ServerCert {
	t.Helper()
	sc, err := tlsconf.LoadServer(tlsconf.ServerOptions{SelfSignedDir: dir, Hosts: hosts})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestSelfSignedIsKeptAndCoversItsHosts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	hosts := []string{"knot.example.com", "localhost", "127.0.0.1", "::1"}
	first := mustSelfSigned(t, dir, hosts...)
	if !first.Created || !first.SelfSigned || first.File != filepath.Join(dir, tlsconf.SelfSignedCertFile) {
		t.Fatalf("first load: created %v, file %s", first.Created, first.File)
	}
	c := first.Certificate
	for _, h := range []string{"knot.example.com", "localhost", "127.0.0.1", "::1"} {
		if err := c.VerifyHostname(h); err != nil {
			t.Errorf("the certificate is not for %s: %v", h, err)
		}
	}
	if c.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("key algorithm %v, want ECDSA", c.PublicKeyAlgorithm)
	}
	if first.Fingerprint != tlsconf.Fingerprint(c.Raw) {
		t.Errorf("fingerprint %s is not the certificate's", first.Fingerprint)
	}
	st, err := os.Stat(filepath.Join(dir, tlsconf.SelfSignedKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, st)
	}

	again := mustSelfSigned(t, dir, hosts...)
	if again.Created || again.Fingerprint != first.Fingerprint {
		t.Errorf("second load: created %v, fingerprint %s; want the kept %s", again.Created, again.Fingerprint, first.Fingerprint)
	}
	// A host the kept certificate does not cover makes a new one.
	moved := mustSelfSigned(t, dir, "knot2.example.com", "localhost")
	if !moved.Created || moved.Fingerprint == first.Fingerprint || moved.Certificate.VerifyHostname("knot2.example.com") != nil {
		t.Errorf("after the host changed: created %v, fingerprint %s", moved.Created, moved.Fingerprint)
	}
	// A damaged file is replaced.
	if err := os.WriteFile(filepath.Join(dir, tlsconf.SelfSignedCertFile), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fixed := mustSelfSigned(t, dir, "localhost"); !fixed.Created {
		t.Error("a damaged certificate file was not replaced")
	}
}

func TestSelfSignedIsRenewedBeforeItExpires(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	first, err := tlsconf.LoadServer(tlsconf.ServerOptions{SelfSignedDir: dir, Hosts: []string{"localhost"}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	later := first.Certificate.NotAfter.Add(-24 * time.Hour)
	renewed, err := tlsconf.LoadServer(tlsconf.ServerOptions{SelfSignedDir: dir, Hosts: []string{"localhost"}, Now: func() time.Time { return later }})
	if err != nil {
		t.Fatal(err)
	}
	if !renewed.Created || !renewed.Certificate.NotAfter.After(first.Certificate.NotAfter) {
		t.Errorf("a certificate a day from its end was served again")
	}
}

func TestLoadServerRefusesHalfAPair(t *testing.T) {
	for _, o := range []tlsconf.ServerOptions{{CertFile: "c.pem"}, {KeyFile: "k.pem"}, {}} {
		if _, err := tlsconf.LoadServer(o); err == nil {
			t.Errorf("LoadServer(%+v) succeeded", o)
		}
	}
	_, err := tlsconf.LoadServer(tlsconf.ServerOptions{CertFile: filepath.Join(t.TempDir(), "none.pem"), KeyFile: "k.pem"})
	if err == nil || !strings.Contains(err.Error(), "none.pem") {
		t.Errorf("missing file: %v", err)
	}
}

// serveTLS serves 200 OK over TLS with sc on 127.0.0.1.
func serveTLS(t *testing.T, sc *tlsconf.ServerCert) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Listener.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.TLS = sc.Config
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func get(t *testing.T, url string, o tlsconf.ClientOptions) error {
	t.Helper()
	tc, err := tlsconf.Client(o)
	if err != nil {
		t.Fatal(err)
	}
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
	defer cl.CloseIdleConnections()
	resp, err := cl.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func TestClientVerifiesTheServer(t *testing.T) {
	dir := t.TempDir()
	sc := mustSelfSigned(t, dir, "localhost", "127.0.0.1")
	url := serveTLS(t, sc)
	other := mustSelfSigned(t, t.TempDir(), "localhost", "127.0.0.1")
	wrong := other.Fingerprint

	t.Run("SystemRootsRefuse", func(t *testing.T) {
		err := get(t, url, tlsconf.ClientOptions{})
		var ua x509.UnknownAuthorityError
		if !errors.As(err, &ua) {
			t.Fatalf("error %v, want an unknown authority", err)
		}
	})
	t.Run("Pinned", func(t *testing.T) {
		if err := get(t, url, tlsconf.ClientOptions{Fingerprint: strings.ToLower(sc.Fingerprint)}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("WrongPin", func(t *testing.T) {
		err := get(t, url, tlsconf.ClientOptions{Fingerprint: wrong})
		var fe *tlsconf.FingerprintError
		if !errors.As(err, &fe) || fe.Got != sc.Fingerprint || fe.Want != wrong {
			t.Fatalf("error %v, want a fingerprint mismatch", err)
		}
		if msg := err.Error(); !strings.Contains(msg, sc.Fingerprint) || !strings.Contains(msg, wrong) {
			t.Errorf("message %q does not name both fingerprints", msg)
		}
	})
	t.Run("CAFile", func(t *testing.T) {
		if err := get(t, url, tlsconf.ClientOptions{CAFile: sc.File}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("OtherCAFile", func(t *testing.T) {
		var ua x509.UnknownAuthorityError
		if err := get(t, url, tlsconf.ClientOptions{CAFile: other.File}); !errors.As(err, &ua) {
			t.Fatalf("error %v, want an unknown authority", err)
		}
	})
	t.Run("CAFileAndPin", func(t *testing.T) {
		if err := get(t, url, tlsconf.ClientOptions{CAFile: sc.File, Fingerprint: sc.Fingerprint}); err != nil {
			t.Fatal(err)
		}
		var fe *tlsconf.FingerprintError
		if err := get(t, url, tlsconf.ClientOptions{CAFile: sc.File, Fingerprint: wrong}); !errors.As(err, &fe) {
			t.Fatalf("error %v, want a fingerprint mismatch", err)
		}
	})
	t.Run("SkipVerify", func(t *testing.T) {
		if err := get(t, url, tlsconf.ClientOptions{SkipVerify: true}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestClientOptionErrors(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    tlsconf.ClientOptions
		want string
	}{
		{name: "SkipAndPin", o: tlsconf.ClientOptions{SkipVerify: true, Fingerprint: strings.Repeat("ab", 32)}, want: "excludes"},
		{name: "NoCAFile", o: tlsconf.ClientOptions{CAFile: filepath.Join(t.TempDir(), "none.pem")}, want: "none.pem"},
		{name: "CAFileNotPEM", o: tlsconf.ClientOptions{CAFile: notPEM}, want: "holds no PEM certificate"},
		{name: "BadPin", o: tlsconf.ClientOptions{Fingerprint: "AB:CD"}, want: "SHA-256 fingerprint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tlsconf.Client(tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want ~%q", err, tt.want)
			}
		})
	}
}

// caSigned returns a server certificate for 127.0.0.1 signed by a new CA,
// served with its chain (the CA included), and the CA.
func caSigned(t *testing.T) (*tlsconf.ServerCert, *x509.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, chain, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	sc, err := tlsconf.LoadServer(tlsconf.ServerOptions{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	return sc, ca
}

func TestPinNamesTheServersCertificateNotItsCA(t *testing.T) {
	sc, ca := caSigned(t)
	if sc.Created || sc.SelfSigned || sc.Fingerprint != tlsconf.Fingerprint(sc.Certificate.Raw) || sc.Certificate.Subject.CommonName != "server" {
		t.Fatalf("loaded %+v", sc)
	}
	url := serveTLS(t, sc)
	if err := get(t, url, tlsconf.ClientOptions{Fingerprint: sc.Fingerprint}); err != nil {
		t.Fatalf("pinned to the server's certificate: %v", err)
	}
	caPin := tlsconf.Fingerprint(ca.Raw)
	var fe *tlsconf.FingerprintError
	if err := get(t, url, tlsconf.ClientOptions{Fingerprint: caPin}); !errors.As(err, &fe) || fe.Got != sc.Fingerprint {
		t.Fatalf("pinned to the CA of the chain: %v, want a refusal naming the server's certificate", err)
	}
}

// TestPinnedOnlyKeepsTheCertificateWhenTheHostsChange: a certificate that
// clients only pin is served again when the hosts asked for change, so
// the fingerprint they hold stays valid; it is still renewed before it
// expires.
func TestPinnedOnlyKeepsTheCertificateWhenTheHostsChange(t *testing.T) {
	dir := t.TempDir()
	load := func(now time.Time, hosts ...string) *tlsconf.ServerCert {
		t.Helper()
		sc, err := tlsconf.LoadServer(tlsconf.ServerOptions{SelfSignedDir: dir, Hosts: hosts, PinnedOnly: true, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	now := time.Now()
	first := load(now, "knot.example.com", "127.0.0.1")
	if !first.Created || first.Certificate.VerifyHostname("knot.example.com") != nil {
		t.Fatalf("first load: created %v, not for its host", first.Created)
	}
	moved := load(now, "knot2.example.com", "*.spaces.example.com", "127.0.0.1")
	if moved.Created || moved.Fingerprint != first.Fingerprint {
		t.Errorf("after the hosts changed: created %v, fingerprint %s; want the kept %s", moved.Created, moved.Fingerprint, first.Fingerprint)
	}
	if renewed := load(first.Certificate.NotAfter.Add(-24*time.Hour), "127.0.0.1"); !renewed.Created {
		t.Error("a pinned certificate a day from its end was served again")
	}
}
