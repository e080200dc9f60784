package api

import "time"

// SpaceAgent is what the API says of a space's agent.
type SpaceAgent struct {
	Connected bool       `json:"connected"`
	Version   string     `json:"version,omitempty"`
	LastSeen  *time.Time `json:"last_seen,omitempty"`
	// Outdated is true when the connected agent's version differs from
	// the server's.
	Outdated bool `json:"outdated"`
	// Stale is true when the server that tells of the agent of a space of
	// another location lost the link that brings it news (a leaf its
	// origin, or the origin that location's leaf): connected is then
	// false, and version and last_seen are the last it heard.
	Stale bool `json:"stale,omitempty"`
}

// OutdatedAgent is a space whose connected agent runs another version than
// its server.
type OutdatedAgent struct {
	SpaceID       string `json:"space_id"`
	Name          string `json:"name"`
	UserID        string `json:"user_id"`
	Username      string `json:"username"`
	Location      string `json:"location"`
	AgentVersion  string `json:"agent_version"`
	ServerVersion string `json:"server_version"`
}

// OutdatedAgents is the answer of GET /api/agents/outdated.
type OutdatedAgents struct {
	Count  int             `json:"count"`
	Agents []OutdatedAgent `json:"agents"`
}

// AgentToken is the answer of POST /api/spaces/{space_id}/agent-token: a
// manual space's new agent credential, shown once.
type AgentToken struct {
	SpaceID string `json:"space_id"`
	Token   string `json:"token"`
	// Env is the agent's environment (KNOT_AGENT_ENDPOINT, KNOT_SPACE_ID,
	// KNOT_AGENT_TOKEN, KNOT_AGENT_FINGERPRINT): knot agent reads it.
	Env map[string]string `json:"env"`
}

// TerminalSession is one terminal session a space's agent keeps.
type TerminalSession struct {
	ID string `json:"id"`
	// Shell is what the session runs: the path of the shell the agent
	// found (another than the one asked for when that one is not in the
	// image), or a command's words.
	Shell   string    `json:"shell"`
	Created time.Time `json:"created"`
	Viewers int       `json:"viewers"`
	// Idle is when the last viewer left; zero while someone watches.
	Idle time.Time `json:"idle,omitzero"`
}

// TerminalSessions is the answer of GET /api/spaces/{space_id}/terminal
// without a websocket upgrade.
type TerminalSessions struct {
	Sessions []TerminalSession `json:"sessions"`
}

// TerminalMessage is a text message of the terminal websocket (GET
// /api/spaces/{space_id}/terminal). The server sends {"type":"session",
// "id":ID} first and {"type":"exit","code":N,"reason":R} at the end; the
// client sends {"type":"resize","cols":C,"rows":R} and {"type":"eof"}.
// Binary messages carry the terminal's output and input.
type TerminalMessage struct {
	Type   string `json:"type"`
	ID     string `json:"id,omitempty"`
	Cols   uint16 `json:"cols,omitempty"`
	Rows   uint16 `json:"rows,omitempty"`
	Code   *int   `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
}
