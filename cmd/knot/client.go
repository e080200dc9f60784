package main

import (
	"bytes"
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

// requestTimeout bounds one REST request. Starting a space can take a while
// (an image pull), so it is generous; Ctrl-C ends a request sooner.
const requestTimeout = 10 * time.Minute

// maxResponse is the largest response body the client reads.
const maxResponse = 64 << 20

// apiClient calls the REST API of one knot server.
type apiClient struct {
	base  string // scheme://host[:port], without a trailing slash
	token string // API token or session secret sent as Bearer; "" for none
	http  *http.Client
}

func newAPIClient(base, token string) *apiClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 30 * time.Second
	return &apiClient{
		base:  strings.TrimRight(base, "/"),
		token: token,
		http:  &http.Client{Transport: tr, Timeout: requestTimeout},
	}
}

// apiError is an error answer of the server: its {"error": ...} message, or
// a description of a body that carried none, and the HTTP status.
type apiError struct {
	Status  int
	Message string
	Body    []byte // the whole answer
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// errorFromResponse builds the apiError of a response with a status of 400
// or more, whose body is body.
func errorFromResponse(status int, body []byte) *apiError {
	var eb struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
		return &apiError{Status: status, Message: eb.Error, Body: body}
	}
	msg := "the server answered " + http.StatusText(status)
	if msg == "the server answered " {
		msg = "the server answered an error"
	}
	if text := strings.TrimSpace(string(body)); text != "" && !strings.HasPrefix(text, "<") {
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		msg += ": " + strings.Join(strings.Fields(text), " ")
	}
	return &apiError{Status: status, Message: msg, Body: body}
}

// do sends a request with in (nil for none) as its JSON body and decodes a
// successful JSON answer into out (nil to ignore it). An answer with a status
// of 400 or more is an *apiError.
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("request %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "knot/"+version)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("read the answer of %s: %w", c.base, c.unwrapURLError(err))
	}
	if len(data) > maxResponse {
		return fmt.Errorf("the answer of %s to %s %s is larger than %d MiB", c.base, method, path, maxResponse>>20)
	}
	if resp.StatusCode >= 400 {
		return errorFromResponse(resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("the answer of %s to %s %s is not the JSON knot expects (is this a knot server?): %v", c.base, method, path, err)
	}
	return nil
}

// transportError describes a request that got no answer.
func (c *apiClient) transportError(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s did not answer in time", c.base)
	}
	return fmt.Errorf("cannot reach %s: %w%s", c.base, c.unwrapURLError(err), tlsHint(err))
}

// unwrapURLError drops the "Get "http://...":" prefix of a *url.Error,
// which repeats the address.
func (c *apiClient) unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		// "dial tcp 127.0.0.1:1: connect: connection refused" → "connection refused"
		var se interface{ Unwrap() error }
		if errors.As(oe.Err, &se) && se.Unwrap() != nil {
			return se.Unwrap()
		}
		return oe.Err
	}
	return err
}

// escape escapes one path segment.
func escape(s string) string { return url.PathEscape(s) }

// The API's shapes, as far as the client reads them.

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	TOTPCode string `json:"totp_code,omitempty"`
}

type loginResponse struct {
	Token string `json:"token"`
}

type tokenRequest struct {
	Name      string `json:"name"`
	ExpiresAt string `json:"expires_at,omitempty"`
}

type tokenInfo struct {
	ID        string     `json:"token_id"`
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at"`
}

type tokenResponse struct {
	TokenID string `json:"token_id"`
	Token   string `json:"token"`
}

type whoAmI struct {
	ID       string `json:"user_id"`
	Username string `json:"username"`
	Email    string `json:"email"`
}

type spaceInfo struct {
	ID              string `json:"space_id"`
	Name            string `json:"name"`
	Description     string `json:"description"`
	TemplateID      string `json:"template_id"`
	TemplateName    string `json:"template_name"`
	Location        string `json:"location"`
	Shell           string `json:"shell"`
	State           string `json:"state"`
	Reason          string `json:"reason"`
	UpdateAvailable bool   `json:"update_available"`
}

type spaceList struct {
	Spaces []spaceInfo `json:"spaces"`
}

type spaceCreateRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	TemplateID  string `json:"template_id"`
	Shell       string `json:"shell,omitempty"`
}

type spaceCreated struct {
	SpaceID    string `json:"space_id"`
	AgentToken string `json:"agent_token"`
}

type spaceActionResponse struct {
	State  string `json:"state"`
	Reason string `json:"reason"`
}

type logLines struct {
	Lines []string `json:"lines"`
}

// templateInfo is a template as the API lists it; Spec and Volumes are only
// in the answer of GET /api/templates/{id}.
type templateInfo struct {
	ID           string   `json:"template_id"`
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	Kind         string   `json:"kind"`
	Spec         string   `json:"spec"`
	Volumes      string   `json:"volumes"`
	Groups       []string `json:"groups"`
	Locations    []string `json:"locations"`
	ComputeUnits int      `json:"compute_units"`
	StorageUnits int      `json:"storage_units"`
	WithTerminal bool     `json:"with_terminal"`
	WithSSH      bool     `json:"with_ssh"`
	Usage        int      `json:"usage"`
	Deployed     int      `json:"deployed"`
}

type templateList struct {
	Templates []templateInfo `json:"templates"`
}

// templateRequest creates or replaces a template: every field is sent.
type templateRequest struct {
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	Kind         string   `json:"kind"`
	Spec         string   `json:"spec"`
	Volumes      string   `json:"volumes"`
	Groups       []string `json:"groups"`
	Locations    []string `json:"locations"`
	ComputeUnits int      `json:"compute_units"`
	StorageUnits int      `json:"storage_units"`
	WithTerminal bool     `json:"with_terminal"`
	WithSSH      bool     `json:"with_ssh"`
}

type groupInfo struct {
	ID   string `json:"group_id"`
	Name string `json:"name"`
}

type groupList struct {
	Groups []groupInfo `json:"groups"`
}

// findSpace returns the caller's space named name: an exact match, else the
// one match ignoring case. Names are unique per location, so a name held at
// several locations must be given as NAME@LOCATION.
func (c *apiClient) findSpace(ctx context.Context, name string) (*spaceInfo, error) {
	var l spaceList
	if err := c.do(ctx, http.MethodGet, "/api/spaces", nil, &l); err != nil {
		return nil, err
	}
	name, location, _ := strings.Cut(name, "@")
	var exact, fold []*spaceInfo
	for i := range l.Spaces {
		sp := &l.Spaces[i]
		if location != "" && !strings.EqualFold(sp.Location, location) {
			continue
		}
		if sp.Name == name {
			exact = append(exact, sp)
		} else if strings.EqualFold(sp.Name, name) {
			fold = append(fold, sp)
		}
	}
	found := exact
	if len(found) == 0 {
		found = fold
	}
	switch len(found) {
	case 0:
		if location != "" {
			return nil, fmt.Errorf("you have no space named %q at location %q (knot space list shows your spaces)", name, location)
		}
		return nil, fmt.Errorf("you have no space named %q (knot space list shows your spaces)", name)
	case 1:
		return found[0], nil
	}
	var at []string
	for _, sp := range found {
		at = append(at, sp.Location)
	}
	return nil, fmt.Errorf("you have a space named %q at each of %s: name one as %s@LOCATION", name, strings.Join(at, ", "), name)
}

// templates lists the templates the caller may see.
func (c *apiClient) templates(ctx context.Context) ([]templateInfo, error) {
	var l templateList
	if err := c.do(ctx, http.MethodGet, "/api/templates", nil, &l); err != nil {
		return nil, err
	}
	return l.Templates, nil
}

// findTemplate returns the template named name among ts, or nil.
func findTemplate(ts []templateInfo, name string) *templateInfo {
	var fold *templateInfo
	for i := range ts {
		if ts[i].Name == name {
			return &ts[i]
		}
		if strings.EqualFold(ts[i].Name, name) {
			fold = &ts[i]
		}
	}
	return fold
}

// groups lists every group.
func (c *apiClient) groups(ctx context.Context) ([]groupInfo, error) {
	var l groupList
	if err := c.do(ctx, http.MethodGet, "/api/groups", nil, &l); err != nil {
		return nil, err
	}
	return l.Groups, nil
}
