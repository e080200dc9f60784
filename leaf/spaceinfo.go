package leaf

import (
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
)

// SpaceInfo describes the space with id as GET /api/spaces/{space_id}
// answers: with its owner and template, the state of its agent when this
// server knows it (AgentOf), and, on an origin or a leaf, why its location
// cannot be reached now (SpaceService.Reachability). ENOTFOUND as
// SpaceService.Get.
func (a *Access) SpaceInfo(ctx context.Context, id string) (api.Space, error) {
	sp, err := a.opts.Spaces.Get(ctx, id)
	if err != nil {
		return api.Space{}, err
	}
	v, err := a.opts.Spaces.Snapshot(ctx)
	if err != nil {
		return api.Space{}, err
	}
	info := SpaceInfo(sp, v.Users[sp.UserID], v.Templates[sp.TemplateID])
	info.Agent = a.AgentOf(sp)
	if reach := a.opts.Spaces.Reachability(); reach != nil {
		info.UnreachableReason = reach(sp)
		info.Reachable = info.UnreachableReason == ""
	}
	return info, nil
}

// ListBody returns the space list response of v (SpaceView.Body), each
// space described as SpaceInfo does.
func (a *Access) ListBody(v *SpaceView) []byte {
	var agentOf func(*shared.Space) *api.SpaceAgent
	if a.opts.Agents != nil || a.opts.RemoteAgents != nil {
		agentOf = a.AgentOf
	}
	return v.Body(agentOf, a.opts.Spaces.Reachability())
}
