package api

import (
	"math"
	"time"

	"github.com/knot-dev/knot/shared"
)

// Leaf is a leaf node as GET /api/leaves shows it on the origin.
type Leaf struct {
	NodeID     string   `json:"node_id"`
	Location   string   `json:"location"`
	Version    string   `json:"version"`
	Protocol   int      `json:"protocol"`
	Runtimes   []string `json:"runtimes"`
	Restricted bool     `json:"restricted"`
	// Credential is what the node's last link came with: "shared" (the
	// origin's server.shared_token), "leaf_token" (then LeafTokenID names
	// it) or "api_token".
	Credential      string     `json:"credential,omitempty"`
	LeafTokenID     string     `json:"leaf_token_id,omitempty"`
	Connected       bool       `json:"connected"`
	ConnectedSince  *time.Time `json:"connected_since,omitempty"`
	LastSeen        *time.Time `json:"last_seen,omitempty"`
	RoundTripMillis float64    `json:"round_trip_ms"`
	AppliedRevision int64      `json:"applied_revision"`
	Lag             int64      `json:"lag"`
	// EpochChanges counts the snapshots of a new epoch the origin sent the
	// node since it started, each replacing a replica of another epoch;
	// PreviousEpoch and EpochChangedAt are those of the last.
	EpochChanges   int        `json:"epoch_changes"`
	PreviousEpoch  string     `json:"previous_epoch,omitempty"`
	EpochChangedAt *time.Time `json:"epoch_changed_at,omitempty"`
}

// LeafList is the answer of GET /api/leaves.
type LeafList struct {
	Count  int    `json:"count"`
	Leaves []Leaf `json:"leaves"`
	// Unseen are the locations that the origin's store knows, by their
	// spaces or leaf tokens, and where no leaf node has connected since the
	// origin started (the registry of nodes is in memory): after a
	// restart, the leaves that did not come back.
	Unseen []UnseenLocation `json:"unseen_locations"`
}

// UnseenLocation is a location of LeafList.Unseen, with how many spaces
// and unexpired leaf tokens the origin holds of it.
type UnseenLocation struct {
	Location   string `json:"location"`
	Spaces     int    `json:"spaces"`
	LeafTokens int    `json:"leaf_tokens"`
}

// LeafToken is a leaf token as the API shows it: never its secret.
type LeafToken struct {
	ID        string     `json:"leaf_token_id"`
	Location  string     `json:"location"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Expired   bool       `json:"expired"`
}

// LeafTokenList is the answer of GET /api/leaf-tokens.
type LeafTokenList struct {
	Count  int         `json:"count"`
	Tokens []LeafToken `json:"leaf_tokens"`
}

// LeafTokenCreated answers the creation or rotation of a leaf token: the
// secret is shown this once.
type LeafTokenCreated struct {
	Status bool `json:"status"`
	LeafToken
	Token string `json:"token"`
}

// LeafTokenRequest is the body of POST /api/leaf-tokens.
type LeafTokenRequest struct {
	Location string `json:"location"`
	Name     string `json:"name"`
}

// LeafTokenRotateRequest is the body of POST
// /api/leaf-tokens/{leaf_token_id}/rotate.
type LeafTokenRotateRequest struct {
	// Overlap is how long the old token keeps working, as a Go duration
	// ("24h", "90m", "0s"); "" means 24 hours.
	Overlap string `json:"overlap"`
}

// LeafUsage is the answer of GET /api/leaf/usage: what a user's spaces at
// every location other than the asking leaf's use.
type LeafUsage struct {
	NumberSpaces         int `json:"number_spaces"`
	NumberSpacesDeployed int `json:"number_spaces_deployed"`
	UsedComputeUnits     int `json:"used_compute_units"`
	UsedStorageUnits     int `json:"used_storage_units"`
}

// LeafStatus is a leaf's view of its origin, as GET /api/leaf/status shows
// it.
type LeafStatus struct {
	Location        string     `json:"location"`
	OriginServer    string     `json:"origin_server"`
	OriginReachable bool       `json:"origin_reachable"`
	Reason          string     `json:"reason,omitempty"`
	ReasonDetail    string     `json:"reason_detail,omitempty"`
	Since           *time.Time `json:"since,omitempty"`
	NextAttempt     *time.Time `json:"next_attempt,omitempty"`
	Protocol        int        `json:"protocol"`
	Restricted      bool       `json:"restricted"`
	Epoch           string     `json:"epoch"`
	AppliedRevision int64      `json:"applied_revision"`
	HeadRevision    int64      `json:"head_revision"`
	Lag             int64      `json:"lag"`
	PendingReports  int        `json:"pending_reports"`
	// PreviousEpoch is the epoch of the replica that the origin's last
	// snapshot of a new epoch replaced, EpochChangedAt when, and
	// ReplicaBackup the file that keeps a copy of it.
	PreviousEpoch  string     `json:"previous_epoch,omitempty"`
	EpochChangedAt *time.Time `json:"epoch_changed_at,omitempty"`
	ReplicaBackup  string     `json:"replica_backup,omitempty"`
}

// NewLeafList returns the answer of GET /api/leaves for nodes and the
// locations unseen.
func NewLeafList(nodes []shared.LeafNode, unseen []shared.UnseenLocation) LeafList {
	return LeafList{Count: len(nodes), Leaves: mapped(nodes, func(in shared.LeafNode) Leaf {
		return Leaf{NodeID: in.NodeID, Location: in.Location, Version: in.Version, Protocol: in.Protocol,
			Runtimes: nonNil(in.Runtimes), Restricted: in.Restricted, Credential: in.Credential, LeafTokenID: in.LeafTokenID,
			Connected:      in.Connected,
			ConnectedSince: timePtr(in.ConnectedSince), LastSeen: timePtr(in.LastSeen),
			RoundTripMillis: float64(in.RTT.Microseconds()) / 1000, AppliedRevision: in.Applied, Lag: in.Lag,
			EpochChanges: in.EpochChanges, PreviousEpoch: in.PreviousEpoch, EpochChangedAt: timePtr(in.EpochChangedAt)}
	}), Unseen: mapped(unseen, func(u shared.UnseenLocation) UnseenLocation { return UnseenLocation(u) })}
}

// LeafNode returns the node l shows, as NewLeafList's reverse (the round
// trip to the microsecond).
func (l *Leaf) LeafNode() shared.LeafNode {
	return shared.LeafNode{NodeID: l.NodeID, Location: l.Location, Version: l.Version, Protocol: l.Protocol,
		Runtimes: l.Runtimes, Restricted: l.Restricted, Credential: l.Credential, LeafTokenID: l.LeafTokenID, Connected: l.Connected, ConnectedSince: shared.Deref(l.ConnectedSince),
		LastSeen: shared.Deref(l.LastSeen), RTT: time.Duration(math.Round(l.RoundTripMillis*1000)) * time.Microsecond,
		Applied: l.AppliedRevision, Lag: l.Lag, EpochChanges: l.EpochChanges, PreviousEpoch: l.PreviousEpoch,
		EpochChangedAt: shared.Deref(l.EpochChangedAt)}
}

// NewLeafToken returns the leaf token t as the API shows it at now.
func NewLeafToken(t *shared.LeafToken, now time.Time) LeafToken {
	return LeafToken{ID: t.ID, Location: t.Location, Name: t.Name, CreatedAt: t.CreatedAt,
		ExpiresAt: timePtr(t.ExpiresAt), Expired: t.Expired(now)}
}

// NewLeafTokenList returns the answer of GET /api/leaf-tokens at now.
func NewLeafTokenList(all []*shared.LeafToken, now time.Time) LeafTokenList {
	return LeafTokenList{Count: len(all), Tokens: mapped(all, func(t *shared.LeafToken) LeafToken { return NewLeafToken(t, now) })}
}

// LeafToken returns the record t shows, as NewLeafToken's reverse.
func (t *LeafToken) LeafToken() *shared.LeafToken {
	return &shared.LeafToken{Meta: shared.Meta{ID: t.ID, CreatedAt: t.CreatedAt}, Location: t.Location, Name: t.Name,
		ExpiresAt: shared.Deref(t.ExpiresAt)}
}

// NewLeafStatus returns the answer of GET /api/leaf/status for st.
func NewLeafStatus(st *shared.LeafStatus) LeafStatus {
	return LeafStatus{Location: st.Location, OriginServer: st.OriginServer, OriginReachable: st.Connected, Reason: st.Reason,
		ReasonDetail: st.ReasonDetail, Since: timePtr(st.Since), NextAttempt: timePtr(st.NextAttempt), Protocol: st.Protocol, Restricted: st.Restricted,
		Epoch: st.Epoch, AppliedRevision: st.Applied, HeadRevision: st.Head, Lag: st.Lag, PendingReports: st.PendingReports,
		PreviousEpoch: st.PreviousEpoch, EpochChangedAt: timePtr(st.EpochChangedAt), ReplicaBackup: st.ReplicaBackup}
}

// timePtr returns nil for the zero time, which the API leaves out.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
