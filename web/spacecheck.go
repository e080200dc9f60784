package web

import (
	"errors"

	"github.com/knot-dev/knot/shared"
)

// checkOwnLocation checks this server's location, and on an origin tells
// the hub its home and how to check the spaces a restricted leaf reports
// (with the checks of POST /api/spaces, leaf.SpaceService.CheckReport): a
// standalone server or an origin serves a trusted location, which no leaf
// may claim; only a leaf may serve a restricted one (when it connects with
// its owner's API token).
func (s *Server) checkOwnLocation() error {
	if s.leaf != nil {
		return nil
	}
	if _, ok := shared.LocationOwner(s.location); ok {
		return errors.New("web: Options.Location " + quote(s.location) + " is a restricted location, which only a leaf on that user's API token serves")
	}
	if s.hub != nil {
		s.hub.SetHome(s.location, s.spaces.CheckReport)
	}
	return nil
}
