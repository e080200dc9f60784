package bench

import (
	"bytes"
	"cmp"
	"context"
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

// maxAnswer is the largest answer of the REST API the bench reads.
const maxAnswer = 64 << 20

// api calls the origin's REST API with the admin's API token. knot has no
// Go client of the REST API below cmd yet, so the bench keeps this small
// one; its errors read as those of the knot CLI's client.
type api struct {
	base, token, userAgent string
	http                   *http.Client
}

func newAPI(base, token, version string) *api {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 30 * time.Second
	return &api{
		base: strings.TrimRight(base, "/"), token: token, userAgent: "knot/" + version,
		http: &http.Client{Transport: tr, Timeout: time.Minute},
	}
}

// do sends in (nil for none) as JSON to method path and decodes a
// successful answer into out (nil to ignore it). An answer of 400 or more
// is an error with the server's message and the status.
func (c *api) do(ctx context.Context, method, path string, in, out any) error {
	req, err := c.request(ctx, method, path, in)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s did not answer in time", c.base)
	case err != nil:
		return fmt.Errorf("cannot reach %s: %w", c.base, rootCause(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	switch {
	case err != nil:
		return fmt.Errorf("read the answer of %s: %w", c.base, rootCause(err))
	case len(data) > maxAnswer:
		return fmt.Errorf("the answer of %s to %s %s is larger than %d MiB", c.base, method, path, maxAnswer>>20)
	case resp.StatusCode >= 400:
		return answerError(resp.StatusCode, data)
	case out == nil:
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("the answer of %s to %s %s is not the JSON knot expects (is this a knot server?): %v", c.base, method, path, err)
	}
	return nil
}

// request builds a request to method path with the token, and with in as
// its JSON body unless in is nil.
func (c *api) request(ctx context.Context, method, path string, in any) (*http.Request, error) {
	header := http.Header{"Accept": {"application/json"}, "User-Agent": {c.userAgent}, "Authorization": {"Bearer " + c.token}}
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, err
		}
		header.Set("Content-Type", "application/json")
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("request %s %s: %w", method, path, err)
	}
	req.Header = header
	return req, nil
}

// answerError is the error of an answer with status 400 or more: its
// {"error": ...} message, or else the status and the start of a body that
// is not HTML.
func answerError(status int, body []byte) error {
	var answer struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &answer) != nil || answer.Error == "" {
		answer.Error = "the server answered " + cmp.Or(http.StatusText(status), "an error")
		if text := strings.TrimSpace(string(body)); text != "" && text[0] != '<' {
			if len(text) > 200 {
				text = text[:200] + "..."
			}
			answer.Error += ": " + strings.Join(strings.Fields(text), " ")
		}
	}
	return fmt.Errorf("%s (HTTP %d)", answer.Error, status)
}

// rootCause drops what repeats the address from a transport error:
// "Get "http://...": dial tcp 127.0.0.1:1: connect: connection refused"
// becomes "connection refused".
func rootCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Err == nil {
		return err
	}
	var inner interface{ Unwrap() error }
	if errors.As(oe.Err, &inner) && inner.Unwrap() != nil {
		return inner.Unwrap()
	}
	return oe.Err
}
