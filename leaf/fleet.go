package leaf

import (
	"cmp"
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
)

// FleetService is a leaf's shared.FleetService: the fleet's views and leaf
// tokens are the origin's, asked there for the caller (see services.go);
// the status is the leaf's own, from its uplink and replica.
type FleetService struct{ opts ServiceOptions }

var _ shared.FleetService = (*FleetService)(nil)

// NewFleetService returns the fleet service of a leaf. opts.Origin is
// required: it holds the uplink whose status Status reports.
func NewFleetService(opts ServiceOptions) *FleetService { return &FleetService{opts: opts} }

// Leaves implements shared.FleetService at the origin.
func (s *FleetService) Leaves(ctx context.Context) ([]shared.LeafNode, error) {
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) ([]api.Leaf, error) {
		return c.Leaves().List(ctx)
	})
	if err != nil {
		return nil, err
	}
	out := make([]shared.LeafNode, len(got))
	for i := range got {
		out[i] = got[i].LeafNode()
	}
	return out, nil
}

// LeafTokens implements shared.FleetService at the origin.
func (s *FleetService) LeafTokens(ctx context.Context) ([]*shared.LeafToken, error) {
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) ([]api.LeafToken, error) {
		return c.Leaves().Tokens(ctx)
	})
	if err != nil {
		return nil, err
	}
	out := make([]*shared.LeafToken, len(got))
	for i := range got {
		out[i] = got[i].LeafToken()
	}
	return out, nil
}

// CreateLeafToken implements shared.FleetService at the origin.
func (s *FleetService) CreateLeafToken(ctx context.Context, location, name string) (*shared.LeafToken, string, error) {
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.LeafTokenCreated, error) {
		return c.Leaves().CreateToken(ctx, api.LeafTokenRequest{Location: location, Name: name})
	})
	if err != nil {
		return nil, "", err
	}
	return got.LeafToken.LeafToken(), got.Token, nil
}

// RotateLeafToken implements shared.FleetService at the origin.
func (s *FleetService) RotateLeafToken(ctx context.Context, id, overlap string) (*shared.LeafToken, string, error) {
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.LeafTokenCreated, error) {
		return c.Leaves().RotateToken(ctx, id, api.LeafTokenRotateRequest{Overlap: overlap})
	})
	if err != nil {
		return nil, "", err
	}
	return got.LeafToken.LeafToken(), got.Token, nil
}

// DeleteLeafToken implements shared.FleetService at the origin.
func (s *FleetService) DeleteLeafToken(ctx context.Context, id string) error {
	_, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (struct{}, error) {
		return struct{}{}, c.Leaves().DeleteToken(ctx, id)
	})
	return err
}

// Unseen implements shared.FleetService: a leaf shows none.
func (s *FleetService) Unseen(ctx context.Context, nodes []shared.LeafNode) ([]shared.UnseenLocation, error) {
	return []shared.UnseenLocation{}, nil
}

// Status implements shared.FleetService: the uplink's ReplicaStatus.
func (s *FleetService) Status(ctx context.Context) (*shared.LeafStatus, error) {
	if _, err := shared.ActorRequired(ctx); err != nil {
		return nil, err
	}
	o := s.opts.Origin
	st := shared.LeafStatus{Location: o.opts.Location, OriginServer: o.opts.URL}
	if o.opts.Uplink != nil {
		st = o.opts.Uplink.ReplicaStatus(ctx)
	}
	st.Location = cmp.Or(st.Location, o.opts.Location)
	st.Head = max(st.Head, st.Applied)
	return &st, nil
}

// RetryOrigin implements shared.FleetService: the uplink dials now when
// its link is down.
func (s *FleetService) RetryOrigin(ctx context.Context) (*shared.LeafStatus, error) {
	if _, err := shared.ActorRequired(ctx); err != nil {
		return nil, err
	}
	if u := s.opts.Origin.opts.Uplink; u != nil {
		u.Retry()
	}
	return s.Status(ctx)
}

// ReplicaStatus returns Status, with the replica's epoch and applied
// revision read from the store while the uplink has not connected since it
// started.
func (u *Uplink) ReplicaStatus(ctx context.Context) shared.LeafStatus {
	st := u.Status()
	if st.Epoch == "" {
		if e, a, err := u.opts.Store.Replica(ctx); err == nil {
			st.Epoch, st.Applied = e, a
		}
	}
	return st
}

// LeafUsage implements shared.FleetService: a leaf answers no leaf.
func (s *FleetService) LeafUsage(context.Context, string, string, string) (shared.Usage, error) {
	return shared.Usage{}, shared.Errorf(shared.ECONFLICT, "this server is not an origin: leaves connect to a server with server.shared_token set")
}
