package web

import (
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/wire"
)

// deleteUserSpace is the origin user service's SpaceDeleter: it deletes a
// space of a user being deleted through the space controller of its
// location, which frees what the space holds in its runtime.
func (s *Server) deleteUserSpace(ctx context.Context, sp *shared.Space) error {
	return s.act(ctx, sp, wire.ActionDelete)
}
