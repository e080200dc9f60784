package main

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/knot-dev/knot/shared/client"
	"github.com/knot-dev/knot/shared/config"
)

// logLevelFlag is knot's global --log-level, as the predecessor had it: it
// sets log.level for whatever command follows (knot --log-level debug
// server), unless the command is given its own --log-level. Client commands
// log each request at debug.
var logLevelFlag = &cli.StringFlag{
	Name:  "log-level",
	Usage: "log level of the command: debug, info, warn or error (default: log.level, else info); at debug, client commands log each request",
}

// setGlobalLogLevel adds knot's --log-level to the flags config.Load
// reads, when it was given and the command was not given its own.
func setGlobalLogLevel(c *cli.Context, flags map[string]string) {
	if _, own := flags[logLevelFlag.Name]; own {
		return
	}
	// The command's parents, up to the app's context.
	for _, cc := range c.Lineage()[1:] {
		if cc.IsSet(logLevelFlag.Name) {
			flags[logLevelFlag.Name] = cc.String(logLevelFlag.Name)
			return
		}
	}
}

// newConfiguredClient returns a client for the server of cfg that sends
// token and verifies the server with tc; at log level debug it logs each
// request, its status and how long it took on the command's error stream.
func newConfiguredClient(c *cli.Context, cfg *config.Config, token string, tc *tls.Config) (*client.Client, error) {
	if cfg.Log.SlogLevel() > slog.LevelDebug {
		return newClient(cfg.Client.Server, token, tc)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 30 * time.Second
	tr.TLSClientConfig = tc
	hc := &http.Client{Transport: &loggingTransport{next: tr, log: newLogger(c.App.ErrWriter, cfg)}, Timeout: client.DefaultTimeout}
	return client.New(client.Config{Address: cfg.Client.Server, Token: token, HTTPClient: hc, UserAgent: "knot/" + version})
}

// loggingTransport logs each request it sends at debug.
type loggingTransport struct {
	next http.RoundTripper
	log  *slog.Logger
}

func (t *loggingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	took := time.Since(start).Round(time.Microsecond)
	if err != nil {
		t.log.Debug("request failed", "method", req.Method, "url", req.URL.Redacted(), "took", took, "err", err)
		return nil, err
	}
	t.log.Debug("request", "method", req.Method, "url", req.URL.Redacted(), "status", resp.StatusCode, "took", took)
	return resp, nil
}
