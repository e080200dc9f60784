package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/coder/websocket"

	"github.com/knot-dev/knot/shared/api"
)

// Terminals lists the terminal sessions a space's agent keeps (GET
// /api/spaces/{space_id}/terminal without an upgrade).
func (s *Spaces) Terminals(ctx context.Context, id string) ([]api.TerminalSession, error) {
	var out api.TerminalSessions
	if err := s.c.Do(ctx, http.MethodGet, "/api/spaces/"+esc(id)+"/terminal", nil, &out); err != nil {
		return nil, err
	}
	return out.Sessions, nil
}

// AgentToken makes a new agent token for a manual space and returns it with
// the agent's environment (POST /api/spaces/{space_id}/agent-token). An
// agent linked with the token before is cut.
func (s *Spaces) AgentToken(ctx context.Context, id string) (*api.AgentToken, error) {
	var out api.AgentToken
	return &out, s.c.Do(ctx, http.MethodPost, "/api/spaces/"+esc(id)+"/agent-token", nil, &out)
}

// OutdatedAgents lists the spaces of the server's location whose connected
// agent runs another version than the server (GET /api/agents/outdated):
// every space for a user with Manage Spaces, else the caller's own.
func (c *Client) OutdatedAgents(ctx context.Context) (*api.OutdatedAgents, error) {
	var out api.OutdatedAgents
	return &out, c.Do(ctx, http.MethodGet, "/api/agents/outdated", nil, &out)
}

// MaxTerminalMessage is the largest message of a terminal websocket read.
const MaxTerminalMessage = 1 << 20

// Terminal opens a terminal in a space (GET /api/spaces/{space_id}/terminal
// as a websocket); ctx bounds the dial only. query holds attach=ID to
// reattach to a kept session, cols and rows, cmd (repeated) for a program
// in place of a login shell, and pty=0 for no terminal. Binary messages
// carry output and input; text messages are api.TerminalMessage. The
// caller closes the connection.
func (s *Spaces) Terminal(ctx context.Context, id string, query url.Values) (*websocket.Conn, error) {
	path := "/api/spaces/" + esc(id) + "/terminal"
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	conn, err := s.c.dial(ctx, path, "cannot open the terminal")
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(MaxTerminalMessage)
	return conn, nil
}
