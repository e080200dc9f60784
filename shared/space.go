package shared

import (
	"strings"
	"time"
)

// SpaceState is where a space is in its lifecycle.
type SpaceState string

const (
	SpacePending  SpaceState = "pending"
	SpaceStarting SpaceState = "starting"
	SpaceRunning  SpaceState = "running"
	SpaceStopping SpaceState = "stopping"
	SpaceStopped  SpaceState = "stopped"
	SpaceDeleting SpaceState = "deleting"
	SpaceFailed   SpaceState = "failed"
)

// Space is a development environment of one user, owned by the leaf of its
// Location. AgentTokenHash is the hex SHA-256 of the per-space agent token.
type Space struct {
	Meta
	UserID         string     `json:"user_id"`
	TemplateID     string     `json:"template_id"`
	Name           string     `json:"name"`
	Description    string     `json:"description"`
	Location       string     `json:"location"`
	Shell          string     `json:"shell"`
	State          SpaceState `json:"state"`
	Reason         string     `json:"reason,omitempty"`
	TemplateHash   string     `json:"template_hash"`
	ContainerID    string     `json:"container_id,omitempty"`
	AgentTokenHash string     `json:"agent_token_hash,omitempty"`
	StartedAt      *time.Time `json:"started_at,omitempty"`
	// SSHHostKey is the space's SSH host key (OpenSSH PEM) and
	// SSHHostPublic its public key, in authorized_keys form; knot makes
	// them once.
	SSHHostKey    string `json:"ssh_host_key,omitempty"`
	SSHHostPublic string `json:"ssh_host_public,omitempty"`
}

func (*Space) RecordKind() Kind { return KindSpace }

// UniqueKeys makes a space's name unique per user and location: a leaf
// names its spaces while the origin may be out of reach, so it cannot know
// the names taken at other locations at that moment.
func (s *Space) UniqueKeys() []string {
	return []string{"name:" + s.UserID + "/" + strings.ToLower(s.Location) + "/" + strings.ToLower(s.Name)}
}

// Deployed reports whether the space holds runtime resources that must be
// stopped before it can be changed or deleted.
func (s *Space) Deployed() bool {
	switch s.State {
	case SpaceStarting, SpaceRunning, SpaceStopping:
		return true
	}
	return false
}

// AuditEvent is one entry of the audit log: a write or a login attempt.
type AuditEvent struct {
	ID         int64             `json:"id"`
	At         time.Time         `json:"at"`
	Actor      string            `json:"actor"`
	ActorType  string            `json:"actor_type"`
	Event      string            `json:"event"`
	Details    string            `json:"details"`
	Location   string            `json:"location"`
	Properties map[string]string `json:"properties,omitempty"`
}

// Valid reports whether s is one of the states of a space.
func (s SpaceState) Valid() bool {
	switch s {
	case SpacePending, SpaceStarting, SpaceRunning, SpaceStopping, SpaceStopped, SpaceDeleting, SpaceFailed:
		return true
	}
	return false
}
