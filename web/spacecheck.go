package web

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/knot-dev/knot/shared"
)

// The checks of a space a user is given, made by POST /api/spaces and, on
// an origin, for every space a restricted leaf reports (the hub's
// SpaceCheck): the leaf of a user's API token is trusted no more than that
// user at the API.

// checkSpaceFields checks the fields of sp a user chooses: its name,
// description and shell, and its state.
func checkSpaceFields(sp *shared.Space) error {
	if err := checkName("name", sp.Name); err != nil {
		return err
	}
	if err := checkText("description", sp.Description, 4096); err != nil {
		return err
	}
	if !shared.ValidShell(sp.Shell) {
		return invalid("shell %s is not one of bash, zsh, fish, sh", quote(sp.Shell))
	}
	if !sp.State.Valid() {
		return invalid("state %s is not a state of a space", quote(string(sp.State)))
	}
	return nil
}

// spaceTemplate returns the template id of a space of owner: EINVALID when
// there is no such template, EFORBIDDEN when owner may not use it.
func (s *Server) spaceTemplate(ctx context.Context, owner *shared.User, id string) (*shared.Template, error) {
	t, err := s.getTemplate(ctx, id)
	if isCode(err, shared.ENOTFOUND) {
		return nil, invalid("template_id: template %s does not exist", quote(id))
	}
	if err != nil {
		return nil, err
	}
	if !t.UsableBy(owner.Groups) {
		return nil, forbidden("template %s is not available to the groups of user %s", quote(t.Name), quote(owner.Username))
	}
	return t, nil
}

// checkSpacePlace checks that sp, a space of owner (old is its stored copy,
// nil for a new space), may be where it is: a restricted location holds
// only its owner's spaces; a new space, or one that changed its template or
// location, needs a template owner may use that runs at the location. The
// space quota of a new space is checked where it is written (quota.go), or
// by checkSpaceQuota where another server writes it.
func (s *Server) checkSpacePlace(ctx context.Context, owner *shared.User, old, sp *shared.Space) error {
	if name, ok := shared.LocationOwner(sp.Location); ok && !strings.EqualFold(name, owner.Username) {
		return forbidden("location %s is the restricted leaf of user %s, which runs only that user's spaces: choose another location for a space of %s",
			quote(sp.Location), quote(name), quote(owner.Username))
	}
	if old == nil || old.TemplateID != sp.TemplateID || !strings.EqualFold(old.Location, sp.Location) {
		t, err := s.spaceTemplate(ctx, owner, sp.TemplateID)
		if err != nil {
			return err
		}
		if len(t.Locations) > 0 && !slices.Contains(t.Locations, sp.Location) {
			return invalid("location: template %s cannot run in location %s (it runs in %s)", quote(t.Name), quote(sp.Location), strings.Join(t.Locations, ", "))
		}
	}
	return nil
}

// checkSpaceQuota fails with EQUOTA when owner may have no further space,
// for a new space that another server writes: a leaf of another location,
// or the hub for a space that a restricted leaf reports.
func (s *Server) checkSpaceQuota(ctx context.Context, owner *shared.User) error {
	q, err := s.quota(ctx, owner)
	if err != nil {
		return err
	}
	if q.MaxSpaces > 0 && q.NumberSpaces >= q.MaxSpaces {
		return spaceQuotaExceeded(owner, q.MaxSpaces)
	}
	return nil
}

// checkReportedSpace is the origin hub's SpaceCheck: a space a restricted
// leaf reports for owner passes the checks of POST /api/spaces.
func (s *Server) checkReportedSpace(ctx context.Context, owner *shared.User, old, sp *shared.Space) error {
	if !owner.Active {
		return invalid("user %s is not active", quote(owner.Username))
	}
	if err := checkSpaceFields(sp); err != nil {
		return err
	}
	// No lock of the owner's creations: the hub checks reports in the
	// link's reader, which a creation at that leaf waits for.
	if err := s.checkSpacePlace(ctx, owner, old, sp); err != nil || old != nil {
		return err
	}
	return s.checkSpaceQuota(ctx, owner)
}

// checkOwnLocation checks this server's location, and on an origin tells
// the hub its home: a standalone server or an origin serves a trusted
// location, which no leaf may claim; only a leaf may serve a restricted one
// (when it connects with its owner's API token).
func (s *Server) checkOwnLocation() error {
	if s.leaf != nil {
		return nil
	}
	if _, ok := shared.LocationOwner(s.location); ok {
		return errors.New("web: Options.Location " + quote(s.location) + " is a restricted location, which only a leaf on that user's API token serves")
	}
	if s.hub != nil {
		s.hub.SetHome(s.location, s.checkReportedSpace)
	}
	return nil
}
