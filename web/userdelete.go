package web

import (
	"context"

	"github.com/knot-dev/knot/shared"
)

// deleteUserSpace is the origin user service's SpaceDeleter: it deletes a
// space of a user being deleted through the space service, which frees
// what the space holds in its runtime or has its leaf do so. A space
// already gone is no error.
func (s *Server) deleteUserSpace(ctx context.Context, sp *shared.Space) error {
	if err := s.spaces.Purge(ctx, sp); err != nil && !isCode(err, shared.ENOTFOUND) {
		return err
	}
	return nil
}
