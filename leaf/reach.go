package leaf

import "github.com/knot-dev/knot/shared"

// Reachability returns what says why this server cannot reach the
// location of a space now ("" when it can), for the space records it
// serves (api.Space.Reachable); nil when every location is reachable.
// This server's own location always is. On an origin, another location is
// reachable while a leaf of it is connected to the hub; on a leaf, while
// its origin is, which relays to the other locations. What it returns
// serves one response: it asks the fleet once per location.
func (s *SpaceService) Reachability() func(sp *shared.Space) string {
	switch {
	case s.opts.Fleet != nil:
		memo := map[string]string{}
		return func(sp *shared.Space) string {
			if !s.remote(sp) {
				return ""
			}
			why, ok := memo[sp.Location]
			if !ok {
				if !s.opts.Fleet.Linked(sp.Location) {
					why = "no leaf of location " + sp.Location + " is connected to this origin"
				}
				memo[sp.Location] = why
			}
			return why
		}
	case s.opts.Uplink != nil:
		if s.opts.Uplink.Status().Connected {
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
