// Package client is the Go client of knot's REST API, and the one way Go
// code talks to it: the CLI, a leaf forwarding writes to its origin, and
// tests use it.
//
//	c, err := client.New(client.Config{Address: "https://knot.example.com", Token: token})
//	if err != nil {
//		return err
//	}
//	spaces, err := c.Spaces().List(ctx, client.SpaceListOptions{})
//	_, err = c.Spaces().Start(ctx, spaces[0].ID)
//
// As in Nomad's api package, there is one type per resource (c.Users(),
// c.Tokens(), c.Spaces(), c.Templates(), c.TemplateVars(), c.Groups(),
// c.Roles(), c.Auth(), c.Audit(), c.Leaves()), every call takes a context,
// and the requests and answers are the API's own types from shared/api:
// nothing is declared twice.
//
// An answer with a status of 400 or more is a *ResponseError. It unwraps to
// a *shared.Error whose code is that of the status (404 ENOTFOUND, 403
// EFORBIDDEN, 429 ERATELIMIT, ...) and whose message is the server's
// {"error": ...}, so callers test it with shared.ErrorCode or errors.As
// like any other error of knot; the status, the headers, the whole body and
// the Retry-After of a 429 stay reachable on the *ResponseError, and
// Enrolment reads the TOTP secret of a login refused until the user enrols.
// A request that gets no answer is a *TransportError, which is EUNAVAILABLE.
// This mapping of statuses back to codes is the inverse of web's, the only
// other place that knows HTTP statuses.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout bounds one request of a client whose Config gives no
// HTTPClient. Starting a space can take a while (an image pull), so it is
// generous; the context of a call ends it sooner.
const DefaultTimeout = 10 * time.Minute

// MaxAnswer is the largest answer body the client reads.
const MaxAnswer = 64 << 20

// Config says which server a Client talks to and how.
type Config struct {
	// Address is the server's base URL, scheme://host[:port]; a trailing
	// slash is ignored. Required.
	Address string
	// Token is the API token or session secret sent as a Bearer token; ""
	// sends none.
	Token string
	// HTTPClient sends the requests; nil means a client of its own with
	// DefaultTimeout and TLSConfig.
	HTTPClient *http.Client
	// TLSConfig verifies an https server when HTTPClient is nil; nil means
	// the system's roots.
	TLSConfig *tls.Config
	// UserAgent is sent with every request; "" means "knot-client".
	UserAgent string
	// Header holds extra headers sent with every request.
	Header http.Header
}

// Client calls the REST API of one knot server. It is safe for concurrent
// use.
type Client struct {
	base   string
	token  string
	http   *http.Client
	agent  string
	header http.Header
}

// New returns a client for cfg. It starts nothing and sends nothing.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.Address)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("client: address %q is not an http:// or https:// URL", cfg.Address)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		tr.TLSHandshakeTimeout = 30 * time.Second
		tr.TLSClientConfig = cfg.TLSConfig
		hc = &http.Client{Transport: tr, Timeout: DefaultTimeout}
	}
	agent := cfg.UserAgent
	if agent == "" {
		agent = "knot-client"
	}
	return &Client{base: strings.TrimRight(cfg.Address, "/"), token: cfg.Token, http: hc, agent: agent, header: cfg.Header.Clone()}, nil
}

// Address returns the server's base URL, without a trailing slash.
func (c *Client) Address() string { return c.base }

// HTTPClient returns the *http.Client that sends the requests.
func (c *Client) HTTPClient() *http.Client { return c.http }

// WithToken returns a client for the same server that sends token.
func (c *Client) WithToken(token string) *Client {
	n := *c
	n.token = token
	return &n
}

// Do sends a request with in (nil for none) as its JSON body and decodes a
// successful JSON answer into out (nil to ignore it). path starts with a
// slash and carries any query. The typed methods of the resources are
// built on it; it serves routes they do not know yet.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	resp, data, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("the answer of %s to %s %s is not the JSON knot expects (is this a knot server?): %v", c.base, method, path, err)
	}
	return nil
}

func (c *Client) request(ctx context.Context, method, path string, in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("client: encode the body of %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("request %s %s: %w", method, path, err)
	}
	for k, v := range c.header {
		req.Header[k] = append([]string(nil), v...)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.agent)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// send sends a request and reads its whole answer; a status of 400 or more
// is a *ResponseError.
func (c *Client) send(ctx context.Context, method, path string, in any) (*http.Response, []byte, error) {
	req, err := c.request(ctx, method, path, in)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	if err != nil {
		return nil, nil, &TransportError{Address: c.base, Err: err, what: "cannot read the whole answer"}
	}
	if len(data) > MaxAnswer {
		return nil, nil, fmt.Errorf("the answer of %s to %s %s is larger than %d MiB", c.base, method, path, MaxAnswer>>20)
	}
	if resp.StatusCode >= 400 {
		return nil, nil, newResponseError(resp, data)
	}
	return resp, data, nil
}

// transportError describes a request that got no answer. A cancelled
// context is returned as it is: a stop, not a failure.
func (c *Client) transportError(ctx context.Context, err error) error {
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return ctx.Err()
	}
	return &TransportError{Address: c.base, Err: err}
}

// esc escapes one path segment.
func esc(s string) string { return url.PathEscape(s) }
