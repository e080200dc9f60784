package api

import (
	"time"

	"github.com/knot-dev/knot/shared"
)

// Space is a space as the API shows it.
type Space struct {
	ID              string            `json:"space_id"`
	Name            string            `json:"name"`
	Description     string            `json:"description"`
	UserID          string            `json:"user_id"`
	Username        string            `json:"username"`
	TemplateID      string            `json:"template_id"`
	TemplateName    string            `json:"template_name"`
	Location        string            `json:"location"`
	Shell           string            `json:"shell"`
	State           shared.SpaceState `json:"state"`
	Reason          string            `json:"reason"`
	IsDeployed      bool              `json:"is_deployed"`
	UpdateAvailable bool              `json:"update_available"`
	StartedAt       *time.Time        `json:"started_at,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	// HTTPPorts are the web ports of the space's template, served at
	// /proxy/spaces/{space_id}/ports/{port}/ and on the wildcard domain.
	HTTPPorts []shared.HTTPPort `json:"http_ports"`
	// WithTerminal and WithSSH say whether the space's template lets
	// terminals and SSH in (its with_terminal and with_ssh); a way it
	// turns off is refused with 403, and the UI offers none.
	WithTerminal bool `json:"with_terminal"`
	WithSSH      bool `json:"with_ssh"`
	// Agent is set for a space of this location, and on an origin for a
	// space of a leaf that reported its agent (its last_seen then at most
	// a minute old while it is connected).
	Agent *SpaceAgent `json:"agent,omitempty"`
	// SSHHostKey is the SSH host key the space presents now, in
	// authorized_keys form, for known_hosts: that of the image's own sshd
	// when its agent reported one, else the space's own.
	SSHHostKey string `json:"ssh_host_key,omitempty"`
	// SSHHostKeys, set while the image's own sshd serves the space's SSH,
	// are every host key the space may present: the sshd's, then the
	// space's own, which the agent presents when no sshd answers.
	SSHHostKeys []string `json:"ssh_host_keys,omitempty"`
	// Reachable is false when this server cannot reach the space's
	// location now (on an origin, no leaf of that location is connected;
	// on a leaf, the origin is unreachable), and UnreachableReason says
	// why: the space's state is then the last one reported, and actions
	// on it fail until the location is back. It stays last: the list
	// encoder (web/spacelistagents.go) rewrites it in cached entries.
	Reachable         bool   `json:"reachable"`
	UnreachableReason string `json:"unreachable_reason,omitempty"`
}

// SpaceList is the answer of GET /api/spaces.
type SpaceList struct {
	Count int `json:"count"`
	// Total is the number of spaces the query selected before paging, and
	// States how many of them are in each state when the state filter is
	// left out.
	Total  int                       `json:"total"`
	States map[shared.SpaceState]int `json:"states"`
	Spaces []Space                   `json:"spaces"`
}

// SpaceCreateRequest is the body of POST /api/spaces.
type SpaceCreateRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	TemplateID  string `json:"template_id"`
	Shell       string `json:"shell"`    // "": the owner's preferred shell, else bash
	UserID      string `json:"user_id"`  // "": the caller
	Location    string `json:"location"` // "": this server's location
}

// SpaceCreated is the answer of POST /api/spaces.
type SpaceCreated struct {
	Status  bool   `json:"status"`
	SpaceID string `json:"space_id"`
	// AgentToken is the space's agent credential, shown once; the store
	// keeps only its hash.
	AgentToken string `json:"agent_token"`
}

// SpaceUpdateRequest is the body of PUT /api/spaces/{space_id}: nil fields
// stay as they are.
type SpaceUpdateRequest struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Shell       *string `json:"shell"`
}

// SpaceAction is the answer of POST /api/spaces/{space_id}/start and
// /stop: the space's state after the action.
type SpaceAction struct {
	Status bool              `json:"status"`
	State  shared.SpaceState `json:"state"`
	Reason string            `json:"reason"`
}

// LogLine is one line of a space's log.
type LogLine struct {
	At    time.Time `json:"at"`
	Level string    `json:"level"` // "info" or "error"
	Text  string    `json:"text"`
	// Line is At, Level and Text on one line, for clients that print it.
	Line string `json:"line"`
}

// SpaceLogs is the answer of GET /api/spaces/{space_id}/logs, oldest first.
type SpaceLogs struct {
	Lines   []string  `json:"lines"`
	Entries []LogLine `json:"entries"`
}
