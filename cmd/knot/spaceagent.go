package main

import (
	"cmp"

	"github.com/knot-dev/knot/shared/api"
)

// agentColumn is the AGENT column of knot space list: "-" when the server
// knows nothing of the space's agent (a space of another location on a
// leaf; an origin shows the agents its leaves report), "no" when no agent
// is connected, with when one was last seen if the server knows, else the
// agent's version, marked when it differs from its server's.
func agentColumn(a *api.SpaceAgent) string {
	switch {
	case a == nil:
		return "-"
	case !a.Connected && a.LastSeen != nil:
		return "no (last seen " + when(a.LastSeen) + ")"
	case !a.Connected:
		return "no"
	case a.Outdated:
		return cmp.Or(a.Version, "connected") + " (outdated)"
	}
	return cmp.Or(a.Version, "connected")
}
