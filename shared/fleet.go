package shared

import (
	"context"
	"strconv"
	"time"
)

// LeafNode is what the origin knows about one leaf node.
type LeafNode struct {
	NodeID     string
	Location   string
	Version    string
	Protocol   int
	Runtimes   []string
	Restricted bool
	// Credential is what the node's last link came with: "shared" (the
	// origin's shared token), "leaf_token" or "api_token"; LeafTokenID is
	// the id of the leaf token.
	Credential  string
	LeafTokenID string
	// Connected is true while the node has a live link.
	Connected      bool
	ConnectedSince time.Time
	// LastSeen is when the node last sent a frame or answered a ping.
	LastSeen time.Time
	// RTT is the round trip of the last answered ping.
	RTT time.Duration
	// Applied is the origin revision the leaf last acknowledged, and Lag
	// how far it is behind the origin's head. A leaf acks at most once per
	// ack interval (wire.AckInterval, longer in a large fleet), so both
	// may be that stale.
	Applied int64
	Lag     int64
	// EpochChanges counts the snapshots of a new epoch the origin sent the
	// node since it started: the node came with a replica of another
	// epoch, which the snapshot replaced. PreviousEpoch is that replica's
	// epoch the last time, EpochChangedAt when it was.
	EpochChanges   int
	PreviousEpoch  string
	EpochChangedAt time.Time
}

// LeafStatus is a leaf's view of its origin.
type LeafStatus struct {
	// Location is the leaf's location, OriginServer the origin's URL as
	// configured.
	Location     string
	OriginServer string
	// Connected is true while the link to the origin is up; Reason says
	// why it is not, in words, and ReasonDetail, when there is one, the
	// error as the network or TLS gave it, for an operator; Since is when
	// it came up or went down, NextAttempt when the next dial happens.
	Connected    bool
	Reason       string
	ReasonDetail string
	Since        time.Time
	NextAttempt  time.Time
	// Protocol and Restricted are those of the origin's last welcome.
	Protocol   int
	Restricted bool
	// Epoch and Applied are the replica's state, Head the origin's
	// revision as last heard (never below Applied), Lag how far Applied is
	// behind it.
	Epoch   string
	Applied int64
	Head    int64
	Lag     int64
	// PendingReports counts space changes the origin has not acknowledged.
	PendingReports int
	// PreviousEpoch is the epoch of the replica that the origin's last
	// snapshot of a new epoch replaced, EpochChangedAt when, and
	// ReplicaBackup the file that keeps a copy of it.
	PreviousEpoch  string
	EpochChangedAt time.Time
	ReplicaBackup  string
}

// Usage is what some of a user's spaces use, for quotas.
type Usage struct {
	NumberSpaces         int
	NumberSpacesDeployed int
	UsedComputeUnits     int
	UsedStorageUnits     int
}

// Plus returns u with what o uses added.
func (u Usage) Plus(o Usage) Usage {
	return Usage{NumberSpaces: u.NumberSpaces + o.NumberSpaces, NumberSpacesDeployed: u.NumberSpacesDeployed + o.NumberSpacesDeployed,
		UsedComputeUnits: u.UsedComputeUnits + o.UsedComputeUnits, UsedStorageUnits: u.UsedStorageUnits + o.UsedStorageUnits}
}

// CountUsage counts the spaces of userID among spaces for which keep is
// true: each uses the storage units of its template (in templates, by id),
// and a deployed one its compute units too.
func CountUsage(spaces []*Space, templates map[string]*Template, userID string, keep func(*Space) bool) Usage {
	var u Usage
	for _, sp := range spaces {
		if sp.UserID != userID || !keep(sp) {
			continue
		}
		u.NumberSpaces++
		t := templates[sp.TemplateID]
		if t != nil {
			u.UsedStorageUnits += t.StorageUnits
		}
		if sp.Deployed() {
			u.NumberSpacesDeployed++
			if t != nil {
				u.UsedComputeUnits += t.ComputeUnits
			}
		}
	}
	return u
}

// MaxLeafTokenOverlap bounds the overlap of a leaf token's rotation.
const MaxLeafTokenOverlap = 90 * 24 * time.Hour

// LeafTokenOverlap returns the overlap s of a leaf token's rotation: a Go
// duration from 0s to MaxLeafTokenOverlap, "" meaning 24 hours. EINVALID
// for anything else.
func LeafTokenOverlap(s string) (time.Duration, error) {
	if s == "" {
		return 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > MaxLeafTokenOverlap {
		if len(s) > 80 {
			s = s[:80]
		}
		return 0, Errorf(EINVALID, "overlap %s must be a duration from 0s to %s, such as 24h or 30m", strconv.Quote(s), MaxLeafTokenOverlap)
	}
	return d, nil
}

// UnseenLocation is a location an origin knows by what its store holds,
// and where no leaf node is connected or was recently.
type UnseenLocation struct {
	Location string
	// Spaces and LeafTokens count its spaces and unexpired leaf tokens.
	Spaces, LeafTokens int
}

// FleetService is the fleet of leaves: the origin's view of its leaf nodes
// and the tokens it issues them, a leaf's view of its origin, and what a
// leaf asks the origin. The methods but LeafUsage act for the actor in ctx
// (ActorFrom) and fail with EUNAUTHORIZED when there is none. An origin
// implements it over its hub; a leaf forwards the origin's part to the
// origin, acting as the caller there, and answers its own status.
type FleetService interface {
	// Leaves returns every leaf node connected to the origin, or
	// disconnected for less than server.leaf_forget_after, ordered by
	// location and node id; a standalone server has none. EFORBIDDEN
	// without the Admin role; EUNAVAILABLE on a leaf while the origin
	// cannot be reached.
	Leaves(ctx context.Context) ([]LeafNode, error)

	// Unseen returns, on an origin, the locations other than its own that
	// its store knows by their spaces or unexpired leaf tokens and where
	// none of nodes (the leaves Leaves returned, which the origin keeps in
	// memory) is: after a restart of the origin, the leaves that have not
	// come back; ordered by location. Elsewhere it returns none.
	// EFORBIDDEN without the Admin role.
	Unseen(ctx context.Context, nodes []LeafNode) ([]UnseenLocation, error)

	// LeafTokens returns the leaf tokens, expired ones included, by
	// location. EFORBIDDEN without the Admin role; ECONFLICT on a server
	// that is not an origin; EUNAVAILABLE on a leaf while the origin cannot
	// be reached.
	LeafTokens(ctx context.Context) ([]*LeafToken, error)

	// CreateLeafToken issues a token for the leaf of location, named name,
	// and returns it with its secret, which is shown this once. EFORBIDDEN
	// and ECONFLICT as LeafTokens; EINVALID when location is missing,
	// invalid, restricted or the origin's own, or name is over 128 bytes or
	// holds control characters; EUNAVAILABLE as LeafTokens.
	CreateLeafToken(ctx context.Context, location, name string) (*LeafToken, string, error)

	// RotateLeafToken issues a new token for the location of the token id,
	// whose old one keeps working for overlap (see LeafTokenOverlap), and
	// returns the new one with its secret. EFORBIDDEN and ECONFLICT as
	// LeafTokens; EINVALID for a bad overlap; ENOTFOUND when there is no token id; EUNAVAILABLE as
	// LeafTokens.
	RotateLeafToken(ctx context.Context, id, overlap string) (*LeafToken, string, error)

	// DeleteLeafToken deletes the token id; the leaves using it are
	// disconnected. EFORBIDDEN, ECONFLICT and EUNAVAILABLE as LeafTokens;
	// ENOTFOUND when there is no token id.
	DeleteLeafToken(ctx context.Context, id string) error

	// Status returns a leaf's view of its origin. Any actor may ask it.
	// ENOTFOUND on a server that is not a leaf.
	Status(ctx context.Context) (*LeafStatus, error)

	// RetryOrigin has a leaf whose link is down dial its origin now (at
	// most once a second) rather than at the end of its back-off, and
	// returns its view of the origin. Any actor may ask it. ENOTFOUND on
	// a server that is not a leaf.
	RetryOrigin(ctx context.Context) (*LeafStatus, error)

	// LeafUsage answers a leaf that presents credential (the shared
	// token, a leaf token or an API token): what the spaces of userID at
	// every location other than location use. A leaf token or an API
	// token binds the location, which then overrides location.
	// ECONFLICT on a server that is not an origin; EUNAUTHORIZED when the
	// credential is refused; EINVALID when userID or location is missing;
	// EFORBIDDEN when a leaf on an API token asks about another user than
	// the token's owner.
	LeafUsage(ctx context.Context, credential, userID, location string) (Usage, error)
}

// Credential is what the caller of a request presented to authenticate,
// so that a leaf can present it again when it acts for them at the origin
// (see package leaf). The web layer puts it into the context of every
// authenticated request.
type Credential struct {
	// Token is the secret of the API token the caller sent, "" when they
	// used a session.
	Token string
	// SessionID is the id of the session at this server the caller used,
	// "" when they used an API token.
	SessionID string
	// ForwardedFor is the chain of client addresses of the request, the
	// caller's last, as X-Forwarded-For carries it.
	ForwardedFor string
	// UserAgent is the caller's user agent.
	UserAgent string
	// Answered, when set, is called once the origin has answered a call
	// made there for the caller, with success or a refusal; the web layer
	// marks its response as the origin's with it.
	Answered func()
}

// credentialKey is the context key of a Credential.
type credentialKey struct{}

// NewContextWithCredential returns a copy of ctx that carries c.
func NewContextWithCredential(ctx context.Context, c Credential) context.Context {
	return context.WithValue(ctx, credentialKey{}, c)
}

// CredentialFrom returns the credential in ctx and whether there is one.
func CredentialFrom(ctx context.Context) (Credential, bool) {
	c, ok := ctx.Value(credentialKey{}).(Credential)
	return c, ok
}
