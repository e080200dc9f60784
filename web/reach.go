package web

import (
	"context"
	"sort"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// reachability returns what says why this server cannot reach the
// location of a space now ("" when it can), for the space records it
// serves (api.Space.Reachable); nil when every location is reachable.
// This server's own location always is. On an origin, another location
// is reachable while a leaf of it is connected to the hub; on a leaf,
// while its origin is, which relays to the other locations. One call
// serves one response: it asks the hub once per location.
func (s *Server) reachability() func(sp *shared.Space) string {
	switch {
	case s.hub != nil:
		memo := map[string]string{}
		return func(sp *shared.Space) string {
			if !s.remote(sp) {
				return ""
			}
			why, ok := memo[sp.Location]
			if !ok {
				if !s.hub.Linked(sp.Location) {
					why = "no leaf of location " + sp.Location + " is connected to this origin"
				}
				memo[sp.Location] = why
			}
			return why
		}
	case s.leaf != nil:
		st := s.leaf.Uplink.Status()
		if st.Connected {
			return nil
		}
		why := "this leaf cannot reach its origin, which relays to location "
		return func(sp *shared.Space) string {
			if !s.remote(sp) {
				return ""
			}
			return why + sp.Location
		}
	}
	return nil
}

// unseenLocations returns, on an origin, the locations other than its own
// that its store knows by their spaces or unexpired leaf tokens and where
// none of nodes (the fleet registry, which is in memory) is: after a
// restart of the origin, the leaves that have not come back. Elsewhere it
// returns none.
func (s *Server) unseenLocations(ctx context.Context, nodes []shared.LeafNode) ([]api.UnseenLocation, error) {
	out := []api.UnseenLocation{}
	if s.hub == nil {
		return out, nil
	}
	seen := map[string]bool{s.location: true}
	for _, n := range nodes {
		seen[n.Location] = true
	}
	byLoc := map[string]*api.UnseenLocation{}
	at := func(loc string) *api.UnseenLocation {
		u := byLoc[loc]
		if u == nil {
			u = &api.UnseenLocation{Location: loc}
			byLoc[loc] = u
		}
		return u
	}
	l, err := s.spaces.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	for _, sp := range l.Spaces {
		if !seen[sp.Location] && sp.Location != "" {
			at(sp.Location).Spaces++
		}
	}
	tokens, err := s.fleet.LeafTokens(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for _, t := range tokens {
		if !seen[t.Location] && !t.Expired(now) {
			at(t.Location).LeafTokens++
		}
	}
	for _, u := range byLoc {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Location < out[j].Location })
	return out, nil
}
