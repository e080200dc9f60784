package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/wire"
)

// Spaces calls /api/spaces.
type Spaces struct{ c *Client }

// Spaces returns the calls on spaces.
func (c *Client) Spaces() *Spaces { return &Spaces{c} }

// SpaceListOptions chooses whose spaces List lists: the zero value lists
// the caller's. Both others need the Manage Spaces permission.
type SpaceListOptions struct {
	UserID string // the spaces of this user
	All    bool   // everyone's spaces
	// Query, State and Location keep the spaces whose name, description,
	// owner or template holds Query (ignoring case), in State, at Location.
	Query, State, Location string
}

// List lists spaces (GET /api/spaces).
func (s *Spaces) List(ctx context.Context, opts SpaceListOptions) ([]api.Space, error) {
	q := url.Values{}
	if opts.UserID != "" {
		q.Set("user_id", opts.UserID)
	}
	if opts.All {
		q.Set("all", "true")
	}
	for k, v := range map[string]string{"q": opts.Query, "state": opts.State, "location": opts.Location} {
		if v != "" {
			q.Set(k, v)
		}
	}
	path := "/api/spaces"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out api.SpaceList
	if err := s.c.Do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return out.Spaces, nil
}

// Get returns one space (GET /api/spaces/{space_id}).
func (s *Spaces) Get(ctx context.Context, id string) (*api.Space, error) {
	var out api.Space
	return &out, s.c.Do(ctx, http.MethodGet, "/api/spaces/"+esc(id), nil, &out)
}

// Create creates a space, stopped, and returns its id and agent token
// (POST /api/spaces).
func (s *Spaces) Create(ctx context.Context, req api.SpaceCreateRequest) (*api.SpaceCreated, error) {
	var out api.SpaceCreated
	return &out, s.c.Do(ctx, http.MethodPost, "/api/spaces", req, &out)
}

// Update changes the fields of req that are not nil (PUT
// /api/spaces/{space_id}).
func (s *Spaces) Update(ctx context.Context, id string, req api.SpaceUpdateRequest) error {
	return s.c.Do(ctx, http.MethodPut, "/api/spaces/"+esc(id), req, nil)
}

// Delete deletes a space (DELETE /api/spaces/{space_id}).
func (s *Spaces) Delete(ctx context.Context, id string) error {
	return s.c.Do(ctx, http.MethodDelete, "/api/spaces/"+esc(id), nil, nil)
}

// Start starts a space and returns its state after (POST
// /api/spaces/{space_id}/start).
func (s *Spaces) Start(ctx context.Context, id string) (*api.SpaceAction, error) {
	var out api.SpaceAction
	return &out, s.c.Do(ctx, http.MethodPost, "/api/spaces/"+esc(id)+"/start", nil, &out)
}

// Stop stops a space and returns its state after (POST
// /api/spaces/{space_id}/stop).
func (s *Spaces) Stop(ctx context.Context, id string) (*api.SpaceAction, error) {
	var out api.SpaceAction
	return &out, s.c.Do(ctx, http.MethodPost, "/api/spaces/"+esc(id)+"/stop", nil, &out)
}

// Logs returns the recent lines of a space's log, oldest first (GET
// /api/spaces/{space_id}/logs).
func (s *Spaces) Logs(ctx context.Context, id string) (*api.SpaceLogs, error) {
	var out api.SpaceLogs
	return &out, s.c.Do(ctx, http.MethodGet, "/api/spaces/"+esc(id)+"/logs", nil, &out)
}

// LogStream opens the live log of a space (GET
// /api/spaces/{space_id}/logs/stream, a websocket): the recent lines come
// first, then new ones as the space writes them. The caller reads it with
// Next and closes it.
func (s *Spaces) LogStream(ctx context.Context, id string) (*LogStream, error) {
	conn, err := s.c.dial(ctx, "/api/spaces/"+esc(id)+"/logs/stream", "cannot open the log stream")
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(maxLogMessage)
	return &LogStream{conn: conn}, nil
}

// dial opens the websocket at path, sending the client's token and
// headers. ctx bounds the dial only. A refusal is a *ResponseError as for
// any other call; no answer is a *TransportError whose message starts with
// what could not be done (e.g. "cannot open the log stream").
func (c *Client) dial(ctx context.Context, path, what string) (*websocket.Conn, error) {
	hdr := http.Header{}
	for k, v := range c.header {
		hdr[k] = append([]string(nil), v...)
	}
	hdr.Set("User-Agent", c.agent)
	if c.token != "" {
		hdr.Set("Authorization", "Bearer "+c.token)
	}
	dial := *c.http
	dial.Timeout = 0 // the stream lasts; ctx bounds the dial
	dial.Transport = frameBuffering{dial.Transport}
	conn, resp, err := websocket.Dial(ctx, c.base+path, &websocket.DialOptions{HTTPClient: &dial, HTTPHeader: hdr})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if resp != nil && resp.StatusCode >= 400 {
			var body []byte
			if resp.Body != nil {
				body, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			}
			return nil, newResponseError(resp, body)
		}
		return nil, &TransportError{Address: c.base, Err: err, what: what}
	}
	return conn, nil
}

// maxLogMessage is the largest message of a log stream read.
const maxLogMessage = 1 << 20

// LogStream is the open live log of a space.
type LogStream struct{ conn *websocket.Conn }

// Next returns the lines of the next message, waiting for it until ctx
// ends. When the server ends the stream (the space was deleted, or the
// server shuts down), the error is a websocket.CloseError with its reason.
func (l *LogStream) Next(ctx context.Context) ([]string, error) {
	_, data, err := l.conn.Read(ctx)
	if err != nil {
		return nil, err
	}
	return messageLines(data), nil
}

// Close ends the stream with a normal closure.
func (l *LogStream) Close() error { return l.conn.Close(websocket.StatusNormalClosure, "") }

// CloseNow ends the stream at once, without a closing handshake.
func (l *LogStream) CloseNow() error { return l.conn.CloseNow() }

// messageLines returns the lines of one log stream message: a JSON
// api.LogLine (its "line"), an object {"lines": [...]}, or plain text.
func messageLines(data []byte) []string {
	if len(data) > 0 && data[0] == '{' {
		var m struct {
			Line  *string  `json:"line"`
			Lines []string `json:"lines"`
		}
		if json.Unmarshal(data, &m) == nil && (m.Line != nil || m.Lines != nil) {
			if m.Line != nil {
				return append([]string{*m.Line}, m.Lines...)
			}
			return m.Lines
		}
	}
	if len(data) == 0 {
		return nil
	}
	return []string{string(data)}
}

// frameBuffering is the transport of a websocket's handshake: the
// connection it hands the websocket library writes each frame with one
// call (wire.FrameBuffer), not each 4 KiB of it.
type frameBuffering struct{ http.RoundTripper }

func (t frameBuffering) RoundTrip(r *http.Request) (*http.Response, error) {
	rt := t.RoundTripper
	if rt == nil {
		rt = http.DefaultTransport
	}
	resp, err := rt.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		return resp, err
	}
	if rwc, ok := resp.Body.(io.ReadWriteCloser); ok {
		resp.Body = framedBody{rwc, wire.NewFrameBuffer(rwc)}
	}
	return resp, nil
}

// framedBody is the connection of an upgraded response, written through a
// wire.FrameBuffer.
type framedBody struct {
	io.ReadWriteCloser
	w io.Writer
}

func (b framedBody) Write(p []byte) (int, error) { return b.w.Write(p) }
