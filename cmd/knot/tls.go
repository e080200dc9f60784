package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/coder/websocket"
	"github.com/urfave/cli/v2"

	"github.com/knot-dev/knot/leaf"
	"github.com/knot-dev/knot/shared/config"
	"github.com/knot-dev/knot/shared/tlsconf"
)

// webTLS returns the certificate the web listener serves, or nil when
// it serves plain HTTP: the files of server.tls.cert_file and key_file, or
// with server.tls.use_tls alone a self-signed certificate kept in the data
// directory (made there on the first start).
func webTLS(cfg *config.Config) (*tlsconf.ServerCert, error) {
	t := cfg.Server.TLS
	if !t.Enabled() {
		return nil, nil
	}
	sc, err := tlsconf.LoadServer(tlsconf.ServerOptions{
		CertFile:      t.CertFile,
		KeyFile:       t.KeyFile,
		SelfSignedDir: dataDir(cfg),
		Hosts:         selfSignedHosts(cfg),
	})
	if err != nil {
		if t.CertFile != "" {
			return nil, fmt.Errorf("server.tls.cert_file: %w", err)
		}
		return nil, fmt.Errorf("server.tls.use_tls: %w", err)
	}
	return sc, nil
}

// dataDir returns the directory that keeps the server's files besides its
// store: the one that holds server.badgerdb.path (./data by default),
// whichever store is in use.
func dataDir(cfg *config.Config) string {
	return filepath.Dir(filepath.Clean(cfg.Server.BadgerDB.Path))
}

// selfSignedHosts lists what a self-signed certificate is for: the host of
// server.url, localhost and the loopback addresses, and the wildcard
// domain of the spaces' web ports when there is one.
func selfSignedHosts(cfg *config.Config) []string {
	var hosts []string
	if u, err := url.Parse(cfg.Server.URL); err == nil && u.Hostname() != "" {
		hosts = append(hosts, u.Hostname())
	}
	hosts = append(hosts, "localhost", "127.0.0.1", "::1")
	if w := cfg.Server.WildcardDomain; w != "" {
		hosts = append(hosts, "*."+strings.TrimPrefix(w, "*."))
	}
	return hosts
}

// logWebTLS logs the certificate the web listener serves, with its
// fingerprint for clients that pin it.
func logWebTLS(logger *slog.Logger, sc *tlsconf.ServerCert) {
	if sc.Created {
		logger.Info("made a self-signed TLS certificate", "file", sc.File)
	}
	logger.Info("TLS certificate", "file", sc.File, "self_signed", sc.SelfSigned,
		"sha256", sc.Fingerprint, "expires", sc.Certificate.NotAfter.UTC().Format("2006-01-02"))
}

// printFingerprint writes the SHA-256 fingerprint of the certificate the
// server of cfg would serve, making the self-signed one if it is to be
// self-signed and does not exist yet. A server whose web listener serves
// plain HTTP still serves its agents over TLS: it prints that
// certificate's, for agent.fingerprint, and says so on note.
func printFingerprint(w, note io.Writer, cfg *config.Config) error {
	web, err := webTLS(cfg)
	if err != nil {
		return err
	}
	sc, err := agentTLS(cfg, web)
	if err != nil {
		return err
	}
	if web == nil {
		fmt.Fprintln(note, "knot: the web listener serves plain HTTP; this is the certificate of the agent listener (server.listen_agent), for agent.fingerprint")
	}
	_, err = fmt.Fprintln(w, sc.Fingerprint)
	return err
}

// originTransport returns the transport a leaf reaches its origin with:
// it verifies the origin by server.tls.origin_ca_file and
// origin_fingerprint, else by the system's roots.
func originTransport(cfg *config.Config) (*http.Transport, error) {
	t := cfg.Server.TLS
	tc, err := tlsconf.Client(tlsconf.ClientOptions{CAFile: t.OriginCAFile, Fingerprint: t.OriginFingerprint})
	if err != nil {
		return nil, fmt.Errorf("server.tls.origin_ca_file: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return tr, nil
}

// overOriginTLS returns o with the dialer and transport that verify the
// origin as tr does.
func overOriginTLS(tr *http.Transport, o leaf.Options) leaf.Options {
	o.Dial = originDial
	o.HTTPClient = &http.Client{Transport: tr}
	return o
}

// originDial opens the leaf's websocket to its origin, and says which key
// to look at when the origin's certificate is refused.
func originDial(ctx context.Context, u string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	conn, resp, err := websocket.Dial(ctx, u, opts)
	var fe *tlsconf.FingerprintError
	switch {
	case err == nil:
	case errors.As(err, &fe):
		err = fmt.Errorf("%w (server.tls.origin_fingerprint; knot server --print-fingerprint on the origin shows its certificate's)", err)
	case certificateRefused(err):
		err = fmt.Errorf("%w (verify the origin with server.tls.origin_ca_file or server.tls.origin_fingerprint)", err)
	}
	return conn, resp, err
}

// certificateRefused reports whether err is a refusal of the server's
// certificate by the chain or host name checks.
func certificateRefused(err error) bool {
	var (
		ua x509.UnknownAuthorityError
		he x509.HostnameError
		ci x509.CertificateInvalidError
		ve *tls.CertificateVerificationError
	)
	return errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &ve)
}

// tlsConfigOf returns the configuration that serves sc, nil for none.
func tlsConfigOf(sc *tlsconf.ServerCert) *tls.Config {
	if sc == nil {
		return nil
	}
	return sc.Config
}

// printFingerprintFlag makes knot server print its certificate's
// fingerprint and exit.
var printFingerprintFlag = &cli.BoolFlag{
	Name:  "print-fingerprint",
	Usage: "print the SHA-256 fingerprint of the TLS certificate the server would serve (with plain HTTP, its agent listener's), and exit",
}
