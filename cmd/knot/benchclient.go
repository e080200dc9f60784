package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"

	"github.com/knot-dev/knot/shared/client"
)

// apiClient is what knot bench (bench.go) calls the origin's REST API
// through: shared/client's raw calls, and its *http.Client for /metrics.
type apiClient struct {
	c    *client.Client
	err  error // of client.New: every call returns it
	http *http.Client
}

func newAPIClient(base, token string) *apiClient {
	hc := &http.Client{Timeout: requestTimeout}
	c, err := client.New(client.Config{Address: base, Token: token, HTTPClient: hc, UserAgent: "knot/" + version})
	return &apiClient{c: c, err: err, http: hc}
}

// do is client.Client.Do.
func (a *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	if a.err != nil {
		return a.err
	}
	return a.c.Do(ctx, method, path, in, out)
}

// unwrapURLError drops the "Get "http://...":" prefix of a *url.Error,
// which repeats the address.
func (a *apiClient) unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// escape escapes one path segment.
func escape(s string) string { return url.PathEscape(s) }
