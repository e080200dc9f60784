package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/knot-dev/knot/shared/config"
	"github.com/knot-dev/knot/shared/tlsconf"
)

// clientTLSConfig returns how a client command verifies the server:
// client.tls_ca_file, client.tls_fingerprint or client.tls_skip_verify,
// else the system's roots.
func clientTLSConfig(cl config.Client) (*tls.Config, error) {
	tc, err := tlsconf.Client(tlsconf.ClientOptions{CAFile: cl.TLSCAFile, Fingerprint: cl.TLSFingerprint, SkipVerify: cl.TLSSkipVerify})
	if err != nil {
		// The fingerprint and the exclusions were checked at load; what is
		// left is the CA file.
		return nil, fmt.Errorf("client.tls_ca_file: %w", err)
	}
	return tc, nil
}

// connectTLS is how knot connect verifies the server, from its --tls-*
// flags and $KNOT_TLS_* variables, and what it saves of that with the
// server in the client configuration.
type connectTLS struct {
	config *tls.Config
	keys   []clientKey
}

// tlsFlags are the --tls-* flags of the client.
func tlsFlags() []cli.Flag {
	return keyFlags("client.tls_")[1:] // without --config
}

// readConnectTLS reads the --tls-* flags of knot connect and the KNOT_TLS_*
// variables. It saves every client.tls_* key: those given with their value
// (a CA file as an absolute path), the others removed, so that the file
// verifies the server as connect did.
func readConnectTLS(c *cli.Context) (*connectTLS, error) {
	opts := config.Options{File: os.DevNull, Flags: map[string]string{}}
	for _, k := range config.Keys() {
		if !strings.HasPrefix(k.Path, "client.tls_") || !c.IsSet(k.Flag) {
			continue
		}
		if k.Kind == config.ValueBool {
			opts.Flags[k.Flag] = strconv.FormatBool(c.Bool(k.Flag))
		} else {
			opts.Flags[k.Flag] = c.String(k.Flag)
		}
	}
	cfg, err := config.Load(opts)
	if err != nil {
		if config.FromFlag(err) {
			return nil, &usageError{cmd: commandName(c), err: err}
		}
		return nil, err
	}
	cl := cfg.Client
	if cl.TLSCAFile != "" {
		if abs, err := filepath.Abs(cl.TLSCAFile); err == nil {
			cl.TLSCAFile = abs
		}
	}
	tc, err := clientTLSConfig(cl)
	if err != nil {
		return nil, err
	}
	ct := &connectTLS{config: tc, keys: []clientKey{
		{Name: "tls_ca_file", Value: cl.TLSCAFile},
		{Name: "tls_fingerprint", Value: cl.TLSFingerprint},
		{Name: "tls_skip_verify"},
	}}
	if cl.TLSSkipVerify {
		ct.keys[2] = clientKey{Name: "tls_skip_verify", Value: "true", Tag: "!!bool"}
	}
	return ct, nil
}

// removeMappingValue removes key and its value from the mapping m.
func removeMappingValue(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}
