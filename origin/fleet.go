package origin

import (
	"container/list"
	"context"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// The bounds of the fleet registry. A connected node holds its location
// (one node per location), so connected nodes are bounded by the live
// links. A disconnected node is kept, for the fleet view, until it has
// been gone for Options.ForgetAfter, and at most maxGonePerLocation of a
// location and maxGoneNodes in all are kept: the longest gone are
// forgotten first. A leaf that reconnects again and again under fresh node
// ids therefore cannot grow the registry.
const (
	maxGonePerLocation = 4
	maxGoneNodes       = 10000
)

// fleetTable is the registry of leaf nodes, by node id. It is not safe for
// concurrent use: the hub guards it with its mutex.
type fleetTable struct {
	nodes map[string]*fleetNode
	gone  list.List             // of *fleetNode: the disconnected nodes, longest gone first
	byLoc map[string]*list.List // of *fleetNode: the same, by location
}

type fleetNode struct {
	info    shared.LeafNode
	goneAt  time.Time     // when it disconnected
	inGone  *list.Element // in fleetTable.gone while disconnected
	inByLoc *list.Element // in fleetTable.byLoc[info.Location] while disconnected
}

func newFleetTable() fleetTable {
	return fleetTable{nodes: map[string]*fleetNode{}, byLoc: map[string]*list.List{}}
}

// get returns the node's entry, nil if there is none.
func (t *fleetTable) get(node string) *shared.LeafNode {
	if n := t.nodes[node]; n != nil {
		return &n.info
	}
	return nil
}

// connect makes in the entry of its node, connected. The epoch changes
// the node's entry counted stay with it.
func (t *fleetTable) connect(in shared.LeafNode) {
	if old := t.nodes[in.NodeID]; old != nil {
		t.unlinkGone(old)
		in.EpochChanges, in.PreviousEpoch, in.EpochChangedAt = old.info.EpochChanges, old.info.PreviousEpoch, old.info.EpochChangedAt
	}
	t.nodes[in.NodeID] = &fleetNode{info: in}
}

// disconnect marks node disconnected at now if it is connected at
// location, and forgets the longest gone nodes over the bounds.
func (t *fleetTable) disconnect(node, location string, now time.Time) {
	n := t.nodes[node]
	if n == nil || n.info.Location != location || n.inGone != nil {
		return
	}
	n.info.Connected, n.info.LastSeen, n.goneAt = false, now, now
	n.inGone = t.gone.PushBack(n)
	l := t.byLoc[location]
	if l == nil {
		l = list.New()
		t.byLoc[location] = l
	}
	n.inByLoc = l.PushBack(n)
	for l.Len() > maxGonePerLocation {
		t.forget(l.Front().Value.(*fleetNode))
	}
	for t.gone.Len() > maxGoneNodes {
		t.forget(t.gone.Front().Value.(*fleetNode))
	}
}

// expire forgets the nodes gone at or before cutoff.
func (t *fleetTable) expire(cutoff time.Time) {
	for e := t.gone.Front(); e != nil; e = t.gone.Front() {
		n := e.Value.(*fleetNode)
		if n.goneAt.After(cutoff) {
			return
		}
		t.forget(n)
	}
}

func (t *fleetTable) forget(n *fleetNode) {
	t.unlinkGone(n)
	if t.nodes[n.info.NodeID] == n {
		delete(t.nodes, n.info.NodeID)
	}
}

// unlinkGone takes n out of the lists of disconnected nodes.
func (t *fleetTable) unlinkGone(n *fleetNode) {
	if n.inGone == nil {
		return
	}
	t.gone.Remove(n.inGone)
	if l := t.byLoc[n.info.Location]; l != nil {
		l.Remove(n.inByLoc)
		if l.Len() == 0 {
			delete(t.byLoc, n.info.Location)
		}
	}
	n.inGone, n.inByLoc = nil, nil
}

// FleetService is the origin's shared.FleetService over its hub; with a
// nil hub it is a standalone server's, which has no leaves, issues no leaf
// tokens and answers no leaf.
type FleetService struct {
	hub  *Hub
	opts FleetOptions
}

var _ shared.FleetService = (*FleetService)(nil)

// FleetOptions configures a FleetService.
type FleetOptions struct {
	// Usage counts what the spaces of userID for which keep is true use;
	// nil means counting over the hub's store.
	Usage func(ctx context.Context, userID string, keep func(*shared.Space) bool) (shared.Usage, error)
	// Location is the origin's own location, which Unseen leaves out.
	Location string
	// Spaces returns every space, for Unseen; nil means none.
	Spaces func(ctx context.Context) ([]*shared.Space, error)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Audit records the audit event of each write of a leaf token
	// (RecordAudit); nil records none.
	Audit func(ctx context.Context, ev *shared.AuditEvent)
}

// NewFleetService returns the fleet service of an origin with hub, or of a
// standalone server when hub is nil.
func NewFleetService(hub *Hub, opts FleetOptions) *FleetService {
	return &FleetService{hub: hub, opts: opts}
}

var (
	errNotOrigin  = shared.Errorf(shared.ECONFLICT, "this server is not an origin: leaves connect to a server with server.shared_token set")
	errNeedsAdmin = forbidden("this needs the Admin role")
)

// admin returns an error unless the actor of ctx holds the Admin role.
func admin(ctx context.Context) error {
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return err
	}
	if !a.Admin {
		return errNeedsAdmin
	}
	return nil
}

// atOrigin returns an error unless the actor of ctx may manage the fleet
// of this origin.
func (s *FleetService) atOrigin(ctx context.Context) error {
	if err := admin(ctx); err != nil {
		return err
	}
	if s.hub == nil {
		return errNotOrigin
	}
	return nil
}

// Leaves implements shared.FleetService.
func (s *FleetService) Leaves(ctx context.Context) ([]shared.LeafNode, error) {
	if err := admin(ctx); err != nil {
		return nil, err
	}
	if s.hub == nil {
		return nil, nil
	}
	return s.hub.Leaves(), nil
}

// Unseen implements shared.FleetService.
func (s *FleetService) Unseen(ctx context.Context, nodes []shared.LeafNode) ([]shared.UnseenLocation, error) {
	if err := admin(ctx); err != nil {
		return nil, err
	}
	out := []shared.UnseenLocation{}
	if s.hub == nil {
		return out, nil
	}
	seen := map[string]bool{s.opts.Location: true}
	for _, n := range nodes {
		seen[n.Location] = true
	}
	byLoc := map[string]*shared.UnseenLocation{}
	at := func(loc string) *shared.UnseenLocation {
		u := byLoc[loc]
		if u == nil {
			u = &shared.UnseenLocation{Location: loc}
			byLoc[loc] = u
		}
		return u
	}
	var spaces []*shared.Space
	if s.opts.Spaces != nil {
		var err error
		if spaces, err = s.opts.Spaces(ctx); err != nil {
			return nil, err
		}
	}
	for _, sp := range spaces {
		if !seen[sp.Location] && sp.Location != "" {
			at(sp.Location).Spaces++
		}
	}
	tokens, err := s.hub.LeafTokens(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if s.opts.Now != nil {
		now = s.opts.Now()
	}
	for _, t := range tokens {
		if !seen[t.Location] && !t.Expired(now) {
			at(t.Location).LeafTokens++
		}
	}
	for _, u := range byLoc {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b shared.UnseenLocation) int { return strings.Compare(a.Location, b.Location) })
	return out, nil
}

// LeafTokens implements shared.FleetService.
func (s *FleetService) LeafTokens(ctx context.Context) ([]*shared.LeafToken, error) {
	if err := s.atOrigin(ctx); err != nil {
		return nil, err
	}
	return s.hub.LeafTokens(ctx)
}

// CreateLeafToken implements shared.FleetService.
func (s *FleetService) CreateLeafToken(ctx context.Context, location, name string) (*shared.LeafToken, string, error) {
	if err := s.atOrigin(ctx); err != nil {
		return nil, "", err
	}
	if location == "" {
		return nil, "", invalid("location is required: the location of the leaf that will use the token")
	}
	if _, ok := shared.LocationOwner(location); ok {
		return nil, "", invalid("location %s is a restricted location, the one a leaf on that user's API token serves: a trusted leaf's location is a plain name", quote(location))
	}
	if !shared.ValidTrustedLocation(location) {
		return nil, "", invalid("location %s is invalid: it must start with a letter or digit and hold at most 64 letters, digits, dots, dashes or underscores", quote(location))
	}
	switch {
	case len(name) > 128:
		return nil, "", invalid("name is longer than 128 bytes")
	case !utf8.ValidString(name):
		return nil, "", invalid("name is not valid UTF-8")
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' }):
		return nil, "", invalid("name holds a control character")
	}
	secret, t, err := s.hub.CreateLeafToken(writeContext(ctx), location, name)
	if err != nil {
		return nil, "", err
	}
	s.record(ctx, "Leaf Token Create", "leaf token for location "+t.Location+" created", map[string]string{"leaf_token_id": t.ID})
	return t, secret, nil
}

// RotateLeafToken implements shared.FleetService.
func (s *FleetService) RotateLeafToken(ctx context.Context, id, overlap string) (*shared.LeafToken, string, error) {
	if err := s.atOrigin(ctx); err != nil {
		return nil, "", err
	}
	d, err := shared.LeafTokenOverlap(overlap)
	if err != nil {
		return nil, "", err
	}
	secret, t, err := s.hub.RotateLeafToken(writeContext(ctx), id, d)
	if isCode(err, shared.ENOTFOUND) {
		return nil, "", leafTokenNotFound(id)
	}
	if err != nil {
		return nil, "", err
	}
	s.record(ctx, "Leaf Token Rotate", "leaf token for location "+t.Location+" rotated with an overlap of "+d.String(),
		map[string]string{"leaf_token_id": t.ID, "old_leaf_token_id": id})
	return t, secret, nil
}

// DeleteLeafToken implements shared.FleetService.
func (s *FleetService) DeleteLeafToken(ctx context.Context, id string) error {
	if err := s.atOrigin(ctx); err != nil {
		return err
	}
	err := s.hub.RevokeLeafToken(writeContext(ctx), id)
	if isCode(err, shared.ENOTFOUND) {
		return leafTokenNotFound(id)
	}
	if err == nil {
		s.record(ctx, "Leaf Token Revoke", "leaf token revoked", map[string]string{"leaf_token_id": id})
	}
	return err
}

// record records the event of a write of a leaf token by the actor in ctx.
func (s *FleetService) record(ctx context.Context, event, details string, props map[string]string) {
	ServiceOptions{Audit: s.opts.Audit}.record(ctx, event, details, props)
}

func leafTokenNotFound(id string) error {
	return shared.Errorf(shared.ENOTFOUND, "leaf token %s not found", quote(id))
}

// Status implements shared.FleetService: an origin or a standalone server
// is no leaf.
func (s *FleetService) Status(ctx context.Context) (*shared.LeafStatus, error) {
	if _, err := shared.ActorRequired(ctx); err != nil {
		return nil, err
	}
	role := "origin"
	if s.hub == nil {
		role = "standalone"
	}
	return nil, shared.Errorf(shared.ENOTFOUND, "this server is not a leaf: it has no origin (it is %s)", role)
}

// RetryOrigin implements shared.FleetService: as Status, an origin or a
// standalone server has no origin to retry.
func (s *FleetService) RetryOrigin(ctx context.Context) (*shared.LeafStatus, error) {
	return s.Status(ctx)
}

// LeafUsage implements shared.FleetService.
func (s *FleetService) LeafUsage(ctx context.Context, credential, userID, location string) (shared.Usage, error) {
	if s.hub == nil {
		return shared.Usage{}, errNotOrigin
	}
	cred, err := s.hub.Authenticate(ctx, credential)
	if err != nil {
		return shared.Usage{}, err
	}
	if cred.Location != "" {
		location = cred.Location
	}
	switch {
	case userID == "":
		return shared.Usage{}, invalid("query parameter user_id is required")
	case location == "":
		return shared.Usage{}, invalid("query parameter location is required: the leaf's location")
	case cred.Restricted() && userID != cred.UserID:
		return shared.Usage{}, forbidden("a leaf connected with an API token may ask only about its owner")
	}
	elsewhere := func(sp *shared.Space) bool { return sp.Location != location }
	if s.opts.Usage != nil {
		return s.opts.Usage(ctx, userID, elsewhere)
	}
	spaces, err := storage.List[shared.Space](ctx, s.hub.store)
	if err != nil {
		return shared.Usage{}, err
	}
	templates, err := storage.List[shared.Template](ctx, s.hub.store)
	if err != nil {
		return shared.Usage{}, err
	}
	byID := make(map[string]*shared.Template, len(templates))
	for _, t := range templates {
		byID[t.ID] = t
	}
	return shared.CountUsage(spaces, byID, userID, elsewhere), nil
}
