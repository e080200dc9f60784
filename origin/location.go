package origin

import (
	"context"
	"fmt"
	"strings"

	"github.com/knot-dev/knot/shared"
)

// This file holds the rules of locations: which link may serve which
// location, and what a restricted leaf may ask of the origin and be asked.

// SpaceCheck checks a space that a restricted leaf reports for its owner as
// POST /api/spaces checks a new space: its name, description, shell and
// state, the template (which owner must be allowed to use) and the owner's
// quota. old is the space as the origin holds it, nil for a new one. It
// returns the error that refuses the report.
type SpaceCheck = func(ctx context.Context, owner *shared.User, old, sp *shared.Space) error

// SetHome tells the hub the origin's own location, which no link and no
// leaf token may claim, and how to check the spaces restricted leaves
// report. leaf.NewLocal calls it once, before Run. Without a check, the
// hub refuses every space report of a restricted leaf.
func (h *Hub) SetHome(location string, check SpaceCheck) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.home, h.checkSpace = location, check
}

// homeLocation returns the origin's own location, "" when it has none.
func (h *Hub) homeLocation() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.home
}

// checkTrustedLocation returns EINVALID unless a trusted leaf (the shared
// token or a per-leaf token) may serve location: it must be a valid name,
// outside the namespace of restricted leaves, and not the origin's own.
func (h *Hub) checkTrustedLocation(location string) error {
	if err := checkLocation(location); err != nil {
		return err
	}
	if owner, ok := shared.LocationOwner(location); ok {
		return shared.Errorf(shared.EINVALID, "location %q is the restricted location of user %q, which only a leaf on that user's API token serves: a trusted leaf's location must not start with %q",
			location, owner, shared.RestrictedLocationPrefix)
	}
	if home := h.homeLocation(); home != "" && strings.EqualFold(location, home) {
		return shared.Errorf(shared.EINVALID, "location %q is this origin's own location, whose spaces the origin runs itself: give the leaf a location of its own", location)
	}
	return nil
}

// checkLinkLocation returns the reason a link with cred may not serve
// location, "" when it may.
func (h *Hub) checkLinkLocation(cred Credential, location string) string {
	if cred.Restricted() {
		// Authenticate made it the owner's restricted location.
		if _, ok := shared.LocationOwner(location); !ok {
			return "a leaf on an API token serves its owner's restricted location, not " + location
		}
		return ""
	}
	if err := h.checkTrustedLocation(location); err != nil {
		return shared.ErrorMessage(err)
	}
	return ""
}

// sameHolder reports whether a link with cred b may replace a link of the
// same node with cred a: both trusted, or both restricted to one owner. A
// restricted credential never replaces a trusted link, nor the reverse.
func sameHolder(a, b Credential) bool {
	if a.Restricted() || b.Restricted() {
		return a.Restricted() && b.Restricted() && a.UserID == b.UserID
	}
	return true
}

// mayRegister returns, under mu, why l may not become the link of its
// location, "" when it may: a live link of another node holds the location,
// or one of another holder (the same node id on a credential of another
// holder, restricted or trusted); or a live link of another holder, at
// another location, uses l's node id, whose registry entry l would take.
// The reason never names the other node.
func (h *Hub) mayRegister(l *link) string {
	if old := h.links[l.location]; old != nil && (old.node != l.node || !sameHolder(old.cred, l.cred)) {
		return fmt.Sprintf("location %q is already served by another leaf node", l.location)
	}
	if in := h.fleet.get(l.node); in != nil && in.Connected && in.Location != l.location {
		if other := h.links[in.Location]; other != nil && other.node == l.node && !sameHolder(other.cred, l.cred) {
			return fmt.Sprintf("node id %q is in use by a leaf of another location: give each leaf a node id of its own", l.node)
		}
	}
	return ""
}
