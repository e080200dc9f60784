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

// ListSpaces returns the space list response of the page of the space
// service's List that f names, each space described as SpaceInfo does
// (listBody). The page is encoded once per store change and view: query
// is the request's, which names the page and the options of its view.
func (a *Access) ListSpaces(ctx context.Context, f shared.SpaceFilter, query string) ([]byte, error) {
	l, err := a.opts.Spaces.List(ctx, f)
	if err != nil {
		return nil, err
	}
	key := "*"
	if !f.All {
		key = "user:" + f.UserID
		if f.UserID == "" {
			key += shared.ActorFrom(ctx).User.ID
		}
	}
	v, err := a.lists.View(l, key+"?"+query)
	if err != nil {
		return nil, err
	}
	return a.listBody(v), nil
}

// listBody returns the space list response of v (SpaceView.Body), each
// space described as SpaceInfo does.
func (a *Access) listBody(v *SpaceView) []byte {
	var agentOf func(*shared.Space) *api.SpaceAgent
	if a.opts.Agents != nil || a.opts.RemoteAgents != nil {
		agentOf = a.AgentOf
	}
	return v.Body(agentOf, a.opts.Spaces.Reachability())
}
