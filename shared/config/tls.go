package config

import (
	"strings"

	"github.com/knot-dev/knot/shared/tlsconf"
)

// tFingerprint is a SHA-256 certificate fingerprint, kept as
// tlsconf.Fingerprint writes it.
var tFingerprint = &valueType{kind: ValueString, name: "SHA-256 fingerprint", check: tlsconf.ParseFingerprint}

// crossCheckTLS checks the TLS keys that depend on each other: a
// certificate file needs its key file and the other way round, only a leaf
// of an https origin verifies it, and a client
// that skips verification has nothing to verify with.
func (l *loader) crossCheckTLS(c *Config, srcs map[string]Source) {
	t := c.Server.TLS
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		p := "server.tls.cert_file"
		l.fail(p, srcs[p], "is set but server.tls.key_file is not: the certificate needs its private key")
	case t.KeyFile != "" && t.CertFile == "":
		p := "server.tls.key_file"
		l.fail(p, srcs[p], "is set but server.tls.cert_file is not: the key needs its certificate")
	}
	for _, o := range []struct{ path, value string }{
		{"server.tls.origin_ca_file", t.OriginCAFile},
		{"server.tls.origin_fingerprint", t.OriginFingerprint},
	} {
		if o.value == "" {
			continue
		}
		p := o.path
		origin := strings.TrimPrefix(c.Server.OriginServer, "srv+")
		switch {
		case origin == "":
			l.fail(p, srcs[p], "is set but server.origin_server is not: only a leaf verifies an origin")
		case !strings.HasPrefix(origin, "https://"):
			l.fail(p, srcs[p], "is set but server.origin_server %q is not https://: there is no certificate to verify", c.Server.OriginServer)
		}
	}
	cl := c.Client
	if cl.TLSSkipVerify && (cl.TLSCAFile != "" || cl.TLSFingerprint != "") {
		p := "client.tls_skip_verify"
		other := "client.tls_ca_file"
		if cl.TLSFingerprint != "" {
			other = "client.tls_fingerprint"
		}
		l.fail(p, srcs[p], "is true but %s (%s) is set: skip verification, or verify with a CA file or fingerprint, not both", other, srcs[other])
	}
}
