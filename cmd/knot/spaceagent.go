package main

import (
	"cmp"

	"github.com/knot-dev/knot/shared/api"
)

// agentColumn is the AGENT column of knot space list: "-" when the server
// knows nothing of the space's agent (an origin shows the agents its leaves
// report, and a leaf those the origin passes on), "?" when what it knows
// is stale (it lost the link that brings news of that location), "no"
// when no agent is connected, with when one was last seen if the server
// knows, else the agent's version, marked when it differs from its
// server's.
func agentColumn(a *api.SpaceAgent) string {
	switch {
	case a == nil:
		return "-"
	case a.Stale && a.LastSeen != nil:
		return "? (last seen " + when(a.LastSeen) + ")"
	case a.Stale:
		return "?"
	case !a.Connected && a.LastSeen != nil:
		return "no (last seen " + when(a.LastSeen) + ")"
	case !a.Connected:
		return "no"
	case a.Outdated:
		return cmp.Or(a.Version, "connected") + " (outdated)"
	}
	return cmp.Or(a.Version, "connected")
}
