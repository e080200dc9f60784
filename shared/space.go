package shared

import (
	"context"
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
	// SSHDHostKeys are the host keys of the image's own sshd, in
	// authorized_keys form, as the space's agent last reported them; none
	// when it runs none. While it has them, that sshd serves the space's
	// SSH, and they are the keys clients see (HostKeys).
	SSHDHostKeys []string `json:"sshd_host_keys,omitempty"`
}

// HostKeys returns the SSH host keys the space may present, the one it
// presents now first: the image's own sshd's, when its agent reported
// them, then the space's own, which the agent presents when no sshd
// answers. knot ssh-config writes them all.
func (s *Space) HostKeys() []string {
	keys := append([]string(nil), s.SSHDHostKeys...)
	if s.SSHHostPublic != "" {
		keys = append(keys, s.SSHHostPublic)
	}
	return keys
}

// HostKey returns the SSH host key the space presents now (the first of
// HostKeys), "" when it has none yet.
func (s *Space) HostKey() string {
	if len(s.SSHDHostKeys) > 0 {
		return s.SSHDHostKeys[0]
	}
	return s.SSHHostPublic
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

// SpaceStates are the states of a space, in lifecycle order.
var SpaceStates = []SpaceState{SpacePending, SpaceStarting, SpaceRunning, SpaceStopping, SpaceStopped, SpaceDeleting, SpaceFailed}

// Valid reports whether s is one of the states of a space.
func (s SpaceState) Valid() bool {
	switch s {
	case SpacePending, SpaceStarting, SpaceRunning, SpaceStopping, SpaceStopped, SpaceDeleting, SpaceFailed:
		return true
	}
	return false
}

// SpaceService manages spaces: their records, their lifecycle on the
// runtimes of their location, and their logs. Every method acts for the
// actor in ctx (ActorFrom) and fails with EUNAUTHORIZED when there is none.
// A space is visible to its owner and to holders of Manage Spaces; to
// anyone else it does not exist (ENOTFOUND). A leaf implements it over its
// runtimes for its own location; an origin runs its own location's spaces
// with the same implementation and asks the leaf of another location to
// act on that location's spaces with a command.
type SpaceService interface {
	// List returns the spaces f selects with their owners and templates,
	// searched, filtered, sorted and paged as f.ListOptions say, with their
	// total and their count per state. EFORBIDDEN without Manage Spaces for
	// All or another user's spaces; ENOTFOUND when f.UserID names no user;
	// EINVALID for a state that is none, or options out of range.
	List(ctx context.Context, f SpaceFilter) (*SpaceList, error)

	// Get returns the space with id. ENOTFOUND if there is none, or the
	// actor may not see it.
	Get(ctx context.Context, id string) (*Space, error)

	// Create creates the space n describes, stopped, and returns it with
	// its owner and the secret of its agent token (shown once). EINVALID when a field is
	// missing or invalid, the owner is unknown or inactive, the template
	// unknown, or the location one the template or this server cannot
	// serve; EFORBIDDEN for another user's space without Manage Spaces, a
	// template the owner's groups may not use, or another user's
	// restricted location; EQUOTA past the owner's space quota (decided in
	// one store transaction with the write); ECONFLICT when the owner has a
	// space of that name at the location; EUNAVAILABLE when no location can
	// run the template ("auto") or the location's leaf is not connected.
	Create(ctx context.Context, n NewSpace) (*CreatedSpace, error)

	// Update changes the fields of the space with id that upd sets and
	// returns it as stored. ENOTFOUND as Get; EINVALID for an invalid
	// field; ELOCKED when renaming a deployed space; ECONFLICT when the
	// owner has a space of the new name at the location, or the space
	// belongs to another location, whose leaf owns its record.
	Update(ctx context.Context, id string, upd SpaceUpdate) (*Space, error)

	// Delete stops the space with id if needed, removes what its runtime
	// holds of it and its record, and returns it as it was. ENOTFOUND as
	// Get; ECONFLICT for a space of another location this server cannot
	// command; EUNAVAILABLE when its runtime or its location's leaf cannot
	// be reached (the space is then left deleting, with the reason).
	Delete(ctx context.Context, id string) (*Space, error)

	// Start starts the space with id and returns it as it is afterwards
	// (running, starting, or failed with a reason). A space that is not
	// deployed counts its template's compute units against the owner's
	// quota: EQUOTA past it (decided in one store transaction that claims
	// the units). ENOTFOUND as Get; ELOCKED while it is being deleted;
	// ECONFLICT and EUNAVAILABLE as Delete; a runtime's error otherwise.
	Start(ctx context.Context, id string) (*Space, error)

	// Stop stops the space with id and returns it as it is afterwards.
	// ENOTFOUND as Get; ELOCKED while it is being deleted; ECONFLICT and
	// EUNAVAILABLE as Delete.
	Stop(ctx context.Context, id string) (*Space, error)

	// Logs returns the log of the space with id, oldest line first, and
	// with follow also a channel of the lines that follow and the cancel
	// that ends it (the channel is closed then, or when the space is
	// deleted). ENOTFOUND as Get, or when this server keeps no space logs;
	// ECONFLICT for a space of another location, which keeps its logs.
	Logs(ctx context.Context, id string, follow bool) ([]SpaceLogEntry, <-chan SpaceLogEntry, func(), error)
}

// SpaceFilter selects the spaces SpaceService.List returns.
type SpaceFilter struct {
	// UserID selects the spaces of this user; "" means the actor's own.
	UserID string
	// All selects every user's spaces (Manage Spaces).
	All bool
	// Visible selects every space the actor may see: everyone's with
	// Manage Spaces, else their own. It overrides UserID and All.
	Visible bool
	// ListOptions search (name, description, owner's username, template
	// name), filter (State, Location, Owner), sort ("name", "created",
	// "state", "owner", "template", "location") and page the selection.
	ListOptions
}

// SpaceList is a consistent snapshot of spaces with the records their
// descriptions show. Its values are shared with a cache: callers must not
// modify them.
type SpaceList struct {
	// Version names the snapshot: two lists of one service with the same
	// version hold the same records.
	Version string
	// Spaces are the selected spaces, ordered by id unless the filter's
	// Sort names another order, and paged as its Limit and Offset say.
	Spaces []*Space
	// Total is the number of spaces selected before paging.
	Total int
	// States counts the spaces in each state that the filter selects when
	// its State is left out (what each state filter would select).
	States map[SpaceState]int
	// Users and Templates hold every user and template by id.
	Users     map[string]*User
	Templates map[string]*Template
}

// NewSpace is what SpaceService.Create makes a space of.
type NewSpace struct {
	// UserID is the owner; "" means the actor.
	UserID     string
	TemplateID string
	Name       string
	// Description is free text of at most 4096 bytes.
	Description string
	// Location is where the space runs: "" means the server's own, "auto"
	// the location that runs the template's kind with the fewest running
	// spaces.
	Location string
	// Shell is one of bash, zsh, fish, sh; "" means the owner's preferred
	// shell, else bash.
	Shell string
}

// CreatedSpace is what SpaceService.Create made.
type CreatedSpace struct {
	Space *Space
	Owner *User
	// AgentToken is the secret of the space's agent token, shown once.
	AgentToken string
}

// SpaceUpdate holds the fields of a space an update sets; nil leaves a
// field as it is.
type SpaceUpdate struct {
	Name        *string
	Description *string
	Shell       *string
}

// SpaceLogEntry is one line of a space's log: a state change, a runtime
// error or progress such as an image pull.
type SpaceLogEntry struct {
	At    time.Time `json:"at"`
	Level string    `json:"level"` // "info" or "error"
	Text  string    `json:"text"`
}
