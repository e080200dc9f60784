package main

import (
	"cmp"

	"github.com/knot-dev/knot/shared/api"
)

// agentColumn is the AGENT column of knot space list: "-" when the server
// does not hold the space's agent link (another location), "no" when no
// agent is connected, else the agent's version, marked when it differs
// from the server's.
func agentColumn(a *api.SpaceAgent) string {
	switch {
	case a == nil:
		return "-"
	case !a.Connected:
		return "no"
	case a.Outdated:
		return cmp.Or(a.Version, "connected") + " (outdated)"
	}
	return cmp.Or(a.Version, "connected")
}
