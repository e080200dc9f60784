package main_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knot-dev/knot/shared/testenv"
)

// fingerprint writes a certificate's SHA-256 as openssl does: upper-case
// hex pairs joined by colons.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	pairs := make([]string, 0, len(sum))
	for i := 0; i < len(h); i += 2 {
		pairs = append(pairs, h[i:i+2])
	}
	return strings.Join(pairs, ":")
}

// writeCA makes a CA and a server certificate it signs for 127.0.0.1 and
// localhost, and writes ca.pem, cert.pem and key.pem in dir.
func writeCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "knot test server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	caCert, _ := x509.ParseCertificate(caDER)
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caFile = writeFile(t, filepath.Join(dir, "ca.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})))
	certFile = writeFile(t, filepath.Join(dir, "cert.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = writeFile(t, filepath.Join(dir, "key.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	return caFile, certFile, keyFile
}

// trusting returns an HTTP client that trusts the certificates of caFile
// and nothing else.
func trusting(t *testing.T, caFile string) *http.Client {
	t.Helper()
	data, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("no certificate in %s", caFile)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// servedCertificate returns the certificate the server at base (https://
// host:port) presents.
func servedCertificate(t *testing.T, base string) *x509.Certificate {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", strings.TrimPrefix(base, "https://"), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

func TestServerServesTLSWithCertAndKeyFiles(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := writeCA(t, dir)
	s := runKnotServer(t, dir, "--listen", "127.0.0.1:0", "--memorydb-enabled", "--cert-file", certFile, "--key-file", keyFile)
	if !strings.HasPrefix(s.base, "https://127.0.0.1:") {
		t.Fatalf("the server announces %s, want https://", s.base)
	}
	if !strings.Contains(s.log.String(), "file="+certFile+" self_signed=false") {
		t.Errorf("the certificate is not logged:\n%s", s.log)
	}

	// Go's client, trusting the CA.
	resp, err := trusting(t, caFile).Get(s.base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("GET /health: %d, Strict-Transport-Security %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	// A client that trusts only the system's roots refuses the server.
	cl := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
	if resp, err := cl.Get(s.base + "/health"); err == nil {
		resp.Body.Close()
		t.Fatal("a client without the CA accepted the server's certificate")
	} else if ua := (x509.UnknownAuthorityError{}); !errors.As(err, &ua) {
		t.Errorf("without the CA: %v, want an unknown authority", err)
	}

	// curl, trusting the CA.
	curl, err := exec.LookPath("curl")
	if err != nil {
		testenv.Missing(t, "curl", err)
	}
	out, err := exec.Command(curl, "-sS", "--max-time", "20", "--noproxy", "*", "--cacert", caFile, "-D", "-", "-o", "/dev/null", s.base+"/health").CombinedOutput()
	if err != nil {
		t.Fatalf("curl --cacert: %v\n%s", err, out)
	}
	head := strings.ToLower(string(out))
	if !strings.Contains(head, " 200") || !strings.Contains(head, "strict-transport-security: max-age=") {
		t.Errorf("curl --cacert got:\n%s", out)
	}
	out, err = exec.Command(curl, "-sS", "--max-time", "20", "--noproxy", "*", "-o", "/dev/null", s.base+"/health").CombinedOutput()
	if err == nil {
		t.Errorf("curl without the CA accepted the server's certificate:\n%s", out)
	}
}

func TestPlainHTTPServerSendsNoHSTS(t *testing.T) {
	s := runKnotServer(t, t.TempDir(), "--listen", "127.0.0.1:0", "--memorydb-enabled")
	resp, err := http.Get(s.base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v, ok := resp.Header["Strict-Transport-Security"]; ok || resp.StatusCode != 200 {
		t.Errorf("plain HTTP: %d, Strict-Transport-Security %q", resp.StatusCode, v)
	}
}

func TestSelfSignedCertificateIsKeptAndPrinted(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--use-tls", "--url", "https://knot.example.com:3443", "--wildcard-domain", "*.spaces.example.com"}

	// --print-fingerprint makes the certificate before the first start.
	r := knotIn(t, dir, nil, "", append([]string{"server", "--print-fingerprint"}, args...)...)
	mustSucceed(t, r)
	printed := strings.TrimSpace(r.stdout)
	if len(printed) != 95 {
		t.Fatalf("printed %q, want a SHA-256 fingerprint", r.stdout)
	}
	certFile := filepath.Join(dir, "data", "self-signed-cert.pem")
	st, err := os.Stat(filepath.Join(dir, "data", "self-signed-key.pem"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the key is not kept readable by its owner only: %v %v", err, st)
	}

	s := runKnotServer(t, dir, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	c := servedCertificate(t, s.base)
	if got := fingerprint(c.Raw); got != printed {
		t.Errorf("served %s, --print-fingerprint printed %s", got, printed)
	}
	for _, h := range []string{"knot.example.com", "localhost", "127.0.0.1", "::1", "dev.spaces.example.com"} {
		if err := c.VerifyHostname(h); err != nil {
			t.Errorf("the self-signed certificate is not for %s: %v", h, err)
		}
	}
	if !strings.Contains(s.log.String(), "self_signed=true sha256="+printed) {
		t.Errorf("the fingerprint is not logged at start:\n%s", s.log)
	}
	// The kept file verifies the server as a CA file does (curl --cacert).
	resp, err := trusting(t, certFile).Get(s.base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.stop()

	// A restart serves the same certificate.
	s = runKnotServer(t, dir, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	if got := fingerprint(servedCertificate(t, s.base).Raw); got != printed {
		t.Errorf("after a restart the server serves %s, not %s", got, printed)
	}
	s.stop()
	r = knotIn(t, dir, nil, "", append([]string{"server", "--print-fingerprint"}, args...)...)
	mustSucceed(t, r)
	if strings.TrimSpace(r.stdout) != printed {
		t.Errorf("--print-fingerprint now prints %s, not %s", r.stdout, printed)
	}

	// A plain HTTP server still serves its agents over TLS: it prints that
	// certificate's fingerprint, the one its agents are given.
	plain := t.TempDir()
	r = knotIn(t, plain, nil, "", "server", "--print-fingerprint")
	mustSucceed(t, r)
	agentPrinted := strings.TrimSpace(r.stdout)
	if len(agentPrinted) != 95 || agentPrinted == printed || !strings.Contains(r.stderr, "agent listener") {
		t.Fatalf("without TLS: printed %q (stderr %q), want the agent listener's fingerprint, said to be", r.stdout, r.stderr)
	}
	s = runKnotServer(t, plain, "--listen", "127.0.0.1:0", "--listen-agent", "127.0.0.1:0")
	if !strings.Contains(s.log.String(), "sha256="+agentPrinted) {
		t.Errorf("the agent listener does not serve the printed %s:\n%s", agentPrinted, s.log)
	}
	if strings.Contains(s.log.String(), "made a self-signed TLS certificate for the agent listener") {
		t.Errorf("the kept agent certificate is said to be made anew:\n%s", s.log)
	}
	s.stop()
	// A plain HTTP server that makes its agent certificate says so.
	s = runKnotServer(t, t.TempDir(), "--listen", "127.0.0.1:0", "--listen-agent", "127.0.0.1:0")
	if !strings.Contains(s.log.String(), "made a self-signed TLS certificate for the agent listener") {
		t.Errorf("a new agent certificate is not logged:\n%s", s.log)
	}
}

// originTLS runs an origin over TLS with a self-signed certificate, and
// creates its admin. It returns the origin, its fingerprint and the file
// of its certificate.
func originTLS(t *testing.T) (*serverProc, string, string) {
	t.Helper()
	dir := t.TempDir()
	o := runKnotServer(t, dir, "--listen", "127.0.0.1:0", "--location", "hq", "--shared-token", fleetSharedToken, "--use-tls")
	certFile := filepath.Join(dir, "data", "self-signed-cert.pem")
	o.client = trusting(t, certFile)
	o.call("POST", "/api/users", "", map[string]string{"username": "admin", "email": "admin@example.com", "password": "a-long-password"}, 201, nil)
	return o, fingerprint(servedCertificate(t, o.base).Raw), certFile
}

func TestLeafVerifiesTheOrigin(t *testing.T) {
	o, fp, certFile := originTLS(t)
	wrong := strings.Repeat("AB:", 31) + "CD"
	leaf := func(t *testing.T, extra ...string) *serverProc {
		args := append([]string{"--listen", "127.0.0.1:0", "--location", "branch", "--shared-token", fleetSharedToken, "--origin-server", o.base}, extra...)
		return runKnotServer(t, t.TempDir(), args...)
	}
	connects := func(t *testing.T, l *serverProc) {
		t.Helper()
		// Replication works: the origin's admin logs in at the leaf. A
		// write there is forwarded to the origin, over TLS too.
		var session string
		waitUntil(t, 30*time.Second, func() string {
			if session = tryLogin(l); session == "" {
				return "the admin cannot log in at the leaf yet:\n" + l.log.String()
			}
			return ""
		})
		l.call("POST", "/api/templates", session, map[string]any{"name": "made-at-" + strings.ToLower(strings.ReplaceAll(t.Name()[len("TestLeafVerifiesTheOrigin/"):], "_", "-")), "kind": "manual"}, 201, nil)
	}
	refused := func(t *testing.T, l *serverProc, want ...string) {
		t.Helper()
		// The leaf keeps retrying, with the reason in its log, and does
		// not exit.
		waitUntil(t, 30*time.Second, func() string {
			if n := strings.Count(l.log.String(), "leaf: origin link down"); n < 2 {
				return "fewer than two attempts:\n" + l.log.String()
			}
			return ""
		})
		for _, line := range strings.Split(l.log.String(), "\n") {
			if !strings.Contains(line, "leaf: origin link down") {
				continue
			}
			for _, w := range want {
				if !strings.Contains(line, w) {
					t.Errorf("the reason does not say %q: %s", w, line)
				}
			}
		}
		select {
		case err := <-l.done:
			t.Fatalf("the leaf exited: %v\n%s", err, l.log)
		default:
		}
		if strings.Contains(l.log.String(), "leaf: connected to the origin") {
			t.Fatalf("the leaf connected:\n%s", l.log)
		}
		if tryLogin(l) != "" {
			t.Fatal("the origin's admin logs in at a leaf that refused the origin")
		}
	}

	t.Run("PinnedFingerprint", func(t *testing.T) {
		connects(t, leaf(t, "--tls-origin-fingerprint", strings.ToLower(strings.ReplaceAll(fp, ":", ""))))
	})
	t.Run("CAFile", func(t *testing.T) {
		connects(t, leaf(t, "--tls-origin-ca-file", certFile))
	})
	t.Run("WrongFingerprint", func(t *testing.T) {
		refused(t, leaf(t, "--tls-origin-fingerprint", wrong), fp, wrong, "server.tls.origin_fingerprint")
	})
	t.Run("SystemRoots", func(t *testing.T) {
		refused(t, leaf(t), "certificate signed by unknown authority", "server.tls.origin_ca_file")
	})
}

func TestClientVerifiesTheServer(t *testing.T) {
	o, fp, certFile := originTLS(t)
	var auth struct{ Token string }
	o.call("POST", "/api/auth", "", map[string]string{"email": "admin@example.com", "password": "a-long-password"}, 200, &auth)
	var tok struct{ Token string }
	o.call("POST", "/api/tokens", auth.Token, map[string]any{"name": "cli"}, 201, &tok)
	wrong := strings.Repeat("ab", 32)
	env := func(kv ...string) map[string]string {
		return clientEnv(t, append([]string{"KNOT_SERVER", o.base, "KNOT_TOKEN", tok.Token}, kv...)...)
	}

	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		stderr []string // "" means success
		omits  string   // what stderr must not say
	}{
		{name: "SystemRootsRefuse", env: env(), stderr: []string{"knot: the server's TLS certificate is not trusted by this client: no authority it trusts signed it",
			"--tls-ca-file FILE", "--tls-fingerprint SHA256", "--tls-skip-verify"}, omits: "x509:"},
		{name: "DebugShowsTheCause", env: env(), args: []string{"--log-level", "debug"}, stderr: []string{"x509: certificate signed by unknown authority", "no authority it trusts signed it"}},
		{name: "PinnedFingerprint", env: env(), args: []string{"--tls-fingerprint", fp}},
		{name: "PinnedByVariable", env: env("KNOT_TLS_FINGERPRINT", fp)},
		{name: "WrongFingerprint", env: env(), args: []string{"--tls-fingerprint", wrong}, stderr: []string{"not the pinned one", fp, strings.ToUpper(wrong[:2]) + ":" + strings.ToUpper(wrong[2:4]), "knot server --print-fingerprint"}},
		{name: "CAFile", env: env(), args: []string{"--tls-ca-file", certFile}},
		{name: "SkipVerify", env: env(), args: []string{"--tls-skip-verify"}},
		{name: "SkipVerifyAndPin", env: env(), args: []string{"--tls-skip-verify", "--tls-fingerprint", fp}, stderr: []string{"client.tls_skip_verify", "not both"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := knot(t, tt.env, "", append([]string{"template", "list"}, tt.args...)...)
			if tt.stderr == nil {
				mustSucceed(t, r)
				return
			}
			if r.code == 0 {
				t.Fatalf("succeeded:\n%s", r.stdout)
			}
			for _, w := range tt.stderr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
				}
			}
			if tt.omits != "" && strings.Contains(r.stderr, tt.omits) {
				t.Errorf("stderr says %q:\n%s", tt.omits, r.stderr)
			}
		})
	}
}

func TestConnectSavesHowItVerifiedTheServer(t *testing.T) {
	o, fp, certFile := originTLS(t)
	env := clientEnv(t)
	file := filepath.Join(env["XDG_CONFIG_HOME"], "knot", "knot.yaml")
	connect := func(args ...string) result {
		return knot(t, env, "a-long-password\n", append([]string{"connect", "--email", "admin@example.com", o.base}, args...)...)
	}
	saved := func() string {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// Without a way to verify the server, connect refuses it and writes
	// nothing.
	r := connect()
	if r.code != 1 || !strings.Contains(r.stderr, "no authority it trusts signed it") || !strings.Contains(r.stderr, "--tls-skip-verify") {
		t.Fatalf("connect without verification: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused connect wrote the file: %v", err)
	}

	mustSucceed(t, connect("--tls-skip-verify"))
	if text := saved(); !strings.Contains(text, "tls_skip_verify: true") {
		t.Fatalf("--tls-skip-verify is not saved:\n%s", text)
	}
	mustSucceed(t, knot(t, env, "", "template", "list"))

	// Connecting again with a pin replaces the skip.
	mustSucceed(t, connect("--tls-fingerprint", fp))
	text := saved()
	if !strings.Contains(text, "tls_fingerprint: "+fp) || strings.Contains(text, "tls_skip_verify") {
		t.Fatalf("after connect --tls-fingerprint:\n%s", text)
	}
	mustSucceed(t, knot(t, env, "", "template", "list"))

	// A CA file is saved as an absolute path, so it works from anywhere.
	rel, err := filepath.Rel(filepath.Dir(certFile), certFile)
	if err != nil {
		t.Fatal(err)
	}
	r = knotIn(t, filepath.Dir(certFile), env, "a-long-password\n", "connect", "--email", "admin@example.com", "--tls-ca-file", rel, o.base)
	mustSucceed(t, r)
	text = saved()
	if !strings.Contains(text, "tls_ca_file: "+certFile) || strings.Contains(text, "tls_fingerprint") {
		t.Fatalf("after connect --tls-ca-file:\n%s", text)
	}
	mustSucceed(t, knot(t, env, "", "template", "list"))
}

// KNOT_USE_TLS, the predecessor's variable and knot's, makes knot server
// serve TLS with a self-signed certificate; it is the agent's no-effect name
// only on knot agent, so the server warns about nothing.
func TestServerServesTLSWithKnotUseTLS(t *testing.T) {
	dir := t.TempDir()
	s := runKnotServerEnv(t, dir, map[string]string{"KNOT_USE_TLS": "true"}, "--listen", "127.0.0.1:0", "--memorydb-enabled")
	if !strings.HasPrefix(s.base, "https://127.0.0.1:") {
		t.Fatalf("the server announces %s, want https://", s.base)
	}
	if !strings.Contains(s.log.String(), "self_signed=true") {
		t.Errorf("no self-signed certificate is logged:\n%s", s.log)
	}
	servedCertificate(t, s.base)
	if strings.Contains(s.log.String(), "level=WARN") {
		t.Errorf("the server warns:\n%s", s.log)
	}
}

// TestAgentCertificateOutlivesAURLChange: a plain HTTP server's agents pin
// the fingerprint of its agent listener's self-signed certificate, so a
// new server.url or server.wildcard_domain keeps that certificate; a new
// one would cut every agent that was given the old fingerprint.
func TestAgentCertificateOutlivesAURLChange(t *testing.T) {
	dir := t.TempDir()
	r := knotIn(t, dir, nil, "", "server", "--print-fingerprint", "--url", "http://knot.example.com:3000")
	mustSucceed(t, r)
	before := strings.TrimSpace(r.stdout)
	r = knotIn(t, dir, nil, "", "server", "--print-fingerprint", "--url", "http://knot2.example.com:3000", "--wildcard-domain", "*.spaces.example.com")
	mustSucceed(t, r)
	if after := strings.TrimSpace(r.stdout); len(before) != 95 || after != before {
		t.Errorf("the agent listener's fingerprint was %q and is %q after server.url and server.wildcard_domain changed", before, after)
	}
}
