package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The files of the self-signed certificate in ServerOptions.SelfSignedDir.
const (
	SelfSignedCertFile = "self-signed-cert.pem"
	SelfSignedKeyFile  = "self-signed-key.pem"
)

// selfSignedLife is how long a new self-signed certificate is valid;
// renewBefore is how long before its end it is replaced.
const (
	selfSignedLife = 10 * 365 * 24 * time.Hour
	renewBefore    = 30 * 24 * time.Hour
)

// ServerOptions says which certificate a listener serves.
type ServerOptions struct {
	// CertFile and KeyFile name the PEM certificate (its chain may follow
	// it) and private key to serve. Set both, or neither for a self-signed
	// certificate.
	CertFile, KeyFile string
	// SelfSignedDir is the directory that keeps the self-signed
	// certificate (SelfSignedCertFile and SelfSignedKeyFile), made when
	// needed. Required when no CertFile is given.
	SelfSignedDir string
	// Hosts lists the host names, wildcard names (*.example.com) and IP
	// addresses the self-signed certificate is for.
	Hosts []string
	// PinnedOnly says that every client trusts the self-signed certificate
	// by its fingerprint alone, never by a host name (as agents pin their
	// leaf's): a kept one is then served again whatever hosts it covers,
	// so that a change of Hosts does not change the fingerprint those
	// clients were given. Hosts still name the hosts of a new one.
	PinnedOnly bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ServerCert is the certificate a listener serves.
type ServerCert struct {
	// Config serves Certificate; it can be given to a tls.Listener or
	// http.Server.TLSConfig.
	Config *tls.Config
	// Certificate is the served certificate (the first of the chain).
	Certificate *x509.Certificate
	// Fingerprint is Certificate's SHA-256 fingerprint.
	Fingerprint string
	// File is the PEM file the certificate was read from or kept in.
	File string
	// SelfSigned is true for the certificate kept in
	// ServerOptions.SelfSignedDir, false for ServerOptions.CertFile's.
	SelfSigned bool
	// Created is true when a new self-signed certificate was made.
	Created bool
}

// LoadServer returns the certificate of a listener: the one in
// opts.CertFile and opts.KeyFile, or else the self-signed one in
// opts.SelfSignedDir, made (or made anew) there when needed.
func LoadServer(opts ServerOptions) (*ServerCert, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	switch {
	case opts.CertFile != "" && opts.KeyFile != "":
		pair, err := tls.LoadX509KeyPair(opts.CertFile, opts.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load the certificate %s and key %s: %w", opts.CertFile, opts.KeyFile, err)
		}
		return serverCert(pair, opts.CertFile, false, false)
	case opts.CertFile != "" || opts.KeyFile != "":
		return nil, errors.New("a certificate file needs its key file, and a key file its certificate file")
	case opts.SelfSignedDir == "":
		return nil, errors.New("no certificate file and no directory for a self-signed certificate")
	}
	certFile := filepath.Join(opts.SelfSignedDir, SelfSignedCertFile)
	keyFile := filepath.Join(opts.SelfSignedDir, SelfSignedKeyFile)
	// A missing, damaged or unfit pair is replaced; a directory that
	// cannot be written fails below with the cause.
	if pair, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && fits(pair.Leaf, opts) {
		return serverCert(pair, certFile, true, false)
	}
	certPEM, keyPEM, err := selfSigned(opts.Hosts, opts.Now())
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.SelfSignedDir, 0o700); err != nil {
		return nil, fmt.Errorf("keep the self-signed certificate: %w", err)
	}
	if err := writeFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("keep the self-signed certificate: %w", err)
	}
	if err := writeFile(certFile, certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("keep the self-signed certificate: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	return serverCert(pair, certFile, true, true)
}

func serverCert(pair tls.Certificate, file string, selfSigned, created bool) (*ServerCert, error) {
	leaf := pair.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parse the certificate %s: %w", file, err)
		}
	}
	return &ServerCert{
		Config: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{pair},
		},
		Certificate: leaf,
		Fingerprint: Fingerprint(leaf.Raw),
		File:        file,
		SelfSigned:  selfSigned,
		Created:     created,
	}, nil
}

// fits reports whether a kept self-signed certificate can be served again:
// it is valid for a while yet and covers every host asked for (unless its
// clients pin it).
func fits(c *x509.Certificate, opts ServerOptions) bool {
	now := opts.Now()
	if c == nil || now.Before(c.NotBefore) || now.Add(renewBefore).After(c.NotAfter) {
		return false
	}
	if opts.PinnedOnly {
		return true
	}
	for _, h := range opts.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
				return false
			}
		} else if !slices.Contains(c.DNSNames, h) {
			return false
		}
	}
	return true
}

// selfSigned makes a self-signed ECDSA P-256 certificate for hosts and
// returns it and its key in PEM.
func selfSigned(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"knot"}, CommonName: "knot self-signed"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedLife),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		// A CA of itself, so that the file can be given as a CA file to
		// clients (curl --cacert, server.tls.origin_ca_file).
		IsCA: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" && !slices.Contains(tmpl.DNSNames, h) {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// writeFile replaces name with data atomically, with mode perm.
func writeFile(name string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename, a no-op
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
